-- PostgreSQL: the triggers of db/migrations/0008_membership.sql (members who left a server), port-progress.
-- `members.visible` means "shown in this server": the member's own choice (`visible_choice`, /data privacy) while
-- they are a member (`left_at` NULL). Writers set the choice or `left_at`; these triggers derive `visible`.
--
-- SQLite's AFTER trigger that UPDATEs its own row becomes a BEFORE trigger assigning NEW.visible (no second
-- UPDATE, no recursion; it also derives `visible` for an INSERT, e.g. rows copied from another database).
-- PostgreSQL does not fire an `UPDATE OF visible` column trigger for a value a BEFORE trigger changed, so the
-- triggers that follow `visible` (10_community.sql: period_counts' copy, the rank_counts histogram) have no
-- column list and compare OLD and NEW in their WHEN: keep it so.

CREATE FUNCTION members_visible_from_choice_and_membership() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.visible := CASE WHEN NEW.visible_choice = 1 AND NEW.left_at IS NULL THEN 1 ELSE 0 END;
    RETURN NEW;
END $$;

CREATE TRIGGER members_visible_from_choice_and_membership
BEFORE INSERT OR UPDATE OF visible_choice, left_at ON members
FOR EACH ROW EXECUTE FUNCTION members_visible_from_choice_and_membership();

-- A reminder paused because the member left (by whichever writer: a DM button's lookup, the tick's weekly
-- check, the member-remove event) takes the member off the boards too; they come back when they return.
CREATE FUNCTION reminders_left_server_marks_member_away() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE members SET left_at = COALESCE(NEW.paused_at, NEW.updated_at)
     WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id AND left_at IS NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER reminders_left_server_marks_member_away
AFTER UPDATE OF paused_reason ON reminders
FOR EACH ROW
WHEN (NEW.paused_reason = 'left_server' AND OLD.paused_reason IS DISTINCT FROM 'left_server')
EXECUTE FUNCTION reminders_left_server_marks_member_away();

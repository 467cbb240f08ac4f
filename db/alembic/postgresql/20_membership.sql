-- PostgreSQL: the triggers of db/migrations/0008_membership.sql (members who left a server), port-progress.
-- `members.visible` means "shown in this server": the member's own choice (`visible_choice`, /data privacy) while
-- they are a member (`left_at` NULL). Writers set the choice or `left_at`; these triggers derive `visible`.
--
-- Written, like SQLite's, as an AFTER trigger that UPDATEs `visible` (not a BEFORE trigger assigning
-- NEW.visible): PostgreSQL fires a column trigger (`AFTER UPDATE OF visible`, as the 0002 copies into
-- period_counts and the rank_counts histogram are written) only when the column is in the UPDATE's SET list;
-- a value changed by a BEFORE trigger would not fire them. The inner UPDATE sets only `visible`, so this
-- trigger (OF visible_choice, left_at) does not fire again.

CREATE OR REPLACE FUNCTION members_visible_from_choice_and_membership() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE members SET visible = CASE WHEN NEW.visible_choice = 1 AND NEW.left_at IS NULL THEN 1 ELSE 0 END
     WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id
       AND visible IS DISTINCT FROM CASE WHEN NEW.visible_choice = 1 AND NEW.left_at IS NULL THEN 1 ELSE 0 END;
    RETURN NULL;
END $$
;
CREATE TRIGGER members_visible_from_choice_and_membership
AFTER UPDATE OF visible_choice, left_at ON members
FOR EACH ROW EXECUTE FUNCTION members_visible_from_choice_and_membership()
;
-- A reminder paused because the member left (by whichever writer: a DM button's lookup, the tick's weekly
-- check, the member-remove event) takes the member off the boards too; they come back when they return.
CREATE OR REPLACE FUNCTION reminders_left_server_marks_member_away() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE members SET left_at = COALESCE(NEW.paused_at, NEW.updated_at)
     WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id AND left_at IS NULL;
    RETURN NULL;
END $$
;
CREATE TRIGGER reminders_left_server_marks_member_away
AFTER UPDATE OF paused_reason ON reminders
FOR EACH ROW
WHEN (NEW.paused_reason = 'left_server' AND OLD.paused_reason IS DISTINCT FROM 'left_server')
EXECUTE FUNCTION reminders_left_server_marks_member_away()
;

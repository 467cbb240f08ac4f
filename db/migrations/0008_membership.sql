-- Members who left a server (issue 8, section 8): their data is kept, but while away they are off the server's
-- leaderboards, buddies and cohort counts, exactly as hidden members are, through the one existing mechanism:
-- `members.visible` (with its copy in period_counts, the rank_counts histogram and the partial ranking indexes,
-- all kept by the triggers of 0002). `visible` now means "shown in this server": the member's own choice
-- (`visible_choice`, set by /data privacy) while they are a member (`left_at` NULL). Writers set the choice or
-- `left_at`; the trigger below derives `visible`, so every ranking query and index stays as it was.

ALTER TABLE members ADD COLUMN visible_choice INTEGER NOT NULL DEFAULT 1;  -- /data privacy: 1 shown, 0 hidden

ALTER TABLE members ADD COLUMN left_at TEXT;  -- when the bot found the member gone (UTC); NULL: a member

UPDATE members SET visible_choice = visible;

CREATE TRIGGER members_visible_from_choice_and_membership AFTER UPDATE OF visible_choice, left_at ON members
BEGIN
    UPDATE members SET visible = (NEW.visible_choice = 1 AND NEW.left_at IS NULL)
     WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id
       AND visible IS NOT (NEW.visible_choice = 1 AND NEW.left_at IS NULL);
END;

-- A reminder paused because the member left (by whichever writer: a DM button's lookup, the tick's weekly
-- check, the member-remove event) takes the member off the boards too; they come back when they return.
CREATE TRIGGER reminders_left_server_marks_member_away AFTER UPDATE OF paused_reason ON reminders
WHEN NEW.paused_reason = 'left_server' AND OLD.paused_reason IS NOT 'left_server'
BEGIN
    UPDATE members SET left_at = COALESCE(NEW.paused_at, NEW.updated_at)
     WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id AND left_at IS NULL;
END;

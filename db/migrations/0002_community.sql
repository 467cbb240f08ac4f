-- Community: leaderboards by period without hidden members, study buddies, scheduled posts, milestones, cohorts.

-- The step each member is on, kept by db.progress.refresh_summary: the lowest step in progress, else the first
-- step neither done nor skipped (plan numbers run 1..N, so a value above N means the member has finished).
ALTER TABLE members ADD COLUMN current_step INTEGER NOT NULL DEFAULT 1;

UPDATE members SET current_step = COALESCE(
    (SELECT MIN(p.step) FROM progress p
      WHERE p.guild_id = members.guild_id AND p.user_id = members.user_id AND p.status = 'in_progress'),
    (SELECT MIN(c.n) FROM (
        SELECT 1 AS n
        UNION ALL
        SELECT p.step + 1 FROM progress p
         WHERE p.guild_id = members.guild_id AND p.user_id = members.user_id AND p.status IN ('done', 'skipped')
     ) c
      WHERE c.n NOT IN (SELECT p.step FROM progress p
                         WHERE p.guild_id = members.guild_id AND p.user_id = members.user_id
                           AND p.status IN ('done', 'skipped')))
);

CREATE INDEX members_by_step ON members (guild_id, current_step, reached_at) WHERE visible = 1;

-- Period rankings leave hidden members out without a join: period_counts carries a copy of members.visible,
-- kept in step by the two triggers below, and the ranking index covers only visible rows.
ALTER TABLE period_counts ADD COLUMN visible INTEGER NOT NULL DEFAULT 1;

UPDATE period_counts SET visible = COALESCE(
    (SELECT m.visible FROM members m WHERE m.guild_id = period_counts.guild_id AND m.user_id = period_counts.user_id),
    1
);

CREATE TRIGGER period_counts_visible_on_insert AFTER INSERT ON period_counts
BEGIN
    UPDATE period_counts SET visible = COALESCE(
        (SELECT m.visible FROM members m WHERE m.guild_id = NEW.guild_id AND m.user_id = NEW.user_id), 1)
     WHERE guild_id = NEW.guild_id AND period = NEW.period AND user_id = NEW.user_id;
END;

CREATE TRIGGER members_visible_to_period_counts AFTER UPDATE OF visible ON members
WHEN NEW.visible IS NOT OLD.visible
BEGIN
    UPDATE period_counts SET visible = NEW.visible WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id;
END;

CREATE INDEX period_rank_visible ON period_counts (guild_id, period, done_count DESC, reached_at, user_id)
    WHERE visible = 1;

-- Per-server community settings (the server's time zone stays in guild_settings).
CREATE TABLE community_settings (
    guild_id              INTEGER PRIMARY KEY,
    leaderboard_channel   INTEGER,
    leaderboard_schedule  TEXT    NOT NULL DEFAULT 'off' CHECK (leaderboard_schedule IN ('off', 'daily', 'weekly')),
    leaderboard_time      TEXT,              -- 'HH:MM', server-local
    leaderboard_weekday   INTEGER,           -- 0 = Monday, weekly posts only
    leaderboard_next_slot TEXT,              -- UTC instant of the next slot not yet handled
    leaderboard_last_slot TEXT,              -- the last slot handled (posted, failed or skipped)
    leaderboard_posted_at TEXT,              -- when the last post actually went out
    milestones_channel    INTEGER,
    cohort_start          TEXT,              -- 'YYYY-MM-DD'
    cohort_pace           REAL               -- steps per week
);

CREATE INDEX community_due ON community_settings (leaderboard_next_slot) WHERE leaderboard_next_slot IS NOT NULL;

CREATE TABLE milestone_roles (
    guild_id INTEGER NOT NULL,
    phase    INTEGER NOT NULL,               -- 0 = the whole plan
    role_id  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, phase)
) WITHOUT ROWID;

-- The last failure of each kind of automatic action, for /config show.
CREATE TABLE community_failures (
    guild_id INTEGER NOT NULL,
    kind     TEXT    NOT NULL,               -- 'leaderboard_post', 'milestone_post', 'milestone_role'
    at       TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    PRIMARY KEY (guild_id, kind)
) WITHOUT ROWID;

-- How many visible members have each done count, per server and period ('all', or a period_counts key).
-- A member's rank is then the sum of at most ~80 rows above their count plus an index range over their
-- own count, instead of counting every member ahead of them (O(members), ~50 ms at 100,000 members).
-- Kept by the triggers below, so every writer of members / period_counts keeps it right without knowing.
CREATE TABLE rank_counts (
    guild_id   INTEGER NOT NULL,
    period     TEXT    NOT NULL,
    done_count INTEGER NOT NULL,
    members    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, period, done_count)
) WITHOUT ROWID;

INSERT INTO rank_counts (guild_id, period, done_count, members)
SELECT guild_id, 'all', done_count, COUNT(*) FROM members WHERE visible = 1 AND done_count > 0
 GROUP BY guild_id, done_count;

INSERT INTO rank_counts (guild_id, period, done_count, members)
SELECT guild_id, period, done_count, COUNT(*) FROM period_counts WHERE visible = 1 AND done_count > 0
 GROUP BY guild_id, period, done_count;

CREATE TRIGGER rank_counts_member_insert AFTER INSERT ON members
WHEN NEW.visible = 1 AND NEW.done_count > 0
BEGIN
    INSERT INTO rank_counts (guild_id, period, done_count, members) VALUES (NEW.guild_id, 'all', NEW.done_count, 1)
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = members + 1;
END;

CREATE TRIGGER rank_counts_member_update AFTER UPDATE OF done_count, visible ON members
WHEN OLD.done_count IS NOT NEW.done_count OR OLD.visible IS NOT NEW.visible
BEGIN
    UPDATE rank_counts SET members = members - 1
     WHERE OLD.visible = 1 AND OLD.done_count > 0
       AND guild_id = OLD.guild_id AND period = 'all' AND done_count = OLD.done_count;
    INSERT INTO rank_counts (guild_id, period, done_count, members)
    SELECT NEW.guild_id, 'all', NEW.done_count, 1 WHERE NEW.visible = 1 AND NEW.done_count > 0
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = members + 1;
END;

CREATE TRIGGER rank_counts_member_delete AFTER DELETE ON members
WHEN OLD.visible = 1 AND OLD.done_count > 0
BEGIN
    UPDATE rank_counts SET members = members - 1
     WHERE guild_id = OLD.guild_id AND period = 'all' AND done_count = OLD.done_count;
END;

CREATE TRIGGER rank_counts_period_insert AFTER INSERT ON period_counts
WHEN NEW.visible = 1 AND NEW.done_count > 0
BEGIN
    INSERT INTO rank_counts (guild_id, period, done_count, members)
    VALUES (NEW.guild_id, NEW.period, NEW.done_count, 1)
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = members + 1;
END;

CREATE TRIGGER rank_counts_period_update AFTER UPDATE OF done_count, visible ON period_counts
WHEN OLD.done_count IS NOT NEW.done_count OR OLD.visible IS NOT NEW.visible
BEGIN
    UPDATE rank_counts SET members = members - 1
     WHERE OLD.visible = 1 AND OLD.done_count > 0
       AND guild_id = OLD.guild_id AND period = OLD.period AND done_count = OLD.done_count;
    INSERT INTO rank_counts (guild_id, period, done_count, members)
    SELECT NEW.guild_id, NEW.period, NEW.done_count, 1 WHERE NEW.visible = 1 AND NEW.done_count > 0
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = members + 1;
END;

CREATE TRIGGER rank_counts_period_delete AFTER DELETE ON period_counts
WHEN OLD.visible = 1 AND OLD.done_count > 0
BEGIN
    UPDATE rank_counts SET members = members - 1
     WHERE guild_id = OLD.guild_id AND period = OLD.period AND done_count = OLD.done_count;
END;

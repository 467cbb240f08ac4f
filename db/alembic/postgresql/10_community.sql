-- PostgreSQL versions of the community triggers of db/migrations/0002_community.sql (SQLite has those as
-- triggers in its legacy schema). Same effects, written as plpgsql trigger functions:
--  * period_counts.visible is a copy of members.visible (so period rankings leave hidden members out without a
--    join, through the partial index period_rank_visible);
--  * rank_counts holds, per server and period ('all' or a period_counts key), how many visible members have
--    each done count (so a member's rank is a sum over ~80 rows plus an index range, not a count of members).
-- The copy is set BEFORE INSERT (no second UPDATE of the new row); the histogram follows AFTER each change.

CREATE FUNCTION period_counts_visible_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.visible := COALESCE((SELECT m.visible FROM members m
                              WHERE m.guild_id = NEW.guild_id AND m.user_id = NEW.user_id), 1);
    RETURN NEW;
END $$;

CREATE TRIGGER period_counts_visible_on_insert BEFORE INSERT ON period_counts
FOR EACH ROW EXECUTE FUNCTION period_counts_visible_on_insert();

CREATE FUNCTION members_visible_to_period_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE period_counts SET visible = NEW.visible WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id;
    RETURN NULL;
END $$;

CREATE TRIGGER members_visible_to_period_counts AFTER UPDATE ON members
FOR EACH ROW WHEN (NEW.visible IS DISTINCT FROM OLD.visible)
EXECUTE FUNCTION members_visible_to_period_counts();

-- The histogram is shared by every writer of a server, so on PostgreSQL (writers run concurrently) its rows are
-- changed at COMMIT, all of a transaction's changes at once and in key order: two transactions then lock
-- histogram rows in the same order and never deadlock (changed as they happened, a member hidden -- rows of
-- months before weeks -- and another's /done -- a week before a month -- locked the same rows in opposite orders:
-- "deadlock detected", reproduced by tests/test_community_db.py). The row triggers only append deltas to
-- rank_counts_pending (no shared row is locked) and mark the transaction in rank_counts_flush once; a deferred
-- constraint trigger on that mark applies the transaction's summed deltas, sorted, just before it commits.
-- Both tables are PostgreSQL's bookkeeping for these triggers (empty outside open transactions), not part of the
-- schema in db/tables.py. SQLite (one writer at a time) keeps its immediate triggers of 0002_community.sql.

CREATE UNLOGGED TABLE rank_counts_pending (
    xid        BIGINT  NOT NULL,            -- txid_current() of the transaction that made the change
    guild_id   BIGINT  NOT NULL,
    period     TEXT    NOT NULL,
    done_count INTEGER NOT NULL,
    delta      INTEGER NOT NULL
);

CREATE INDEX rank_counts_pending_xid ON rank_counts_pending (xid);

CREATE UNLOGGED TABLE rank_counts_flush (
    xid BIGINT PRIMARY KEY
);

CREATE FUNCTION rank_counts_flush() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH mine AS (DELETE FROM rank_counts_pending WHERE xid = NEW.xid
                  RETURNING guild_id, period, done_count, delta)
    INSERT INTO rank_counts AS r (guild_id, period, done_count, members)
    SELECT guild_id, period, done_count, SUM(delta) FROM mine
     GROUP BY guild_id, period, done_count HAVING SUM(delta) <> 0
     ORDER BY guild_id, period, done_count
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = r.members + EXCLUDED.members;
    DELETE FROM rank_counts_flush WHERE xid = NEW.xid;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER rank_counts_flush AFTER INSERT ON rank_counts_flush
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION rank_counts_flush();

-- A member leaves one count of the histogram (old_d) and joins another (new_d); NULL: not ranked before / after
-- (hidden, or no step done).
CREATE FUNCTION rank_counts_move(g BIGINT, p TEXT, old_d INTEGER, new_d INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    me BIGINT := txid_current();
BEGIN
    IF old_d IS NOT DISTINCT FROM new_d THEN
        RETURN;
    END IF;
    IF old_d IS NOT NULL THEN
        INSERT INTO rank_counts_pending (xid, guild_id, period, done_count, delta) VALUES (me, g, p, old_d, -1);
    END IF;
    IF new_d IS NOT NULL THEN
        INSERT INTO rank_counts_pending (xid, guild_id, period, done_count, delta) VALUES (me, g, p, new_d, 1);
    END IF;
    INSERT INTO rank_counts_flush (xid) VALUES (me) ON CONFLICT (xid) DO NOTHING;
END $$;

-- (No `UPDATE OF column` lists below: PostgreSQL fires those only for columns named in the UPDATE's SET, not
-- for a change made by a BEFORE trigger, and members.visible is derived by one from visible_choice and left_at.
-- The WHEN conditions compare the final OLD and NEW rows instead.)

CREATE FUNCTION rank_counts_from_members() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    g BIGINT;
    old_d INTEGER;
    new_d INTEGER;
BEGIN
    IF TG_OP = 'DELETE' THEN
        g := OLD.guild_id;
    ELSE
        g := NEW.guild_id;
        IF NEW.visible = 1 AND NEW.done_count > 0 THEN
            new_d := NEW.done_count;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF OLD.visible = 1 AND OLD.done_count > 0 THEN
            old_d := OLD.done_count;
        END IF;
    END IF;
    PERFORM rank_counts_move(g, 'all', old_d, new_d);
    RETURN NULL;
END $$;

CREATE TRIGGER rank_counts_member_insert AFTER INSERT ON members
FOR EACH ROW WHEN (NEW.visible = 1 AND NEW.done_count > 0)
EXECUTE FUNCTION rank_counts_from_members();

CREATE TRIGGER rank_counts_member_update AFTER UPDATE ON members
FOR EACH ROW WHEN (OLD.done_count IS DISTINCT FROM NEW.done_count OR OLD.visible IS DISTINCT FROM NEW.visible)
EXECUTE FUNCTION rank_counts_from_members();

CREATE TRIGGER rank_counts_member_delete AFTER DELETE ON members
FOR EACH ROW WHEN (OLD.visible = 1 AND OLD.done_count > 0)
EXECUTE FUNCTION rank_counts_from_members();

CREATE FUNCTION rank_counts_from_period_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_d INTEGER;
    new_d INTEGER;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        IF NEW.visible = 1 AND NEW.done_count > 0 THEN
            new_d := NEW.done_count;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF OLD.visible = 1 AND OLD.done_count > 0 THEN
            old_d := OLD.done_count;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM rank_counts_move(OLD.guild_id, OLD.period, old_d, new_d);
    ELSE  -- the key of a period_counts row is never updated (period and guild stay): NEW's are OLD's
        PERFORM rank_counts_move(NEW.guild_id, NEW.period, old_d, new_d);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER rank_counts_period_insert AFTER INSERT ON period_counts
FOR EACH ROW WHEN (NEW.visible = 1 AND NEW.done_count > 0)
EXECUTE FUNCTION rank_counts_from_period_counts();

CREATE TRIGGER rank_counts_period_update AFTER UPDATE ON period_counts
FOR EACH ROW WHEN (OLD.done_count IS DISTINCT FROM NEW.done_count OR OLD.visible IS DISTINCT FROM NEW.visible)
EXECUTE FUNCTION rank_counts_from_period_counts();

CREATE TRIGGER rank_counts_period_delete AFTER DELETE ON period_counts
FOR EACH ROW WHEN (OLD.visible = 1 AND OLD.done_count > 0)
EXECUTE FUNCTION rank_counts_from_period_counts();

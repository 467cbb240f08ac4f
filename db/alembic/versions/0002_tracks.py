"""tracks: a server's own plans, and a member's progress per track (issue 11).

- `plans`: the plans a server uploaded (plan 0, the bundled plan, is not stored); `guild_settings.default_plan`.
- `members.plan_id`: the member's current track. The live tables (progress, the summary in members, history,
  period_counts) hold that track; `parked_progress` keeps the step states of the other tracks (and of steps a
  plan update dropped) until the member comes back.
- Rankings per track: the all-time histogram key in rank_counts is 'all' for plan 0 and 'all@<plan>' for an own
  plan (the triggers on members follow `plan_id`); period_counts keys carry the same '@<plan>' suffix (written so
  by db/progress.py). Servers that never upload a plan keep every key and row exactly as before.
- The indexes of members gain `plan_id` (members_rank and members_by_step become members_track_rank and
  members_track_step).

Idempotent where revision 0001 already made a piece: on PostgreSQL 0001 creates db/tables.py's tables as they
are now (with this revision's columns), so each step checks first.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, inspect

from db.tables import members, parked_progress, plans

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = """
DROP TRIGGER IF EXISTS rank_counts_member_insert;
DROP TRIGGER IF EXISTS rank_counts_member_update;
DROP TRIGGER IF EXISTS rank_counts_member_delete;
CREATE TRIGGER rank_counts_member_insert AFTER INSERT ON members
WHEN NEW.visible = 1 AND NEW.done_count > 0
BEGIN
    INSERT INTO rank_counts (guild_id, period, done_count, members)
    VALUES (NEW.guild_id, CASE WHEN NEW.plan_id = 0 THEN 'all' ELSE 'all@' || NEW.plan_id END, NEW.done_count, 1)
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = members + 1;
END;
CREATE TRIGGER rank_counts_member_update AFTER UPDATE OF done_count, visible, plan_id ON members
WHEN OLD.done_count IS NOT NEW.done_count OR OLD.visible IS NOT NEW.visible OR OLD.plan_id IS NOT NEW.plan_id
BEGIN
    UPDATE rank_counts SET members = members - 1
     WHERE OLD.visible = 1 AND OLD.done_count > 0 AND guild_id = OLD.guild_id
       AND period = CASE WHEN OLD.plan_id = 0 THEN 'all' ELSE 'all@' || OLD.plan_id END
       AND done_count = OLD.done_count;
    INSERT INTO rank_counts (guild_id, period, done_count, members)
    SELECT NEW.guild_id, CASE WHEN NEW.plan_id = 0 THEN 'all' ELSE 'all@' || NEW.plan_id END, NEW.done_count, 1
     WHERE NEW.visible = 1 AND NEW.done_count > 0
        ON CONFLICT (guild_id, period, done_count) DO UPDATE SET members = members + 1;
END;
CREATE TRIGGER rank_counts_member_delete AFTER DELETE ON members
WHEN OLD.visible = 1 AND OLD.done_count > 0
BEGIN
    UPDATE rank_counts SET members = members - 1
     WHERE guild_id = OLD.guild_id AND done_count = OLD.done_count
       AND period = CASE WHEN OLD.plan_id = 0 THEN 'all' ELSE 'all@' || OLD.plan_id END;
END;
"""

_POSTGRESQL_TRIGGERS = [
    """
CREATE OR REPLACE FUNCTION rank_counts_from_members() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    g BIGINT;
    old_d INTEGER;
    new_d INTEGER;
    old_k TEXT;
    new_k TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        g := OLD.guild_id;
    ELSE
        g := NEW.guild_id;
        new_k := CASE WHEN NEW.plan_id = 0 THEN 'all' ELSE 'all@' || NEW.plan_id END;
        IF NEW.visible = 1 AND NEW.done_count > 0 THEN
            new_d := NEW.done_count;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_k := CASE WHEN OLD.plan_id = 0 THEN 'all' ELSE 'all@' || OLD.plan_id END;
        IF OLD.visible = 1 AND OLD.done_count > 0 THEN
            old_d := OLD.done_count;
        END IF;
    END IF;
    IF old_k IS NULL OR new_k IS NULL OR old_k = new_k THEN
        PERFORM rank_counts_move(g, COALESCE(new_k, old_k), old_d, new_d);
    ELSE
        PERFORM rank_counts_move(g, old_k, old_d, NULL);
        PERFORM rank_counts_move(g, new_k, NULL, new_d);
    END IF;
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS rank_counts_member_update ON members",
    """
CREATE TRIGGER rank_counts_member_update AFTER UPDATE ON members
FOR EACH ROW WHEN (OLD.done_count IS DISTINCT FROM NEW.done_count OR OLD.visible IS DISTINCT FROM NEW.visible
                   OR OLD.plan_id IS DISTINCT FROM NEW.plan_id)
EXECUTE FUNCTION rank_counts_from_members()""",
]


def _add_column(conn: Connection, table: str, name: str, ddl: str) -> None:
    if name not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")


def upgrade() -> None:
    conn = op.get_bind()
    _add_column(conn, "guild_settings", "default_plan", "INTEGER")
    _add_column(conn, "members", "plan_id", "INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "history", "plan_id", "INTEGER NOT NULL DEFAULT 0")
    plans.create(conn, checkfirst=True)
    parked_progress.create(conn, checkfirst=True)
    for index in (*plans.indexes, *parked_progress.indexes, *members.indexes):
        index.create(conn, checkfirst=True)
    conn.exec_driver_sql("DROP INDEX IF EXISTS members_rank")
    conn.exec_driver_sql("DROP INDEX IF EXISTS members_by_step")
    if conn.dialect.name == "sqlite":
        from db.database import split_statements

        for statement in split_statements(_SQLITE_TRIGGERS):
            conn.exec_driver_sql(statement)
    else:
        for statement in _POSTGRESQL_TRIGGERS:
            conn.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("revision 0002 cannot be downgraded")

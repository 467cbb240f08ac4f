"""insights: the summaries /insights reads (issue 11), kept by every progress write.

- `progress.took_days` (and `parked_progress.took_days`): the whole days a step took, set when it is marked done;
- `step_durations`: per track and step, members per number of days (medians and 90th percentiles, exactly);
- `weekly_active`: who changed anything on a track in each server-local ISO week, and `weekly_counts` how many
  (active learners per week: 12 rows read, not a count of members);
- the index `members_insights`: where a track's members are and who is stalled, from the index alone;
- `nudges`: one friendly DM per stalled member and week, claimed before it is sent;
- `track_cohorts`: a cohort schedule per own plan (the bundled plan's stays in community_settings).
Steps marked done before this revision have no duration (they are left out of the medians, not guessed).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect

from db.tables import members, nudges, step_durations, track_cohorts, weekly_active, weekly_counts

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    for name in ("progress", "parked_progress"):
        if "took_days" not in {c["name"] for c in inspect(conn).get_columns(name)}:
            conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN took_days INTEGER")
    for table in (step_durations, weekly_active, weekly_counts, nudges, track_cohorts):
        table.create(conn, checkfirst=True)
    next(i for i in members.indexes if i.name == "members_insights").create(conn, checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("revision 0003 cannot be downgraded")

"""Every table of the store, declared once (the schema of db/migrations 0001-0008).

On SQLite the tables are made by the legacy migration files (so files made by earlier versions upgrade in place);
on PostgreSQL by `metadata.create_all` (db/alembic/versions/0001_adopt.py) plus db/alembic/postgresql/*.sql for
what SQLite does with triggers. Flags (visible, enabled, late, undone, ...) are INTEGER 0/1 on both engines, as
the legacy schema and its triggers have them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

from db.types import Day, Instant

metadata = MetaData()


def _id(name: str, *, nullable: bool = False) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable, autoincrement=False)


def _member_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["guild_id", "user_id"], ["members.guild_id", "members.user_id"], ondelete="CASCADE")


meta = Table(
    "meta", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

guild_settings = Table(
    "guild_settings", metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("timezone", Text),
    Column("default_plan", Integer),  # the track new members start on (plans.plan_id); NULL: the bundled plan
)

members = Table(
    "members", metadata,
    _id("guild_id"),
    _id("user_id"),
    Column("visible", Integer, nullable=False, server_default=text("1")),
    Column("done_count", Integer, nullable=False, server_default=text("0")),
    Column("reached_at", Instant, nullable=False),
    Column("timezone", Text),
    Column("created_at", Instant, nullable=False),
    Column("current_step", Integer, nullable=False, server_default=text("1")),
    Column("visible_choice", Integer, nullable=False, server_default=text("1")),
    Column("left_at", Instant),
    # The member's current track: 0 the bundled plan, else plans.plan_id. progress, the summary above, history
    # and period_counts hold this track; the other tracks' step states wait in parked_progress (revision 0002).
    Column("plan_id", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("guild_id", "user_id"),
)
Index("members_track_rank", members.c.guild_id, members.c.plan_id, members.c.done_count.desc(),
      members.c.reached_at, members.c.user_id, members.c.visible,
      sqlite_where=text("visible = 1"), postgresql_where=text("visible = 1"))
Index("members_track_step", members.c.guild_id, members.c.plan_id, members.c.current_step, members.c.reached_at)
# /insights (revision 0003): where a track's members are and who is stalled, read from the index alone
Index("members_insights", members.c.guild_id, members.c.plan_id, members.c.current_step, members.c.done_count,
      members.c.reached_at, members.c.created_at, members.c.visible, members.c.user_id, members.c.left_at,
      sqlite_where=text("left_at IS NULL"), postgresql_where=text("left_at IS NULL"))

progress = Table(
    "progress", metadata,
    _id("guild_id"),
    _id("user_id"),
    Column("step", Integer, nullable=False, autoincrement=False),
    Column("status", Text, nullable=False),
    Column("note", Text),
    Column("updated_at", Instant, nullable=False),
    Column("done_at", Instant),
    # Whole days the step took (from the previous step done, or from the member's start), set when it is
    # marked done; step_durations counts these (revision 0003).
    Column("took_days", Integer),
    PrimaryKeyConstraint("guild_id", "user_id", "step"),
    _member_fk(),
    CheckConstraint("status IN ('done', 'skipped', 'in_progress')", name="progress_status"),
)
Index("progress_by_step", progress.c.guild_id, progress.c.step, progress.c.status)

history = Table(
    "history", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    _id("guild_id"),
    _id("user_id"),
    Column("batch", BigInteger, nullable=False),
    Column("step", Integer, nullable=False),
    Column("before_status", Text),
    Column("before_note", Text),
    Column("before_done_at", Instant),
    Column("after_status", Text),
    Column("after_note", Text),
    Column("after_done_at", Instant),
    Column("at", Instant, nullable=False),
    Column("undone", Integer, nullable=False, server_default=text("0")),
    Column("plan_id", Integer, nullable=False, server_default=text("0")),  # the track the change was made on
    _member_fk(),
)
Index("history_member", history.c.guild_id, history.c.user_id, history.c.undone, history.c.batch)

period_counts = Table(
    "period_counts", metadata,
    _id("guild_id"),
    Column("period", Text, nullable=False),
    _id("user_id"),
    Column("done_count", Integer, nullable=False),
    Column("reached_at", Instant, nullable=False),
    Column("visible", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("guild_id", "period", "user_id"),
    _member_fk(),
)
Index("period_rank", period_counts.c.guild_id, period_counts.c.period, period_counts.c.done_count.desc(),
      period_counts.c.reached_at, period_counts.c.user_id)
Index("period_rank_visible", period_counts.c.guild_id, period_counts.c.period, period_counts.c.done_count.desc(),
      period_counts.c.reached_at, period_counts.c.user_id, period_counts.c.visible,
      sqlite_where=text("visible = 1"), postgresql_where=text("visible = 1"))

community_settings = Table(
    "community_settings", metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("leaderboard_channel", BigInteger),
    Column("leaderboard_schedule", Text, nullable=False, server_default=text("'off'")),
    Column("leaderboard_time", Text),
    Column("leaderboard_weekday", Integer),
    Column("leaderboard_next_slot", Instant),
    Column("leaderboard_last_slot", Instant),
    Column("leaderboard_posted_at", Instant),
    Column("milestones_channel", BigInteger),
    Column("cohort_start", Day),
    Column("cohort_pace", Float),
    CheckConstraint("leaderboard_schedule IN ('off', 'daily', 'weekly')", name="community_settings_schedule"),
)
Index("community_due", community_settings.c.leaderboard_next_slot,
      sqlite_where=text("leaderboard_next_slot IS NOT NULL"),
      postgresql_where=text("leaderboard_next_slot IS NOT NULL"))

milestone_roles = Table(
    "milestone_roles", metadata,
    _id("guild_id"),
    Column("phase", Integer, nullable=False, autoincrement=False),
    _id("role_id"),
    PrimaryKeyConstraint("guild_id", "phase"),
)

community_failures = Table(
    "community_failures", metadata,
    _id("guild_id"),
    Column("kind", Text, nullable=False),
    Column("at", Instant, nullable=False),
    Column("message", Text, nullable=False),
    PrimaryKeyConstraint("guild_id", "kind"),
)

rank_counts = Table(
    "rank_counts", metadata,
    _id("guild_id"),
    Column("period", Text, nullable=False),
    Column("done_count", Integer, nullable=False, autoincrement=False),
    Column("members", Integer, nullable=False),
    PrimaryKeyConstraint("guild_id", "period", "done_count"),
)

reminders = Table(
    "reminders", metadata,
    _id("guild_id"),
    _id("user_id"),
    Column("local_time", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("days", Integer, nullable=False),
    Column("enabled", Integer, nullable=False, server_default=text("1")),
    Column("paused_reason", Text),
    Column("paused_at", Instant),
    Column("pause_noticed", Integer, nullable=False, server_default=text("0")),
    Column("regular_due", Instant),
    Column("due_date", Day),
    Column("snooze_until", Instant),
    Column("snooze_for", Day),
    Column("next_due_utc", Instant),
    Column("dm_channel_id", BigInteger),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Column("member_checked_at", Instant),
    PrimaryKeyConstraint("guild_id", "user_id"),
    _member_fk(),
    CheckConstraint("days BETWEEN 1 AND 127", name="reminders_days"),
)
Index("reminders_due", reminders.c.next_due_utc,
      sqlite_where=text("next_due_utc IS NOT NULL"), postgresql_where=text("next_due_utc IS NOT NULL"))
Index("reminders_user", reminders.c.user_id)

reminder_sends = Table(
    "reminder_sends", metadata,
    _id("guild_id"),
    _id("user_id"),
    Column("local_date", Day, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("kind", Text),
    Column("due_utc", Instant, nullable=False),
    Column("sent_at", Instant, nullable=False),
    Column("step", Integer),
    Column("message_id", BigInteger),
    Column("snoozes", Integer, nullable=False, server_default=text("0")),
    Column("action", Text),
    PrimaryKeyConstraint("guild_id", "user_id", "local_date"),
    _member_fk(),
    CheckConstraint("outcome IN ('sent', 'missed')", name="reminder_sends_outcome"),
)
Index("reminder_sends_age", reminder_sends.c.sent_at)

reminder_deliveries = Table(
    "reminder_deliveries", metadata,
    _id("guild_id"),
    _id("user_id"),
    Column("local_date", Day, nullable=False),
    Column("slot", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("claimed_at", Instant, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("1")),
    Column("finished_at", Instant),
    Column("message_id", BigInteger),
    Column("reason", Text),
    PrimaryKeyConstraint("guild_id", "user_id", "local_date", "slot"),
    _member_fk(),
    CheckConstraint("kind IN ('daily', 'late', 'snoozed')", name="reminder_deliveries_kind"),
    CheckConstraint("state IN ('claimed', 'sent', 'failed')", name="reminder_deliveries_state"),
)
Index("reminder_deliveries_age", reminder_deliveries.c.claimed_at)

leaderboard_posts = Table(
    "leaderboard_posts", metadata,
    _id("guild_id"),
    Column("slot", Instant, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("channel_id", BigInteger),
    Column("late", Integer, nullable=False, server_default=text("0")),
    Column("state", Text, nullable=False, server_default=text("'claimed'")),
    Column("claimed_at", Instant, nullable=False),
    Column("attempt_at", Instant, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("1")),
    Column("message_id", BigInteger),
    Column("reason", Text),
    Column("finished_at", Instant),
    PrimaryKeyConstraint("guild_id", "slot"),
    CheckConstraint("state IN ('claimed', 'posted', 'failed')", name="leaderboard_posts_state"),
)
Index("leaderboard_posts_open", leaderboard_posts.c.attempt_at,
      sqlite_where=text("state = 'claimed'"), postgresql_where=text("state = 'claimed'"))

milestones = Table(
    "milestones", metadata,
    _id("guild_id"),
    _id("user_id"),
    Column("milestone", Integer, nullable=False, autoincrement=False),
    Column("reached_at", Instant, nullable=False),
    Column("announce", Text, nullable=False),
    Column("message_id", BigInteger),
    Column("reason", Text),
    Column("role_id", BigInteger),
    Column("role_at", Instant),
    PrimaryKeyConstraint("guild_id", "user_id", "milestone"),
    CheckConstraint("announce IN ('claimed', 'posted', 'failed', 'skipped')", name="milestones_announce"),
)

plans = Table(
    "plans", metadata,  # a server's own plans (tracks); plan 0, the bundled plan, is not stored
    _id("guild_id"),
    Column("plan_id", Integer, nullable=False, autoincrement=False),  # 1, 2, ... per server, never reused
    Column("name", Text, nullable=False),
    Column("name_key", Text, nullable=False),  # casefolded name: unique among a server's plans not removed
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("title", Text, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("source", Text, nullable=False),  # the uploaded Markdown, as validated
    Column("uploaded_at", Instant, nullable=False),
    Column("uploaded_by", BigInteger),
    Column("removed_at", Instant),
    PrimaryKeyConstraint("guild_id", "plan_id"),
    CheckConstraint("plan_id >= 1", name="plans_id"),
)
Index("plans_name", plans.c.guild_id, plans.c.name_key, unique=True,
      sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL"))

parked_progress = Table(
    "parked_progress", metadata,  # step states of tracks a member is not on now, and of steps a plan dropped
    _id("guild_id"),
    _id("user_id"),
    Column("plan_id", Integer, nullable=False, autoincrement=False),
    Column("step", Integer, nullable=False, autoincrement=False),
    Column("status", Text, nullable=False),
    Column("note", Text),
    Column("updated_at", Instant, nullable=False),
    Column("done_at", Instant),
    Column("took_days", Integer),
    PrimaryKeyConstraint("guild_id", "user_id", "plan_id", "step"),
    _member_fk(),
)
Index("parked_by_plan", parked_progress.c.guild_id, parked_progress.c.plan_id, parked_progress.c.step)

# ---- insights for organisers (revision 0003): summaries kept by every write, so /insights reads no raw rows

step_durations = Table(
    "step_durations", metadata,  # per track and step: how many members took `days` whole days for it
    _id("guild_id"),
    Column("plan_id", Integer, nullable=False, autoincrement=False),
    Column("step", Integer, nullable=False, autoincrement=False),
    Column("days", Integer, nullable=False, autoincrement=False),
    Column("members", Integer, nullable=False),
    PrimaryKeyConstraint("guild_id", "plan_id", "step", "days"),
)

weekly_active = Table(
    "weekly_active", metadata,  # a member who changed anything on a track in a (server-local) ISO week
    _id("guild_id"),
    Column("plan_id", Integer, nullable=False, autoincrement=False),
    Column("week", Day, nullable=False),  # the Monday
    _id("user_id"),
    PrimaryKeyConstraint("guild_id", "plan_id", "week", "user_id"),
)

weekly_counts = Table(
    "weekly_counts", metadata,  # how many rows weekly_active has per track and week (kept with its inserts)
    _id("guild_id"),
    Column("plan_id", Integer, nullable=False, autoincrement=False),
    Column("week", Day, nullable=False),
    Column("members", Integer, nullable=False),
    PrimaryKeyConstraint("guild_id", "plan_id", "week"),
)

nudges = Table(
    "nudges", metadata,  # one friendly DM per stalled member and week: claimed before the send, then sent/failed
    _id("guild_id"),
    _id("user_id"),
    Column("week", Day, nullable=False),
    Column("plan_id", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("claimed_at", Instant, nullable=False),
    Column("finished_at", Instant),
    Column("message_id", BigInteger),
    Column("reason", Text),
    Column("by_user", BigInteger),
    PrimaryKeyConstraint("guild_id", "user_id", "week"),
    CheckConstraint("state IN ('claimed', 'sent', 'failed')", name="nudges_state"),
)

track_cohorts = Table(
    "track_cohorts", metadata,  # a cohort schedule per own plan (plan 0's is in community_settings)
    _id("guild_id"),
    Column("plan_id", Integer, nullable=False, autoincrement=False),
    Column("cohort_start", Day),
    Column("cohort_pace", Float),
    PrimaryKeyConstraint("guild_id", "plan_id"),
)

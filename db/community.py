"""Community storage: rankings from the per-member summary, study buddies, community settings, failures.

Rankings read only `members` (all time) and `period_counts` (week / month), through the partial indexes
`members_rank` and `period_rank_visible`, plus `rank_counts` (members per done count, kept by triggers) for
ranks and totals; never the raw progress rows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from bot.domain.community import (
    Buddy,
    Cohort,
    OwnStanding,
    PostSchedule,
    Ranked,
    ScheduleKind,
    next_slot,
    period_storage_key,
)
from bot.domain.paging import page_slice
from bot.domain.progress import Status
from bot.domain.sharding import Ownership
from bot.domain.timeutil import Period, day_period_key, local_day_starts, parse_hhmm, period_key
from db.database import Database, from_db, from_db_opt, to_db
from db.shards import owned_clause

log = logging.getLogger(__name__)

FAILURE_KINDS = ("leaderboard_post", "milestone_post", "milestone_role")


# ---------------------------------------------------------------------------------------------- rankings


def _source(key: str | None) -> tuple[str, dict[str, Any]]:
    """The ranked rows of one period: (FROM ... WHERE clause, parameters). Hidden members are never in it."""
    if key is None:
        return "members WHERE guild_id = :g AND visible = 1 AND done_count > 0", {}
    return "period_counts WHERE guild_id = :g AND period = :p AND visible = 1", {"p": key}


def _top_query(guild_id: int, key: str | None, limit: int, offset: int) -> tuple[str, dict[str, Any]]:
    where, params = _source(key)
    return (f"SELECT user_id, done_count, reached_at FROM {where} "  # noqa: S608 - fixed fragments only
            "ORDER BY done_count DESC, reached_at, user_id LIMIT :limit OFFSET :offset",
            {"g": guild_id, "limit": limit, "offset": offset, **params})


def _ranked(rows: Iterable[Any], offset: int) -> list[Ranked]:
    return [Ranked(offset + i + 1, int(r[0]), int(r[1]), from_db(r[2])) for i, r in enumerate(rows)]


async def top(db: Database, guild_id: int, key: str | None, limit: int = 10, offset: int = 0) -> list[Ranked]:
    """Ranked members of a period (`key` None = all time, else a period_counts key), best first."""
    return _ranked(await db.fetchall(*_top_query(guild_id, key, limit, offset)), offset)


_RANKED_COUNT = "SELECT COALESCE(SUM(members), 0) FROM rank_counts WHERE guild_id = ? AND period = ?"


async def ranked_count(db: Database, guild_id: int, key: str | None) -> int:
    """How many members are ranked in a period (from the rank_counts histogram, not by counting members)."""
    row = await db.fetchone(_RANKED_COUNT, (guild_id, key or "all"))
    return int(row[0]) if row else 0


def _standing_query(guild_id: int, user_id: int, key: str | None) -> tuple[str, dict[str, Any]]:
    where, params = _source(key)
    if key is None:
        mine = ("SELECT visible AS v, done_count AS d, reached_at AS r FROM members "
                "WHERE guild_id = :g AND user_id = :u")
    else:
        mine = ("SELECT m.visible AS v, COALESCE(p.done_count, 0) AS d, p.reached_at AS r FROM members m "
                "LEFT JOIN period_counts p ON p.guild_id = m.guild_id AND p.period = :p AND p.user_id = m.user_id "
                "WHERE m.guild_id = :g AND m.user_id = :u")
    return (
        f"WITH me AS ({mine}), "  # noqa: S608 - fixed fragments only
        "hist AS (SELECT COALESCE(SUM(CASE WHEN done_count > (SELECT d FROM me) THEN members END), 0) AS higher, "
        "COALESCE(SUM(members), 0) AS total FROM rank_counts WHERE guild_id = :g AND period = :k) "
        "SELECT me.v, me.d, hist.higher + "
        f"(SELECT COUNT(*) FROM {where} AND done_count = me.d AND (reached_at, user_id) < (me.r, :u)), "
        "hist.total FROM me, hist",
        {"g": guild_id, "u": user_id, "k": key or "all", **params},
    )


def _own_standing(row: Any) -> OwnStanding:
    visible, done, ahead, total = bool(row[0]), int(row[1]), int(row[2]), int(row[3])
    if not visible or done == 0:
        return OwnStanding(None, done, not visible, total)
    return OwnStanding(ahead + 1, done, False, total)


async def standing(db: Database, guild_id: int, user_id: int, key: str | None) -> OwnStanding:
    """The member's own rank and count in a period, and how many members are ranked, in one query.

    Members ahead = those with a higher count (summed from rank_counts: one row per count) plus those with the
    same count who reached it first (an index range of `members_rank` / `period_rank_visible`, which cover it).
    """
    row = await db.fetchone(*_standing_query(guild_id, user_id, key))
    if row is None:  # never used the bot here
        return OwnStanding(None, 0, False, await ranked_count(db, guild_id, key))
    return _own_standing(row)


@dataclass(frozen=True, slots=True)
class BoardPage:
    """One page of a leaderboard and the caller's own standing, as `board_page` reads them."""

    tz: ZoneInfo  # the zone the period follows (the server's; `default_tz` for all time)
    own: OwnStanding
    rows: list[Ranked]
    index: int  # the page shown, clamped to the pages there are
    count: int  # how many pages there are


async def board_page(db: Database, guild_id: int, user_id: int, period: Period, page: int, *, per_page: int,
                     now: datetime, default_tz: ZoneInfo) -> BoardPage:
    """A leaderboard page for `user_id` in one awaited hop (`Database.run_sync`): the server's zone (for a week
    or month), the caller's standing (as `standing`) and the page's rows (as `top`), read in one snapshot."""

    def read(raw: sqlite3.Connection) -> BoardPage:
        tz = default_tz
        if period != "all":
            found = raw.execute("SELECT timezone FROM guild_settings WHERE guild_id = ?", (guild_id,)).fetchone()
            tz = ZoneInfo(found[0]) if found and found[0] else default_tz
        key = period_storage_key(now, tz, period)
        row = raw.execute(*_standing_query(guild_id, user_id, key)).fetchone()
        if row is None:  # never used the bot here
            total = raw.execute(_RANKED_COUNT, (guild_id, key or "all")).fetchone()
            own = OwnStanding(None, 0, False, int(total[0]) if total else 0)
        else:
            own = _own_standing(row)
        index, count, start = page_slice(own.total, page, per_page)
        rows = _ranked(raw.execute(*_top_query(guild_id, key, per_page, start)).fetchall(), start)
        return BoardPage(tz, own, rows, index, count)

    return await db.run_sync(read, write=False)


async def on_pace(db: Database, guild_id: int, expected: int) -> tuple[int, int]:
    """(members with at least `expected` steps, members who ever used the bot), hidden members left out."""
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM members WHERE guild_id = :g AND visible = 1 AND done_count >= :e), "
        "(SELECT COUNT(*) FROM members WHERE guild_id = :g AND visible = 1)",
        {"g": guild_id, "e": expected},
    )
    return (int(row[0]), int(row[1])) if row else (0, 0)


PERIOD_KINDS: tuple[Period, ...] = ("week", "month")
DONE_AT_SHAPE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*"  # a stored done_at we can key (GLOB)

_REBUILD_SETUP = (
    "CREATE TEMP TABLE IF NOT EXISTS rebuild_day_starts (utc_start TEXT PRIMARY KEY, week TEXT NOT NULL, "
    "month TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS rebuild_counts (period TEXT NOT NULL, user_id INTEGER NOT NULL, "
    "done_count INTEGER NOT NULL, reached_at TEXT NOT NULL, PRIMARY KEY (period, user_id)) WITHOUT ROWID",
    "DELETE FROM temp.rebuild_day_starts",
    "DELETE FROM temp.rebuild_counts",
)

# Each done row's local day is the latest local-day start at or before it (one index probe); its week and
# month are that day's. Counted per (period, member) once, for weeks and months both.
_REBUILD_COUNT = (
    "INSERT INTO temp.rebuild_counts (period, user_id, done_count, reached_at) "
    "WITH keyed AS MATERIALIZED (SELECT p.user_id, p.done_at, "
    " (SELECT d.utc_start FROM temp.rebuild_day_starts d WHERE d.utc_start <= p.done_at "
    "  ORDER BY d.utc_start DESC LIMIT 1) AS day_start "
    " FROM progress p WHERE p.guild_id = :g AND p.status = 'done' AND p.done_at GLOB :shape), "
    "days AS MATERIALIZED (SELECT k.user_id, k.done_at, d.week, d.month FROM keyed k "
    " JOIN temp.rebuild_day_starts d ON d.utc_start = k.day_start) "
    "SELECT week, user_id, COUNT(*), MAX(done_at) FROM days GROUP BY week, user_id "
    "UNION ALL SELECT month, user_id, COUNT(*), MAX(done_at) FROM days GROUP BY month, user_id"
)

# Only rows that change are written, so the triggers (visible copy, rank_counts) run for those alone: a new
# zone moves only the done times near a local midnight into another week or month.
_REBUILD_APPLY = (
    "DELETE FROM period_counts WHERE guild_id = :g AND NOT EXISTS (SELECT 1 FROM temp.rebuild_counts c "
    " WHERE c.period = period_counts.period AND c.user_id = period_counts.user_id)",
    "INSERT INTO period_counts (guild_id, period, user_id, done_count, reached_at) "
    "SELECT :g, period, user_id, done_count, reached_at FROM temp.rebuild_counts WHERE true "
    "ON CONFLICT (guild_id, period, user_id) DO UPDATE SET done_count = excluded.done_count, "
    "reached_at = excluded.reached_at "
    "WHERE done_count IS NOT excluded.done_count OR reached_at IS NOT excluded.reached_at",
)


def _utc_days(raw: sqlite3.Connection, guild_id: int) -> list[date]:
    """The distinct UTC calendar days of the server's done rows (a few hundred: the days people studied)."""
    days = []
    for (text,) in raw.execute(
            "SELECT DISTINCT substr(done_at, 1, 10) FROM progress WHERE guild_id = ? AND status = 'done' "
            "AND done_at GLOB ?", (guild_id, DONE_AT_SHAPE)):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:  # a malformed date an old database may hold: its rows find no day and count nowhere
            log.warning("guild %s has a done date that is not a date: %r", guild_id, text)
    return days


def rebuild_period_counts_sync(raw: sqlite3.Connection, guild_id: int, tz: ZoneInfo) -> None:
    """Recount every week and month count of a server in `tz`, inside the caller's transaction (run_sync).

    SQL does the per-row work: Python only lists when each local day that has done rows begins (`local_day_starts`:
    one entry per day, not per row), and SQLite keys and counts the rows against that table. The event loop is
    never involved (this runs on the database's worker thread, and sqlite releases the GIL while it works).
    """
    for statement in _REBUILD_SETUP:
        raw.execute(statement)
    starts = local_day_starts(_utc_days(raw, guild_id), tz)
    raw.executemany("INSERT OR REPLACE INTO temp.rebuild_day_starts (utc_start, week, month) VALUES (?, ?, ?)",
                    [(to_db(at), day_period_key(day, "week"), day_period_key(day, "month"))
                     for at, day in starts.items()])
    raw.execute(_REBUILD_COUNT, {"g": guild_id, "shape": DONE_AT_SHAPE})
    for statement in _REBUILD_APPLY:
        raw.execute(statement, {"g": guild_id})
    raw.execute("DELETE FROM temp.rebuild_day_starts")
    raw.execute("DELETE FROM temp.rebuild_counts")


async def rebuild_period_counts(db: Database, guild_id: int, tz: ZoneInfo) -> None:
    """Recompute every period count of a server in `tz`, in one transaction (see `rebuild_period_counts_sync`)."""
    await db.run_sync(lambda raw: rebuild_period_counts_sync(raw, guild_id, tz))


# What a member's period counts depend on, per member: any write through db.progress changes one of these
# (rows added or deleted change the count; every rewritten row gets a new updated_at; the done dates' sum and
# latest catch a done date moved with an older clock).
_FINGERPRINTS = (
    "SELECT user_id, COUNT(*), MAX(updated_at), "
    "TOTAL(CASE WHEN status = 'done' THEN unixepoch(done_at) * (step + 7) END), "
    "MAX(CASE WHEN status = 'done' THEN done_at END) FROM progress WHERE guild_id = ? GROUP BY user_id"
)
_UPSERT_COUNT = (
    "INSERT INTO period_counts (guild_id, period, user_id, done_count, reached_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (guild_id, period, user_id) DO UPDATE SET done_count = excluded.done_count, "
    "reached_at = excluded.reached_at"
)
Fingerprint = tuple[int, str, float, str | None]


def _stored_zone(raw: sqlite3.Connection, guild_id: int) -> str | None:
    row = raw.execute("SELECT timezone FROM guild_settings WHERE guild_id = ?", (guild_id,)).fetchone()
    return str(row[0]) if row and row[0] else None


def _fingerprints(raw: sqlite3.Connection, guild_id: int) -> dict[int, Fingerprint]:
    return {int(r[0]): (int(r[1]), str(r[2]), float(r[3]), r[4]) for r in raw.execute(_FINGERPRINTS, (guild_id,))}


@dataclass(frozen=True, slots=True)
class PeriodRecount:
    """A server's week and month counts recounted in a new zone from a snapshot, as changes to the stored ones,
    with each member's fingerprint in that snapshot (to tell who wrote since)."""

    guild_id: int
    zone: str
    stored_zone: str | None  # the zone the stored counts were in (guild_settings; None: the default)
    upserts: list[tuple[str, int, int, str]]  # (period, user_id, done_count, reached_at)
    deletes: list[tuple[str, int]]  # (period, user_id)
    fingerprints: dict[int, Fingerprint]


def _recount_in_snapshot(path: Path, guild_id: int, tz: ZoneInfo) -> PeriodRecount:
    """`rebuild_period_counts_sync`'s counting on a second, read-only connection: no write lock, and not on
    aiosqlite's worker thread, so every other command keeps going meanwhile. Reads one snapshot (WAL)."""
    raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        raw.execute("PRAGMA busy_timeout = 5000")
        raw.execute("BEGIN")
        stored_zone = _stored_zone(raw, guild_id)
        fingerprints = _fingerprints(raw, guild_id)
        for statement in _REBUILD_SETUP:
            raw.execute(statement)
        starts = local_day_starts(_utc_days(raw, guild_id), tz)
        raw.executemany("INSERT OR REPLACE INTO temp.rebuild_day_starts (utc_start, week, month) VALUES (?, ?, ?)",
                        [(to_db(at), day_period_key(day, "week"), day_period_key(day, "month"))
                         for at, day in starts.items()])
        raw.execute(_REBUILD_COUNT, {"g": guild_id, "shape": DONE_AT_SHAPE})
        upserts = [(str(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in raw.execute(
            "SELECT n.period, n.user_id, n.done_count, n.reached_at FROM temp.rebuild_counts n "
            "LEFT JOIN period_counts o ON o.guild_id = :g AND o.period = n.period AND o.user_id = n.user_id "
            "WHERE o.done_count IS NOT n.done_count OR o.reached_at IS NOT n.reached_at", {"g": guild_id})]
        deletes = [(str(r[0]), int(r[1])) for r in raw.execute(
            "SELECT period, user_id FROM period_counts WHERE guild_id = :g AND NOT EXISTS (SELECT 1 FROM "
            "temp.rebuild_counts c WHERE c.period = period_counts.period AND c.user_id = period_counts.user_id)",
            {"g": guild_id})]
        raw.execute("ROLLBACK")
        return PeriodRecount(guild_id, tz.key, stored_zone, upserts, deletes, fingerprints)
    finally:
        raw.close()


async def recount_periods(db: Database, guild_id: int, tz: ZoneInfo) -> PeriodRecount:
    """Count a server's weeks and months in `tz` from a snapshot, off the event loop and off the database's
    thread (the slow part of a zone change: seconds at 400,000 done steps). Nothing is written."""
    return await asyncio.to_thread(_recount_in_snapshot, db.path, guild_id, tz)


def _recount_members(raw: sqlite3.Connection, guild_id: int, users: Iterable[int], tz: ZoneInfo) -> None:
    """Recount every week and month of a few members from their rows (those who wrote during the snapshot)."""
    for user in users:
        counts: dict[str, list[str]] = defaultdict(list)
        for (text,) in raw.execute("SELECT done_at FROM progress WHERE guild_id = ? AND user_id = ? AND "
                                   "status = 'done' AND done_at GLOB ?", (guild_id, user, DONE_AT_SHAPE)):
            try:
                moment = from_db(text)
            except ValueError:
                continue  # not a date: counts nowhere, as in the full rebuild
            for kind in PERIOD_KINDS:
                counts[period_key(moment, tz, kind)].append(text)
        raw.execute("DELETE FROM period_counts WHERE guild_id = ? AND user_id = ?", (guild_id, user))
        raw.executemany(_UPSERT_COUNT, [(guild_id, period, user, len(texts), max(texts))
                                        for period, texts in counts.items()])


def _apply_recount(raw: sqlite3.Connection, recount: PeriodRecount, tz: ZoneInfo) -> None:
    """Write a snapshot's recount inside the caller's transaction; members whose rows changed since the
    snapshot (their fingerprint differs) are recounted here from their rows instead."""
    guild_id = recount.guild_id
    now = _fingerprints(raw, guild_id)
    changed = {u for u in now.keys() | recount.fingerprints.keys() if now.get(u) != recount.fingerprints.get(u)}
    raw.executemany("DELETE FROM period_counts WHERE guild_id = ? AND period = ? AND user_id = ?",
                    [(guild_id, period, user) for period, user in recount.deletes if user not in changed])
    raw.executemany(_UPSERT_COUNT, [(guild_id, period, user, count, reached)
                                    for period, user, count, reached in recount.upserts if user not in changed])
    _recount_members(raw, guild_id, sorted(u for u in changed if u in now), tz)


async def change_timezone(db: Database, guild_id: int, tz: ZoneInfo, now: datetime, *,
                          recount: PeriodRecount | None = None) -> datetime | None:
    """Set the server's zone, recount its weeks and months in it and move its next leaderboard slot: the
    writes in ONE transaction, so a failure anywhere (a full disk, a read-only file) leaves the old zone with
    its old boards.

    The counting happens first, outside that transaction (`recount_periods`, or the `recount` given); the
    transaction then writes only what changed, and recounts the few members who wrote in between from their
    rows. So the write lock is held for a scan of fingerprints and the changed rows, not for the whole count.
    A database in memory (tests) has no second connection: there everything runs inside the transaction.
    Returns the next leaderboard slot (None when posts are off).
    """
    if recount is None and str(db.path) != ":memory:":
        recount = await recount_periods(db, guild_id, tz)

    def change(raw: sqlite3.Connection) -> datetime | None:
        # The recount is a difference from the counts it read: it applies only to those, in the same zone
        # (another change of this server's zone committed in between: count again, here).
        usable = (recount is not None and recount.guild_id == guild_id and recount.zone == tz.key
                  and recount.stored_zone == _stored_zone(raw, guild_id))
        raw.execute("INSERT INTO guild_settings (guild_id, timezone) VALUES (?, ?) "
                    "ON CONFLICT (guild_id) DO UPDATE SET timezone = excluded.timezone", (guild_id, tz.key))
        if recount is not None and usable:
            _apply_recount(raw, recount, tz)
        else:
            rebuild_period_counts_sync(raw, guild_id, tz)
        row = raw.execute("SELECT * FROM community_settings WHERE guild_id = ?", (guild_id,)).fetchone()
        if row is None:
            return None
        upcoming = next_slot(_schedule(row), now, tz)
        if upcoming is not None:
            raw.execute("UPDATE community_settings SET leaderboard_next_slot = ? WHERE guild_id = ?",
                        (to_db(upcoming), guild_id))
        return upcoming

    return await db.run_sync(change)


# ---------------------------------------------------------------------------------------------- buddies


async def buddies(db: Database, guild_id: int, step: int, exclude: int, limit: int = 30) -> tuple[list[Buddy], int]:
    """Visible members whose current step is `step` (most recently active first), and how many there are."""
    rows = list(await db.fetchall(
        "SELECT m.user_id, p.status, COUNT(*) OVER () FROM members m "
        "LEFT JOIN progress p ON p.guild_id = m.guild_id AND p.user_id = m.user_id AND p.step = m.current_step "
        "WHERE m.guild_id = ? AND m.current_step = ? AND m.visible = 1 AND m.user_id != ? "
        "ORDER BY m.reached_at DESC, m.user_id LIMIT ?",
        (guild_id, step, exclude, limit),
    ))
    total = int(rows[0][2]) if rows else 0
    return [Buddy(int(r[0]), r[1] == Status.IN_PROGRESS.value) for r in rows], total


async def nearby_steps(db: Database, guild_id: int, step: int, exclude: int, radius: int = 3) -> dict[int, int]:
    """How many visible members are on each step within `radius` of `step` (for an empty /buddies)."""
    rows = await db.fetchall(
        "SELECT current_step, COUNT(*) FROM members WHERE guild_id = ? AND visible = 1 AND user_id != ? "
        "AND current_step BETWEEN ? AND ? GROUP BY current_step",
        (guild_id, exclude, step - radius, step + radius),
    )
    return {int(r[0]): int(r[1]) for r in rows if int(r[0]) != step}


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class Failure:
    at: datetime
    message: str


@dataclass(frozen=True)
class CommunitySettings:
    guild_id: int
    leaderboard_channel: int | None = None
    schedule: PostSchedule = field(default_factory=lambda: PostSchedule("off"))
    next_slot: datetime | None = None
    last_slot: datetime | None = None
    posted_at: datetime | None = None
    milestones_channel: int | None = None
    cohort: Cohort | None = None
    roles: dict[int, int] = field(default_factory=dict)  # phase (0 = plan) -> role id
    failures: dict[str, Failure] = field(default_factory=dict)  # kind -> last failure


def _schedule(row: Any) -> PostSchedule:
    kind: ScheduleKind = row["leaderboard_schedule"]
    at = parse_hhmm(row["leaderboard_time"]) if row["leaderboard_time"] else None
    return PostSchedule(kind, at, row["leaderboard_weekday"])


def _cohort(row: Any) -> Cohort | None:
    """The stored cohort, or None when there is none or what is stored is not one (an old database may hold a
    start that is not a date, or a pace that is not a positive number): nobody's command fails over it."""
    start, pace = row["cohort_start"], row["cohort_pace"]
    if not start or pace is None:
        return None
    try:
        cohort = Cohort(date.fromisoformat(str(start)), float(pace))
    except (TypeError, ValueError):
        log.warning("ignoring the stored cohort of guild %s: start %r, pace %r", row["guild_id"], start, pace)
        return None
    if not (math.isfinite(cohort.pace) and cohort.pace > 0):
        log.warning("ignoring the stored cohort of guild %s: pace %r", row["guild_id"], pace)
        return None
    return cohort


async def get_settings(db: Database, guild_id: int) -> CommunitySettings:
    """Every community setting of a server, its milestone roles and the last failure of each kind."""
    row = await db.fetchone("SELECT * FROM community_settings WHERE guild_id = ?", (guild_id,))
    roles = {int(r[0]): int(r[1]) for r in await db.fetchall(
        "SELECT phase, role_id FROM milestone_roles WHERE guild_id = ? ORDER BY phase", (guild_id,))}
    failures = {str(r[0]): Failure(from_db(r[1]), str(r[2])) for r in await db.fetchall(
        "SELECT kind, at, message FROM community_failures WHERE guild_id = ?", (guild_id,))}
    if row is None:
        return CommunitySettings(guild_id, roles=roles, failures=failures)
    return CommunitySettings(
        guild_id=guild_id,
        leaderboard_channel=row["leaderboard_channel"],
        schedule=_schedule(row),
        next_slot=from_db_opt(row["leaderboard_next_slot"]),
        last_slot=from_db_opt(row["leaderboard_last_slot"]),
        posted_at=from_db_opt(row["leaderboard_posted_at"]),
        milestones_channel=row["milestones_channel"],
        cohort=_cohort(row),
        roles=roles,
        failures=failures,
    )


async def get_cohort(db: Database, guild_id: int) -> Cohort | None:
    """The server's cohort schedule, for /progress (None when the server has none)."""
    row = await db.fetchone("SELECT guild_id, cohort_start, cohort_pace FROM community_settings WHERE guild_id = ?",
                            (guild_id,))
    return _cohort(row) if row else None


async def _upsert(conn: aiosqlite.Connection, guild_id: int, **values: Any) -> None:
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    updates = ", ".join(f"{c} = excluded.{c}" for c in values)
    await conn.execute(
        f"INSERT INTO community_settings (guild_id, {columns}) VALUES (?, {marks}) "  # noqa: S608 - our names
        f"ON CONFLICT (guild_id) DO UPDATE SET {updates}",
        (guild_id, *values.values()),
    )


async def set_leaderboard(db: Database, guild_id: int, channel_id: int | None, schedule: PostSchedule,
                          next_slot: datetime | None) -> None:
    async with db.transaction() as conn:
        await _upsert(conn, guild_id, leaderboard_channel=channel_id, leaderboard_schedule=schedule.kind,
                      leaderboard_time=schedule.at.strftime("%H:%M") if schedule.at else None,
                      leaderboard_weekday=schedule.weekday,
                      leaderboard_next_slot=to_db(next_slot) if next_slot else None)


async def reschedule(db: Database, guild_id: int, next_slot: datetime | None) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE community_settings SET leaderboard_next_slot = ? WHERE guild_id = ?",
                           (to_db(next_slot) if next_slot else None, guild_id))


async def set_milestones_channel(db: Database, guild_id: int, channel_id: int | None) -> None:
    async with db.transaction() as conn:
        await _upsert(conn, guild_id, milestones_channel=channel_id)


async def set_milestone_role(db: Database, guild_id: int, phase: int, role_id: int | None) -> None:
    async with db.transaction() as conn:
        if role_id is None:
            await conn.execute("DELETE FROM milestone_roles WHERE guild_id = ? AND phase = ?", (guild_id, phase))
        else:
            await conn.execute(
                "INSERT INTO milestone_roles (guild_id, phase, role_id) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id, phase) DO UPDATE SET role_id = excluded.role_id",
                (guild_id, phase, role_id),
            )


async def set_cohort(db: Database, guild_id: int, cohort: Cohort | None) -> None:
    async with db.transaction() as conn:
        await _upsert(conn, guild_id, cohort_start=cohort.start.isoformat() if cohort else None,
                      cohort_pace=cohort.pace if cohort else None)


# ---------------------------------------------------------------------------------------------- scheduled posts


@dataclass(frozen=True, slots=True)
class DuePost:
    guild_id: int
    channel_id: int | None
    schedule: PostSchedule
    next_slot: datetime


_DUE_POSTS = ("SELECT guild_id, leaderboard_channel, leaderboard_schedule, leaderboard_time, leaderboard_weekday, "
              "leaderboard_next_slot FROM community_settings "
              "WHERE leaderboard_next_slot IS NOT NULL AND leaderboard_next_slot <= ?")


async def due_posts(db: Database, now: datetime, *, ownership: Ownership | None = None) -> list[DuePost]:
    """Servers whose next leaderboard slot is at or before `now` (only those on this process's shards, when
    `ownership` is given)."""
    owned, shard_params = owned_clause("guild_id", ownership)
    rows = await db.fetchall(_DUE_POSTS + owned, (to_db(now), *shard_params))
    return [DuePost(int(r["guild_id"]), r["leaderboard_channel"], _schedule(r), from_db(r["leaderboard_next_slot"]))
            for r in rows]


async def record_failure(db: Database, guild_id: int, kind: str, at: datetime, message: str) -> None:
    if kind not in FAILURE_KINDS:
        raise ValueError(f"unknown failure kind {kind!r}")
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO community_failures (guild_id, kind, at, message) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, kind) DO UPDATE SET at = excluded.at, message = excluded.message",
            (guild_id, kind, to_db(at), message[:500]),
        )

"""Community storage: rankings from the per-member summary, study buddies, community settings, failures.

Rankings read only `members` (all time) and `period_counts` (week / month), through the partial indexes
`members_track_rank` and `period_rank_visible`, plus `rank_counts` (members per done count, kept by triggers on both
engines) for ranks and totals; never the raw progress rows. The queries name `visible = 1` as a literal (not a
bound parameter), so SQLite and PostgreSQL both see that the partial indexes apply.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

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
from bot.domain.tracks import BUNDLED, track_key
from db.database import Database, to_db
from db.dialects import upsert
from db.shards import owned
from db.tables import (
    community_failures,
    community_settings,
    guild_settings,
    members,
    milestone_roles,
    period_counts,
    progress,
    rank_counts,
    track_cohorts,
)

log = logging.getLogger(__name__)

FAILURE_KINDS = ("leaderboard_post", "milestone_post", "milestone_role")

# `visible = 1` as the partial indexes say it (a literal, not a parameter, so both planners match the index)
SHOWN: ColumnElement[Any] = literal_column("1")

_m, _pc, _rc, _p = members.c, period_counts.c, rank_counts.c, progress.c


# ---------------------------------------------------------------------------------------------- rankings


def _source(guild_id: int, key: str | None, plan_id: int) -> tuple[Table, list[ColumnElement[bool]]]:
    """The ranked rows of one period on one track: (table, conditions). Hidden members are never in it.

    `key` None: all time, the members on track `plan_id`; else a period_counts key, which names its track
    (bot.domain.tracks.track_key)."""
    if key is None:
        return members, [_m.guild_id == guild_id, _m.plan_id == plan_id, _m.visible == SHOWN,
                         _m.done_count > literal_column("0")]
    return period_counts, [_pc.guild_id == guild_id, _pc.period == key, _pc.visible == SHOWN]


def _top_query(guild_id: int, key: str | None, limit: int, offset: int, plan_id: int = BUNDLED) -> Select[Any]:
    table, where = _source(guild_id, key, plan_id)
    c = table.c
    return (select(c.user_id, c.done_count, c.reached_at).where(*where)
            .order_by(c.done_count.desc(), c.reached_at, c.user_id).limit(limit).offset(offset))


def _ranked(rows: Iterable[Any], offset: int) -> list[Ranked]:
    return [Ranked(offset + i + 1, int(r[0]), int(r[1]), r[2]) for i, r in enumerate(rows)]


async def top(db: Database, guild_id: int, key: str | None, limit: int = 10, offset: int = 0, *,
              plan_id: int = BUNDLED) -> list[Ranked]:
    """Ranked members of a period (`key` None = all time on track `plan_id`, else a period_counts key), best
    first."""
    return _ranked(await db.fetchall(_top_query(guild_id, key, limit, offset, plan_id)), offset)


def _histogram_key(key: str | None, plan_id: int) -> str:
    return key if key is not None else track_key("all", plan_id)


def _ranked_count_query(guild_id: int, key: str | None, plan_id: int = BUNDLED) -> Select[Any]:
    return select(func.coalesce(func.sum(_rc.members), 0)).where(_rc.guild_id == guild_id,
                                                                  _rc.period == _histogram_key(key, plan_id))


async def ranked_count(db: Database, guild_id: int, key: str | None, *, plan_id: int = BUNDLED) -> int:
    """How many members are ranked in a period (from the rank_counts histogram, not by counting members)."""
    row = await db.fetchone(_ranked_count_query(guild_id, key, plan_id))
    return int(row[0]) if row else 0


def _standing_query(guild_id: int, user_id: int, key: str | None, plan_id: int = BUNDLED) -> Select[Any]:
    """(visible, done, members ahead, members ranked) of one member, or no row when they never used the bot.
    A member on another track reads as not ranked (done 0) on this track's all-time board."""
    table, where = _source(guild_id, key, plan_id)
    if key is None:
        me = select(_m.visible.label("v"),
                    case((_m.plan_id == plan_id, _m.done_count), else_=literal_column("0")).label("d"),
                    _m.reached_at.label("r")).where(
            _m.guild_id == guild_id, _m.user_id == user_id).cte("me")
    else:
        mine = period_counts.alias("mine")
        me = (select(_m.visible.label("v"), func.coalesce(mine.c.done_count, 0).label("d"),
                     mine.c.reached_at.label("r"))
              .select_from(members.outerjoin(mine, and_(mine.c.guild_id == _m.guild_id, mine.c.period == key,
                                                        mine.c.user_id == _m.user_id)))
              .where(_m.guild_id == guild_id, _m.user_id == user_id).cte("me"))
    own_count = select(me.c.d).scalar_subquery()
    hist = (select(func.coalesce(func.sum(case((_rc.done_count > own_count, _rc.members))), 0).label("higher"),
                   func.coalesce(func.sum(_rc.members), 0).label("total"))
            .where(_rc.guild_id == guild_id, _rc.period == _histogram_key(key, plan_id)).cte("hist"))
    c = table.c
    tied_before = (select(func.count()).select_from(table)
                   .where(*where, c.done_count == me.c.d,
                          tuple_(c.reached_at, c.user_id) < tuple_(me.c.r, bindparam("me_user", user_id)))
                   .scalar_subquery())
    return select(me.c.v, me.c.d, hist.c.higher + tied_before, hist.c.total).select_from(me.join(hist, true()))


def _own_standing(row: Any) -> OwnStanding:
    visible, done, ahead, total = bool(row[0]), int(row[1]), int(row[2]), int(row[3])
    if not visible or done == 0:
        return OwnStanding(None, done, not visible, total)
    return OwnStanding(ahead + 1, done, False, total)


async def standing(db: Database, guild_id: int, user_id: int, key: str | None, *,
                   plan_id: int = BUNDLED) -> OwnStanding:
    """The member's own rank and count in a period, and how many members are ranked, in one query.

    Members ahead = those with a higher count (summed from rank_counts: one row per count) plus those with the
    same count who reached it first (an index range of `members_track_rank` / `period_rank_visible`, which cover it).
    """
    row = await db.fetchone(_standing_query(guild_id, user_id, key, plan_id))
    if row is None:  # never used the bot here
        return OwnStanding(None, 0, False, await ranked_count(db, guild_id, key, plan_id=plan_id))
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
                     now: datetime, default_tz: ZoneInfo, plan_id: int = BUNDLED) -> BoardPage:
    """A leaderboard page for `user_id` in one awaited hop (`Database.run_sync`): the server's zone (for a week
    or month), the caller's standing (as `standing`) and the page's rows (as `top`), read in one snapshot."""

    def read(conn: Connection) -> BoardPage:
        tz = default_tz
        if period != "all":
            found = _stored_zone(conn, guild_id)
            tz = ZoneInfo(found) if found else default_tz
        stored = period_storage_key(now, tz, period)
        key = None if stored is None else track_key(stored, plan_id)
        row = conn.execute(_standing_query(guild_id, user_id, key, plan_id)).first()
        if row is None:  # never used the bot here
            own = OwnStanding(None, 0, False,
                              int(conn.execute(_ranked_count_query(guild_id, key, plan_id)).scalar_one()))
        else:
            own = _own_standing(row)
        index, count, start = page_slice(own.total, page, per_page)
        rows = _ranked(conn.execute(_top_query(guild_id, key, per_page, start, plan_id)).all(), start)
        return BoardPage(tz, own, rows, index, count)

    return await db.run_sync(read, write=False)


async def on_pace(db: Database, guild_id: int, expected: int, *, plan_id: int = BUNDLED) -> tuple[int, int]:
    """(members with at least `expected` steps, members who ever used the bot), on one track, hidden members left
    out."""
    shown = [_m.guild_id == guild_id, _m.plan_id == plan_id, _m.visible == SHOWN]
    row = await db.fetchone(select(
        select(func.count()).select_from(members).where(*shown, _m.done_count >= expected).scalar_subquery(),
        select(func.count()).select_from(members).where(*shown).scalar_subquery(),
    ))
    if row is None:
        return 0, 0
    ahead, everyone = tuple(row)
    return int(ahead), int(everyone)


# ------------------------------------------------------------------------------------ period counts in a zone

PERIOD_KINDS: tuple[Period, ...] = ("week", "month")
DONE_AT_SHAPE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*"  # SQLite: a stored done_at we can key (GLOB)


def _sqlite_new_counts(conn: Connection, guild_id: int, tz: ZoneInfo) -> tuple[str, dict[str, Any]]:
    """SQLite: a `WITH ... SELECT period, user_id, done_count, reached_at` of the server's week and month counts
    in `tz`, and its parameters.

    SQL does the per-row work: Python only lists when each local day that has done rows begins (`local_day_starts`:
    one entry per day, not per row), passed as one JSON parameter. A done row's local day is the latest local-day
    start at or before it among those of its UTC day (an equality probe, then at most three entries); its week
    and month are that day's. No temporary table, so it also runs on the read-only reader.
    """
    starts = []
    for day in _utc_days(conn, guild_id):
        for at, local in sorted(local_day_starts([day], tz).items()):
            starts.append((day.isoformat(), to_db(at), day_period_key(local, "week"), day_period_key(local, "month")))
    sql = (
        "WITH b AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS day, json_extract(value, '$[1]') AS start, "
        " json_extract(value, '$[2]') AS week, json_extract(value, '$[3]') AS month FROM json_each(:starts)), "
        "keyed AS MATERIALIZED (SELECT p.user_id, p.done_at, substr(p.done_at, 1, 10) AS day, "
        " (SELECT MAX(b.start) FROM b WHERE b.day = substr(p.done_at, 1, 10) AND b.start <= p.done_at) AS start, "
        " (SELECT CASE WHEN m.plan_id = 0 THEN '' ELSE '@' || m.plan_id END FROM members m "
        "  WHERE m.guild_id = p.guild_id AND m.user_id = p.user_id) AS sfx "
        " FROM progress p WHERE p.guild_id = :g AND p.status = 'done' AND p.done_at GLOB :shape), "
        "days AS MATERIALIZED (SELECT k.user_id, k.done_at, b.week || k.sfx AS week, b.month || k.sfx AS month "
        " FROM keyed k "
        " JOIN b ON b.day = k.day AND b.start = k.start), "
        "new AS MATERIALIZED (SELECT week AS period, user_id, COUNT(*) AS done_count, MAX(done_at) AS reached_at "
        " FROM days "
        " GROUP BY week, user_id "
        " UNION ALL SELECT month, user_id, COUNT(*), MAX(done_at) FROM days GROUP BY month, user_id) "
    )
    return sql, {"starts": json.dumps(starts), "g": guild_id, "shape": DONE_AT_SHAPE}


# PostgreSQL keys each row with its own zone rules (AT TIME ZONE); a done date in year 1 or 9999 keeps its UTC
# date, as bot.domain.timeutil.local_date does there. asyncpg stores datetime.min / datetime.max (year 1 at
# midnight, the last microsecond of 9999) as -infinity / infinity and reads them back as those datetimes: they
# get those datetimes' UTC dates. Labels are built as day_period_key writes them.
_PG_NEW_COUNTS = (
    "WITH days AS MATERIALIZED (SELECT p.user_id, p.done_at, "
    " CASE WHEN p.done_at = '-infinity' THEN DATE '0001-01-01' WHEN p.done_at = 'infinity' THEN DATE '9999-12-31' "
    "  WHEN EXTRACT(YEAR FROM p.done_at AT TIME ZONE 'UTC') IN (1, 9999) THEN (p.done_at AT TIME ZONE 'UTC')::date "
    "  ELSE (p.done_at AT TIME ZONE :tz)::date END AS day, "
    " (SELECT CASE WHEN m.plan_id = 0 THEN '' ELSE '@' || m.plan_id END FROM members m "
    "  WHERE m.guild_id = p.guild_id AND m.user_id = p.user_id) AS sfx "
    " FROM progress p WHERE p.guild_id = :g AND p.status = 'done' AND p.done_at IS NOT NULL), "
    "new AS MATERIALIZED (SELECT "
    " EXTRACT(ISOYEAR FROM day)::int || '-W' || lpad(EXTRACT(WEEK FROM day)::int::text, 2, '0') || sfx "
    " AS period, user_id, COUNT(*) AS done_count, MAX(done_at) AS reached_at FROM days GROUP BY 1, 2 "
    " UNION ALL SELECT EXTRACT(YEAR FROM day)::int || '-' || lpad(EXTRACT(MONTH FROM day)::int::text, 2, '0') "
    " || sfx, user_id, COUNT(*), MAX(done_at) FROM days GROUP BY 1, 2) "
)


def _new_counts(conn: Connection, guild_id: int, tz: ZoneInfo) -> tuple[str, dict[str, Any]]:
    """`WITH ..., new AS (period, user_id, done_count, reached_at)` for this engine, and its parameters."""
    if conn.dialect.name == "sqlite":
        return _sqlite_new_counts(conn, guild_id, tz)
    return _PG_NEW_COUNTS, {"g": guild_id, "tz": tz.key}


def _utc_days(conn: Connection, guild_id: int) -> list[date]:
    """SQLite: the distinct UTC calendar days of the server's done rows (a few hundred: the days people studied)."""
    days = []
    for (text_,) in conn.execute(text(
            "SELECT DISTINCT substr(done_at, 1, 10) FROM progress WHERE guild_id = :g AND status = 'done' "
            "AND done_at GLOB :shape"), {"g": guild_id, "shape": DONE_AT_SHAPE}):
        try:
            days.append(date.fromisoformat(text_))
        except ValueError:  # a malformed date an old database may hold: its rows find no day and count nowhere
            log.warning("guild %s has a done date that is not a date: %r", guild_id, text_)
    return days


# Only rows that change are written, so the triggers (visible copy, rank_counts) run for those alone: a new
# zone moves only the done times near a local midnight into another week or month.
_DELETE_GONE = (
    "DELETE FROM period_counts WHERE guild_id = :g AND NOT EXISTS (SELECT 1 FROM new n "
    " WHERE n.period = period_counts.period AND n.user_id = period_counts.user_id)"
)
_UPSERT_NEW = (
    "INSERT INTO period_counts (guild_id, period, user_id, done_count, reached_at) "
    "SELECT CAST(:g AS BIGINT), period, user_id, done_count, reached_at FROM new WHERE true "
    "ON CONFLICT (guild_id, period, user_id) DO UPDATE SET done_count = excluded.done_count, "
    "reached_at = excluded.reached_at "
    "WHERE period_counts.done_count IS DISTINCT FROM excluded.done_count "
    "OR period_counts.reached_at IS DISTINCT FROM excluded.reached_at"
)


def rebuild_period_counts_sync(conn: Connection, guild_id: int, tz: ZoneInfo) -> None:
    """Recount every week and month count of a server in `tz`, inside the caller's transaction (run_sync).

    The database does the per-row work (the event loop only awaits it): SQLite from a list of local-day starts,
    PostgreSQL with its own zone rules. Only the rows that change are written.
    """
    with_new, params = _new_counts(conn, guild_id, tz)
    if conn.dialect.name == "sqlite":  # (SQLite 3.40: `IS DISTINCT FROM` is there since 3.39)
        conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS rebuild_counts (period TEXT NOT NULL, "
                          "user_id INTEGER NOT NULL, done_count INTEGER NOT NULL, reached_at TEXT NOT NULL, "
                          "PRIMARY KEY (period, user_id)) WITHOUT ROWID"))
        conn.execute(text("DELETE FROM temp.rebuild_counts"))
        conn.execute(text(with_new + "INSERT INTO temp.rebuild_counts (period, user_id, done_count, reached_at) "  # noqa: S608
                                     "SELECT period, user_id, done_count, reached_at FROM new"), params)
        with_table = "WITH new AS (SELECT * FROM temp.rebuild_counts) "
        conn.execute(text(with_table + _DELETE_GONE), {"g": guild_id})
        conn.execute(text(with_table + _UPSERT_NEW), {"g": guild_id})
        conn.execute(text("DELETE FROM temp.rebuild_counts"))
        return
    # PostgreSQL: one statement; the DELETE (rows no longer counted) and the upsert touch different rows
    conn.execute(text(with_new.rstrip() + ", gone AS (" + _DELETE_GONE + " RETURNING 1) " + _UPSERT_NEW), params)


async def rebuild_period_counts(db: Database, guild_id: int, tz: ZoneInfo) -> None:
    """Recompute every period count of a server in `tz`, in one transaction (see `rebuild_period_counts_sync`)."""
    await db.run_sync(lambda conn: rebuild_period_counts_sync(conn, guild_id, tz))


class _epoch(FunctionElement[float]):
    """Seconds since 1970 of an instant column (NULL when SQLite holds text that is not a date)."""

    type = Float()
    inherit_cache = True


@compiles(_epoch, "sqlite")
def _epoch_sqlite(element: _epoch, compiler: Any, **kw: Any) -> str:
    return f"unixepoch({compiler.process(element.clauses, **kw)})"


@compiles(_epoch, "postgresql")
def _epoch_postgresql(element: _epoch, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


# What a member's period counts depend on, per member: any write through db.progress changes one of these
# (rows added or deleted change the count; every rewritten row gets a new updated_at; the done dates' sum and
# latest catch a done date moved with an older clock).
_IS_DONE = _p.status == Status.DONE.value
_FINGERPRINTS = (
    select(_p.user_id, func.count(), func.max(_p.updated_at),
           func.coalesce(func.sum(case((_IS_DONE, _epoch(_p.done_at) * (_p.step + 7)))), 0.0),
           func.max(case((_IS_DONE, _p.done_at))))
    .where(_p.guild_id == bindparam("g")).group_by(_p.user_id)
)
Fingerprint = tuple[int, Any, float, Any]


def _stored_zone(conn: Connection, guild_id: int) -> str | None:
    found = conn.execute(select(guild_settings.c.timezone).where(guild_settings.c.guild_id == guild_id)).first()
    return str(found[0]) if found and found[0] else None


def _fingerprints(conn: Connection, guild_id: int) -> dict[int, Fingerprint]:
    return {int(r[0]): (int(r[1]), r[2], float(r[3]), r[4])
            for r in conn.execute(_FINGERPRINTS, {"g": guild_id})}


@dataclass(frozen=True, slots=True)
class PeriodRecount:
    """A server's week and month counts recounted in a new zone from a snapshot, as changes to the stored ones,
    with each member's fingerprint in that snapshot (to tell who wrote since). Instants are as the engine
    stores them (SQLite text, PostgreSQL timestamps): they go back into the same engine unchanged."""

    guild_id: int
    zone: str
    stored_zone: str | None  # the zone the stored counts were in (guild_settings; None: the default)
    upserts: list[tuple[str, int, int, Any]]  # (period, user_id, done_count, reached_at)
    deletes: list[tuple[str, int]]  # (period, user_id)
    fingerprints: dict[int, Fingerprint]


_CHUNK = 2000  # rows fetched per await: the loop runs other tasks between chunks of a large recount


def _fetch_in_chunks(conn: Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(text(sql), params)
    found: list[tuple[Any, ...]] = []
    for chunk in result.partitions(_CHUNK):
        found.extend(tuple(r) for r in chunk)
    return found


def _recount_in_snapshot(conn: Connection, guild_id: int, tz: ZoneInfo) -> PeriodRecount:
    """The counting of `rebuild_period_counts_sync`, read-only, in one snapshot (the reader): what would change."""
    stored_zone = _stored_zone(conn, guild_id)
    fingerprints = _fingerprints(conn, guild_id)
    with_new, params = _new_counts(conn, guild_id, tz)
    # one statement, so the new counts are made once (a CTE used twice is materialized on both engines)
    changes = _fetch_in_chunks(conn, with_new + (  # noqa: S608 - fixed fragments only
        "SELECT 1, n.period, n.user_id, n.done_count, n.reached_at FROM new n "
        "LEFT JOIN period_counts o ON o.guild_id = :g AND o.period = n.period AND o.user_id = n.user_id "
        "WHERE o.done_count IS DISTINCT FROM n.done_count OR o.reached_at IS DISTINCT FROM n.reached_at "
        "UNION ALL SELECT 0, period, user_id, NULL, NULL FROM period_counts WHERE guild_id = :g AND NOT EXISTS "
        "(SELECT 1 FROM new n WHERE n.period = period_counts.period AND n.user_id = period_counts.user_id)"), params)
    upserts = [(str(r[1]), int(r[2]), int(r[3]), r[4]) for r in changes if r[0] == 1]
    deletes = [(str(r[1]), int(r[2])) for r in changes if r[0] == 0]
    return PeriodRecount(guild_id, tz.key, stored_zone, upserts, deletes, fingerprints)


async def recount_periods(db: Database, guild_id: int, tz: ZoneInfo) -> PeriodRecount:
    """Count a server's weeks and months in `tz` from a snapshot (the slow part of a zone change: seconds at
    400,000 done steps), with no write lock and no row lock held: the database works, the event loop awaits it,
    every other command keeps going. Nothing is written."""
    return await db.run_sync(lambda conn: _recount_in_snapshot(conn, guild_id, tz), write=False)


def _done_rows_readable() -> ColumnElement[bool]:
    """Done rows whose done_at can be keyed (SQLite may hold odd text: those count nowhere, as in a rebuild)."""
    return and_(_IS_DONE, _p.done_at.is_not(None))


def _recount_members(conn: Connection, guild_id: int, users: Iterable[int], tz: ZoneInfo) -> None:
    """Recount every week and month of a few members from their rows (those who wrote during the snapshot)."""
    rows_of = select(_p.done_at).where(_p.guild_id == guild_id, _p.user_id == bindparam("u"), _done_rows_readable())
    if conn.dialect.name == "sqlite":
        rows_of = rows_of.where(_p.done_at.op("GLOB")(bindparam("shape", DONE_AT_SHAPE, type_=String)))
    for user in users:
        counts: dict[str, list[datetime]] = defaultdict(list)
        plan_id = int(conn.execute(select(_m.plan_id).where(_m.guild_id == guild_id, _m.user_id == user))
                      .scalar() or BUNDLED)
        for (moment,) in conn.execute(rows_of, {"u": user}):
            if moment is None:
                continue  # not a date: counts nowhere, as in the full rebuild
            for kind in PERIOD_KINDS:
                counts[track_key(period_key(moment, tz, kind), plan_id)].append(moment)
        conn.execute(delete(period_counts).where(_pc.guild_id == guild_id, _pc.user_id == user))
        if counts:
            conn.execute(period_counts.insert(), [
                {"guild_id": guild_id, "period": period, "user_id": user, "done_count": len(moments),
                 "reached_at": max(moments)} for period, moments in counts.items()])


def _apply_recount(conn: Connection, recount: PeriodRecount, tz: ZoneInfo) -> None:
    """Write a snapshot's recount inside the caller's transaction; members whose rows changed since the
    snapshot (their fingerprint differs) are recounted here from their rows instead."""
    guild_id = recount.guild_id
    now = _fingerprints(conn, guild_id)
    changed = {u for u in now.keys() | recount.fingerprints.keys() if now.get(u) != recount.fingerprints.get(u)}
    deletes = [{"p": period, "u": user} for period, user in recount.deletes if user not in changed]
    if deletes:
        conn.execute(text("DELETE FROM period_counts WHERE guild_id = :g AND period = :p AND user_id = :u")
                     .bindparams(g=guild_id), deletes)
    upserts = [{"p": period, "u": user, "n": count, "r": reached}
               for period, user, count, reached in recount.upserts if user not in changed]
    if upserts:  # the reached_at values are as this engine returned them: bound back untyped
        conn.execute(text(
            "INSERT INTO period_counts (guild_id, period, user_id, done_count, reached_at) VALUES (:g, :p, :u, :n, :r) "
            "ON CONFLICT (guild_id, period, user_id) DO UPDATE SET done_count = excluded.done_count, "
            "reached_at = excluded.reached_at").bindparams(g=guild_id), upserts)
    _recount_members(conn, guild_id, sorted(u for u in changed if u in now), tz)


async def change_timezone(db: Database, guild_id: int, tz: ZoneInfo, now: datetime, *,
                          recount: PeriodRecount | None = None) -> datetime | None:
    """Set the server's zone, recount its weeks and months in it and move its next leaderboard slot: the
    writes in ONE transaction, so a failure anywhere (a full disk, a read-only file) leaves the old zone with
    its old boards.

    The counting happens first, outside that transaction (`recount_periods` on the reader, or the `recount`
    given); the transaction then writes only what changed, and recounts the few members who wrote in between
    from their rows. So the write lock (SQLite) or the row locks (PostgreSQL) are held for a scan of fingerprints
    and the changed rows, not for the whole count. Returns the next leaderboard slot (None when posts are off).
    """
    if recount is None:
        recount = await recount_periods(db, guild_id, tz)

    def change(conn: Connection) -> datetime | None:
        # The recount is a difference from the counts it read: it applies only to those, in the same zone
        # (another change of this server's zone committed in between: count again, here).
        usable = (recount is not None and recount.guild_id == guild_id and recount.zone == tz.key
                  and recount.stored_zone == _stored_zone(conn, guild_id))
        zone = upsert(guild_settings).values(guild_id=guild_id, timezone=tz.key)
        conn.execute(zone.on_conflict_do_update(index_elements=[guild_settings.c.guild_id],
                                                set_={"timezone": zone.excluded.timezone}))
        if recount is not None and usable:
            _apply_recount(conn, recount, tz)
        else:
            rebuild_period_counts_sync(conn, guild_id, tz)
        row = conn.execute(select(community_settings).where(community_settings.c.guild_id == guild_id)).first()
        if row is None:
            return None
        upcoming = next_slot(_schedule(row), now, tz)
        if upcoming is not None:
            conn.execute(update(community_settings).where(community_settings.c.guild_id == guild_id)
                         .values(leaderboard_next_slot=upcoming))
        return upcoming

    return await db.run_sync(change)


# ---------------------------------------------------------------------------------------------- buddies


async def buddies(db: Database, guild_id: int, step: int, exclude: int, limit: int = 30, *,
                  plan_id: int = BUNDLED) -> tuple[list[Buddy], int]:
    """Visible members whose current step is `step` (most recently active first), and how many there are."""
    on_step = progress.alias("p")
    rows = list(await db.fetchall(
        select(_m.user_id, on_step.c.status, func.count().over())
        .select_from(members.outerjoin(on_step, and_(on_step.c.guild_id == _m.guild_id,
                                                     on_step.c.user_id == _m.user_id,
                                                     on_step.c.step == _m.current_step)))
        .where(_m.guild_id == guild_id, _m.plan_id == plan_id, _m.current_step == step, _m.visible == SHOWN,
               _m.user_id != exclude)
        .order_by(_m.reached_at.desc(), _m.user_id).limit(limit)
    ))
    found = [tuple(r) for r in rows]
    total = int(found[0][2]) if found else 0
    return [Buddy(int(r[0]), r[1] == Status.IN_PROGRESS.value) for r in found], total


async def nearby_steps(db: Database, guild_id: int, step: int, exclude: int, radius: int = 3, *,
                       plan_id: int = BUNDLED) -> dict[int, int]:
    """How many visible members are on each step within `radius` of `step` (for an empty /buddies)."""
    rows = await db.fetchall(
        select(_m.current_step, func.count())
        .where(_m.guild_id == guild_id, _m.plan_id == plan_id, _m.visible == SHOWN, _m.user_id != exclude,
               _m.current_step.between(step - radius, step + radius))
        .group_by(_m.current_step)
    )
    counts = {int(on): int(n) for on, n in (tuple(r) for r in rows)}
    return {on: n for on, n in counts.items() if on != step}


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
    kind: ScheduleKind = row.leaderboard_schedule
    at = parse_hhmm(row.leaderboard_time) if row.leaderboard_time else None
    return PostSchedule(kind, at, row.leaderboard_weekday)


def _cohort(row: Any) -> Cohort | None:
    """The stored cohort, or None when there is none or what is stored is not one (an old database may hold a
    start that is not a date, or a pace that is not a positive number): nobody's command fails over it."""
    start, pace = row.cohort_start, row.cohort_pace
    if start is None and pace is not None:  # (a start the Day type could not read reads as None)
        log.warning("ignoring the stored cohort of guild %s: no readable start, pace %r", row.guild_id, pace)
        return None
    if not start or pace is None:
        return None
    try:
        cohort = Cohort(start if isinstance(start, date) else date.fromisoformat(str(start)), float(pace))
    except (TypeError, ValueError):
        log.warning("ignoring the stored cohort of guild %s: start %r, pace %r", row.guild_id, start, pace)
        return None
    if not (math.isfinite(cohort.pace) and cohort.pace > 0):
        log.warning("ignoring the stored cohort of guild %s: pace %r", row.guild_id, pace)
        return None
    return cohort


async def get_settings(db: Database, guild_id: int) -> CommunitySettings:
    """Every community setting of a server, its milestone roles and the last failure of each kind."""

    def read(conn: Connection) -> CommunitySettings:
        row = conn.execute(select(community_settings).where(community_settings.c.guild_id == guild_id)).first()
        roles = {int(r[0]): int(r[1]) for r in conn.execute(
            select(milestone_roles.c.phase, milestone_roles.c.role_id)
            .where(milestone_roles.c.guild_id == guild_id).order_by(milestone_roles.c.phase))}
        failures = {str(r[0]): Failure(r[1], str(r[2])) for r in conn.execute(
            select(community_failures.c.kind, community_failures.c.at, community_failures.c.message)
            .where(community_failures.c.guild_id == guild_id))}
        if row is None:
            return CommunitySettings(guild_id, roles=roles, failures=failures)
        return CommunitySettings(
            guild_id=guild_id,
            leaderboard_channel=row.leaderboard_channel,
            schedule=_schedule(row),
            next_slot=row.leaderboard_next_slot,
            last_slot=row.leaderboard_last_slot,
            posted_at=row.leaderboard_posted_at,
            milestones_channel=row.milestones_channel,
            cohort=_cohort(row),
            roles=roles,
            failures=failures,
        )

    return await db.run_sync(read, write=False)


async def get_cohort(db: Database, guild_id: int, *, plan_id: int = BUNDLED) -> Cohort | None:
    """The cohort schedule of a track (plan 0: the server's), for /progress (None when there is none)."""
    if plan_id != BUNDLED:
        c = track_cohorts.c
        row = await db.fetchone(select(c.guild_id, c.cohort_start, c.cohort_pace)
                                .where(c.guild_id == guild_id, c.plan_id == plan_id))
        return _cohort(row) if row else None
    settings = community_settings.c
    row = await db.fetchone(select(settings.guild_id, settings.cohort_start, settings.cohort_pace)
                            .where(settings.guild_id == guild_id))
    return _cohort(row) if row else None


def _upsert(guild_id: int, **values: Any) -> Any:
    stmt = upsert(community_settings).values(guild_id=guild_id, **values)
    return stmt.on_conflict_do_update(index_elements=[community_settings.c.guild_id],
                                      set_={name: stmt.excluded[name] for name in values})


async def set_leaderboard(db: Database, guild_id: int, channel_id: int | None, schedule: PostSchedule,
                          next_slot: datetime | None) -> None:
    async with db.transaction() as conn:
        await conn.execute(_upsert(guild_id, leaderboard_channel=channel_id, leaderboard_schedule=schedule.kind,
                                   leaderboard_time=schedule.at.strftime("%H:%M") if schedule.at else None,
                                   leaderboard_weekday=schedule.weekday, leaderboard_next_slot=next_slot))


async def reschedule(db: Database, guild_id: int, next_slot: datetime | None) -> None:
    async with db.transaction() as conn:
        await conn.execute(update(community_settings).where(community_settings.c.guild_id == guild_id)
                           .values(leaderboard_next_slot=next_slot))


async def set_milestones_channel(db: Database, guild_id: int, channel_id: int | None) -> None:
    async with db.transaction() as conn:
        await conn.execute(_upsert(guild_id, milestones_channel=channel_id))


async def set_milestone_role(db: Database, guild_id: int, phase: int, role_id: int | None) -> None:
    roles = milestone_roles.c
    async with db.transaction() as conn:
        if role_id is None:
            await conn.execute(delete(milestone_roles).where(roles.guild_id == guild_id, roles.phase == phase))
        else:
            stmt = upsert(milestone_roles).values(guild_id=guild_id, phase=phase, role_id=role_id)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[roles.guild_id, roles.phase],
                                                          set_={"role_id": stmt.excluded.role_id}))


async def set_cohort(db: Database, guild_id: int, cohort: Cohort | None, *, plan_id: int = BUNDLED) -> None:
    if plan_id != BUNDLED:
        values = {"cohort_start": cohort.start if cohort else None, "cohort_pace": cohort.pace if cohort else None}
        stmt = upsert(track_cohorts).values(guild_id=guild_id, plan_id=plan_id, **values)
        async with db.transaction() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=["guild_id", "plan_id"], set_=values))
        return
    async with db.transaction() as conn:
        await conn.execute(_upsert(guild_id, cohort_start=cohort.start if cohort else None,
                                   cohort_pace=cohort.pace if cohort else None))


# ---------------------------------------------------------------------------------------------- scheduled posts


@dataclass(frozen=True, slots=True)
class DuePost:
    guild_id: int
    channel_id: int | None
    schedule: PostSchedule
    next_slot: datetime


def due_posts_query(now: datetime, ownership: Ownership | None = None) -> Select[Any]:
    """The query of `due_posts` (for tests that look at its plan): driven by the `community_due` index."""
    settings = community_settings.c
    stmt = select(settings.guild_id, settings.leaderboard_channel, settings.leaderboard_schedule,
                  settings.leaderboard_time, settings.leaderboard_weekday, settings.leaderboard_next_slot).where(
        settings.leaderboard_next_slot.is_not(None), settings.leaderboard_next_slot <= now)
    shard = owned(settings.guild_id, ownership)
    return stmt if shard is None else stmt.where(shard)


async def due_posts(db: Database, now: datetime, *, ownership: Ownership | None = None) -> list[DuePost]:
    """Servers whose next leaderboard slot is at or before `now` (only those on this process's shards, when
    `ownership` is given)."""
    rows = await db.fetchall(due_posts_query(now, ownership))
    return [DuePost(int(r.guild_id), r.leaderboard_channel, _schedule(r), r.leaderboard_next_slot) for r in rows
            if r.leaderboard_next_slot is not None]


async def record_failure(db: Database, guild_id: int, kind: str, at: datetime, message: str) -> None:
    if kind not in FAILURE_KINDS:
        raise ValueError(f"unknown failure kind {kind!r}")
    async with db.transaction() as conn:
        stmt = upsert(community_failures).values(guild_id=guild_id, kind=kind, at=at, message=message[:500])
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=[community_failures.c.guild_id, community_failures.c.kind],
            set_={"at": stmt.excluded.at, "message": stmt.excluded.message}))

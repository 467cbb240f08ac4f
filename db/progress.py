"""Per-member progress storage: step states, the ranking summary, period counts and undo history.

The rules (what a change does, the summary row, the period counts, undo and redo) are pure functions in
bot/domain/changes.py. This module reads the rows into domain objects, calls the planner, and writes its plan.

Every write (`apply_changes`, `change_member`, `undo`, `redo`, ...) is one `Database.run_sync` call: read,
decide and every statement run with a sync SQLAlchemy Connection in one transaction and a single awaited hop,
instead of one hop per statement; so rankings never have to aggregate raw progress rows. The statements are
SQLAlchemy Core on db/tables.py (the same on SQLite and PostgreSQL); instants bind and read as aware datetimes.

Reading is robust per row: a stored value an old database holds that cannot be read (a done date that is not a
date, an unknown status) leaves that value or row out with a warning, never the member's command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from bot.domain.changes import (
    ChangePlan,
    HistoryEntry,
    move_targets,
    plan_changes,
    summarize,
)

# Re-exported (the `X as X` form): callers and tests import these two from here.
from bot.domain.changes import ChangeResult as ChangeResult  # noqa: PLC0414
from bot.domain.changes import StepChange as StepChange  # noqa: PLC0414
from bot.domain.marking import StepDiff
from bot.domain.progress import MemberProgress, Status, StepState
from bot.domain.timeutil import local_date, monday_of
from bot.domain.tracks import BUNDLED, track_key
from db.database import Database, from_db
from db.dialects import upsert
from db.tables import (
    guild_settings,
    history,
    members,
    nudges,
    period_counts,
    plans,
    progress,
    step_durations,
    weekly_active,
    weekly_counts,
)

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # members.reached_at of a member with nothing done


# ---------------------------------------------------------------------- reading rows, whatever they hold

_UNREADABLE_SINCE = datetime(2000, 1, 1, tzinfo=UTC)  # stands in for an unreadable `updated_at`
_STATUS = {status.value: status for status in Status}


def _readable_instant(value: object) -> datetime | None:
    """An instant read from the store: the `Instant` column type already gives an aware datetime (None when
    the stored text is unreadable); ISO text (an untyped query) is parsed here, with the same rule."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        instant = from_db(value)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def readable_state(guild_id: int, user_id: int, row: Sequence[object]) -> StepState | None:
    """One stored progress row (step, status, note, updated_at, done_at) as a StepState, whatever an old database
    holds: an unreadable date is left out (the step keeps its status), an unknown status or step leaves the row
    out. One bad row never stops another member's command, nor this member's."""
    step, status, note, updated_at, done_at = row
    if not isinstance(step, int) or status not in _STATUS:
        log.warning("progress row of member %s in guild %s is unreadable (step %r, status %r); left out",
                    user_id, guild_id, step, status)
        return None
    done = _readable_instant(done_at) if done_at is not None else None
    if done_at is not None and done is None:
        log.warning("done date %r of step %s, member %s in guild %s is unreadable; left out", done_at, step,
                    user_id, guild_id)
    return StepState(step, _STATUS[str(status)], note if isinstance(note, str) else None,
                     _readable_instant(updated_at) or _UNREADABLE_SINCE, done)


def _readable_status(text: object) -> Status | None:
    return _STATUS.get(text) if isinstance(text, str) else None


def _readable_zone(name: object, default: ZoneInfo) -> ZoneInfo:
    if not name or not isinstance(name, str):
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("stored time zone %r is unknown; using %s", name, default.key)
        return default


def _member(rows: Sequence[Sequence[Any]], guild_id: int, user_id: int) -> MemberProgress:
    """Rows of (step, status, note, updated_at, done_at, visible, ...): a LEFT JOIN of the member's head onto
    their progress rows, so at least one row, with step NULL when they have none."""
    states: dict[int, StepState] = {}
    for row in rows:
        if row[0] is None:
            continue
        state = readable_state(guild_id, user_id, row[:5])
        if state is not None:
            states[state.step] = state
    visible = rows[0][5] if rows else None
    return MemberProgress(guild_id, user_id, states, True if visible is None else bool(visible))


# Statements are built once with named parameters (:g guild, :u user); SQLAlchemy caches their compiled form.
_G = bindparam("g", type_=BigInteger)
_U = bindparam("u", type_=BigInteger)
_OF_MEMBER = (members.c.guild_id == _G, members.c.user_id == _U)
# Undo and redo stay on the member's current track: a batch made on another track waits until they are back.
_MEMBER_PLAN = func.coalesce(select(members.c.plan_id).where(*_OF_MEMBER).scalar_subquery(), BUNDLED)
_OF_HISTORY = (history.c.guild_id == _G, history.c.user_id == _U, history.c.plan_id == _MEMBER_PLAN)


def default_plan_of(guild_id: Any) -> Any:
    """The track a new member of the server starts on: the server's default plan while it exists, else plan 0."""
    return func.coalesce(
        select(plans.c.plan_id)
        .select_from(guild_settings.join(plans, and_(plans.c.guild_id == guild_settings.c.guild_id,
                                                     plans.c.plan_id == guild_settings.c.default_plan)))
        .where(guild_settings.c.guild_id == guild_id, plans.c.removed_at.is_(None))
        .scalar_subquery(), BUNDLED)


def _load_statement(*head: Any) -> Any:
    """The member's progress rows LEFT JOINed onto a one-row head (visible, then `head`): one query, one row
    at least, so a member with no progress (or none stored) still reads their head."""
    k = select(select(members.c.visible).where(*_OF_MEMBER).scalar_subquery().label("visible"), *head).subquery("k")
    p = progress
    return (select(p.c.step, p.c.status, p.c.note, p.c.updated_at, p.c.done_at, *k.c)
            .select_from(k.outerjoin(p, and_(p.c.guild_id == _G, p.c.user_id == _U)))
            .order_by(p.c.step))


_LOAD = _load_statement()
_LOAD_FOR_WRITE = _load_statement(
    select(func.coalesce(func.max(history.c.batch), 0) + 1).where(*_OF_HISTORY, history.c.undone == 0)
    .scalar_subquery().label("next_batch"),
    exists().where(*_OF_HISTORY, history.c.undone == 1).label("has_undone"),
    select(guild_settings.c.timezone).where(guild_settings.c.guild_id == _G).scalar_subquery().label("tz"),
    select(members.c.plan_id).where(*_OF_MEMBER).scalar_subquery().label("plan_id"),
    default_plan_of(_G).label("default_plan"),
    select(members.c.created_at).where(*_OF_MEMBER).scalar_subquery().label("created_at"),
)


def _read_member(conn: Connection, guild_id: int, user_id: int) -> MemberProgress:
    return _member(conn.execute(_LOAD, {"g": guild_id, "u": user_id}).all(), guild_id, user_id)


async def load_member(db: Database, guild_id: int, user_id: int) -> MemberProgress:
    """A member's progress (empty, visible, for someone the bot has never seen)."""
    return await db.run_sync(lambda conn: _read_member(conn, guild_id, user_id), write=False)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a write needs to know, read in one query: progress, visibility, next history batch, zone."""

    member: MemberProgress
    next_batch: int
    has_undone: bool
    tz: ZoneInfo
    plan_id: int  # the member's track (the server's default for a member without a row yet)
    started: datetime | None  # when the member's row was made (None: it is made by this write)


_LOCK_MEMBER = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


def _lock_member(conn: Connection, guild_id: int, user_id: int) -> None:
    """Make this transaction the member's only progress writer until it ends (first thing in every write).

    SQLite: nothing to do, writers already take turns (BEGIN IMMEDIATE). PostgreSQL: writers run concurrently
    (several processes, READ COMMITTED), and a write reads the member's rows, plans, then writes the summary and
    the next history batch from what it read; two at once would each count only their own change. A
    transaction-scoped advisory lock on the member (a 64-bit key from guild and user; a collision only makes two
    members wait for each other) serialises them, also for a member who has no row yet to lock.
    """
    if conn.dialect.name != "postgresql":
        return
    key = (guild_id * 0x9E3779B97F4A7C15 ^ user_id) & 0xFFFF_FFFF_FFFF_FFFF
    conn.execute(_LOCK_MEMBER, {"key": key - (1 << 64) if key >= 1 << 63 else key})


def _load_for_write(conn: Connection, guild_id: int, user_id: int, default_tz: ZoneInfo) -> _Loaded:
    """Inside `Database.run_sync`, in the write transaction, after `_lock_member`."""
    rows = conn.execute(_LOAD_FOR_WRITE, {"g": guild_id, "u": user_id}).all()
    head = rows[0]
    plan_id = head[9] if head[9] is not None else head[10]
    started = head[11] if isinstance(head[11], datetime) else None
    return _Loaded(_member(rows, guild_id, user_id), int(head[6]), bool(head[7]),
                   _readable_zone(head[8], default_tz), int(plan_id or BUNDLED), started)


# ---------------------------------------------------------------------- writing a plan

def _ensure_member(guild_id: int, user_id: int, now: datetime) -> Insert:
    """The member's row if they have none (a member with nothing done), nothing otherwise."""
    return (upsert(members)
            .values(guild_id=guild_id, user_id=user_id, reached_at=EPOCH, created_at=now,
                    plan_id=default_plan_of(guild_id))
            .on_conflict_do_nothing(index_elements=["guild_id", "user_id"]))


async def ensure_member(conn: AsyncConnection, guild_id: int, user_id: int, now: datetime) -> None:
    """Inside `Database.transaction()`: make sure the member has a row (progress, reminders reference it)."""
    await conn.execute(_ensure_member(guild_id, user_id, now))


def ensure_member_sync(conn: Connection, guild_id: int, user_id: int, now: datetime) -> None:
    """The same inside `Database.run_sync(fn)`, with the sync connection `fn` receives."""
    conn.execute(_ensure_member(guild_id, user_id, now))


def _upsert_summaries() -> Any:
    ins = upsert(members)
    return ins.on_conflict_do_update(
        index_elements=["guild_id", "user_id"],
        set_={"done_count": ins.excluded.done_count, "reached_at": ins.excluded.reached_at,
              "current_step": ins.excluded.current_step})


def _upsert_steps() -> Any:
    ins = upsert(progress)
    return ins.on_conflict_do_update(
        index_elements=["guild_id", "user_id", "step"],
        set_={"status": ins.excluded.status, "note": ins.excluded.note, "updated_at": ins.excluded.updated_at,
              "done_at": ins.excluded.done_at})


def _upsert_periods() -> Any:
    ins = upsert(period_counts)
    return ins.on_conflict_do_update(
        index_elements=["guild_id", "period", "user_id"],
        set_={"done_count": ins.excluded.done_count, "reached_at": ins.excluded.reached_at})


# Built once (SQLAlchemy also caches their compiled SQL): a write used to build all three anew on every call.
_UPSERT_SUMMARIES = _upsert_summaries()
_UPSERT_STEPS = _upsert_steps()
_UPSERT_PERIODS = _upsert_periods()


_DELETE_STEP = delete(progress).where(progress.c.guild_id == _G, progress.c.user_id == _U,
                                      progress.c.step == bindparam("s", type_=Integer))
_CLEAR_REDO = delete(history).where(*_OF_HISTORY, history.c.undone == 1)
_DELETE_PERIOD = delete(period_counts).where(period_counts.c.guild_id == _G, period_counts.c.user_id == _U,
                                             period_counts.c.period == bindparam("p"))


def _write(conn: Connection, loaded: _Loaded, plan: ChangePlan, now: datetime, *,
           record_history: bool) -> ChangeResult:
    """Store `plan` (made from `loaded`; the transaction holds the write lock, so nothing else changed it)."""
    guild_id, user_id = loaded.member.guild_id, loaded.member.user_id
    key = {"g": guild_id, "u": user_id}
    summary = plan.summary
    if summary is None:  # nothing changed: the member is known from now on, nothing else is written
        ensure_member_sync(conn, guild_id, user_id, now)
        return replace(plan.result, plan_id=loaded.plan_id)
    # The member row first (progress and history reference it), with its new summary.
    conn.execute(_UPSERT_SUMMARIES, {
        "guild_id": guild_id, "user_id": user_id, "done_count": summary.done_count,
        "reached_at": summary.reached_at or EPOCH, "current_step": summary.current_step, "created_at": now,
        "plan_id": loaded.plan_id})
    left_done = _durations_left(conn, loaded, plan)  # read before the rows change
    if plan.deletes:
        conn.execute(_DELETE_STEP, [{**key, "s": step} for step in plan.deletes])
    if plan.upserts:
        conn.execute(_UPSERT_STEPS, [
            {"guild_id": guild_id, "user_id": user_id, "step": s.step, "status": s.status.value, "note": s.note,
             "updated_at": now, "done_at": s.done_at} for s in plan.upserts])
    if record_history:
        if loaded.has_undone:  # a new change clears what could be redone
            conn.execute(_CLEAR_REDO, key)
        if plan.history:
            conn.execute(history.insert(), [
                {"guild_id": guild_id, "user_id": user_id, "batch": loaded.next_batch, "step": h.step,
                 "before_status": h.before_status.value if h.before_status else None,
                 "before_note": h.before_note, "before_done_at": h.before_done_at,
                 "after_status": h.after_status.value if h.after_status else None,
                 "after_note": h.after_note, "after_done_at": h.after_done_at, "at": now, "undone": 0,
                 "plan_id": loaded.plan_id}
                for h in plan.history])
    _record_insights(conn, loaded, plan, now, left_done)
    counted = [{"guild_id": guild_id, "period": track_key(p.period, loaded.plan_id), "user_id": user_id,
                "done_count": p.done_count, "reached_at": p.reached_at}
               for p in plan.periods if p.done_count and p.reached_at]
    emptied = [{**key, "p": track_key(p.period, loaded.plan_id)} for p in plan.periods
               if not (p.done_count and p.reached_at)]
    if counted:
        conn.execute(_UPSERT_PERIODS, counted)
    if emptied:
        conn.execute(_DELETE_PERIOD, emptied)
    return replace(plan.result, plan_id=loaded.plan_id)


_SET_TOOK = (update(progress).where(progress.c.guild_id == _G, progress.c.user_id == _U,
                                    progress.c.step == bindparam("s", type_=Integer))
             .values(took_days=bindparam("took", type_=Integer)))
_TOOK_OF = select(progress.c.step, progress.c.took_days).where(
    progress.c.guild_id == _G, progress.c.user_id == _U, progress.c.step.in_(bindparam("steps", expanding=True)),
    progress.c.took_days.is_not(None))


def _add_to_count(table: Any, key: list[str]) -> Any:
    """INSERT a row with its count, or add the count to the row there is (executemany; statements built once)."""
    ins = upsert(table)
    return ins.on_conflict_do_update(index_elements=key, set_={"members": table.c.members + ins.excluded.members})


_BUMP_DURATIONS = _add_to_count(step_durations, ["guild_id", "plan_id", "step", "days"])
_COUNT_WEEK = _add_to_count(weekly_counts, ["guild_id", "plan_id", "week"])
_ACTIVE_WEEK = upsert(weekly_active).on_conflict_do_nothing(index_elements=["guild_id", "plan_id", "week", "user_id"])


def _bump_durations(conn: Connection, guild_id: int, plan_id: int, deltas: Mapping[tuple[int, int], int]) -> None:
    """Add `deltas` ((step, days) -> +n / -n) to the track's step_durations histogram."""
    rows = [{"guild_id": guild_id, "plan_id": plan_id, "step": step, "days": days, "members": delta}
            for (step, days), delta in sorted(deltas.items()) if delta]
    if rows:
        conn.execute(_BUMP_DURATIONS, rows)


def _durations_left(conn: Connection, loaded: _Loaded, plan: ChangePlan) -> dict[int, int]:
    """step -> days it took, of the steps this change takes out of done (their durations leave the histogram)."""
    before, after = loaded.member.states, plan.result.after.states
    left_done = [n for n, s in before.items() if s.status is Status.DONE
                 and (n not in after or after[n].status is not Status.DONE)]
    if not left_done:
        return {}
    key = {"g": loaded.member.guild_id, "u": loaded.member.user_id}
    return {int(step): int(took) for step, took in conn.execute(_TOOK_OF, {**key, "steps": left_done}).all()}


def _record_insights(conn: Connection, loaded: _Loaded, plan: ChangePlan, now: datetime,
                     left_done: dict[int, int]) -> None:
    """Keep /insights' summaries with the write: the days each newly done step took (progress.took_days and the
    step_durations histogram; a step leaving done takes its count back) and the member's active week.

    A step's time runs from the previous step's done time; without one, from when the member started it (its
    in-progress mark) or, for step 1, from their first use of Stepwise; otherwise it is not timed."""
    guild_id, user_id = loaded.member.guild_id, loaded.member.user_id
    key = {"g": guild_id, "u": user_id}
    before, after = loaded.member.states, plan.result.after.states
    deltas: dict[tuple[int, int], int] = {}
    for step, took in left_done.items():
        deltas[(step, took)] = deltas.get((step, took), 0) - 1
    if left_done:
        cleared = [{**key, "s": n, "took": None} for n in left_done if n in after]
        if cleared:
            conn.execute(_SET_TOOK, cleared)
    timed = []
    for state in plan.upserts:
        old = before.get(state.step)
        if state.status is not Status.DONE or state.done_at is None or (old and old.status is Status.DONE):
            continue
        previous = after.get(state.step - 1)
        start = previous.done_at if previous and previous.status is Status.DONE else None
        if start is None and old is not None and old.status is Status.IN_PROGRESS:
            start = old.updated_at
        if start is None and state.step == 1:
            start = loaded.started or now
        if start is None:
            continue
        took = max(0, (state.done_at - start).days)
        timed.append({**key, "s": state.step, "took": took})
        deltas[(state.step, took)] = deltas.get((state.step, took), 0) + 1
    if timed:
        conn.execute(_SET_TOOK, timed)
    _bump_durations(conn, guild_id, loaded.plan_id, deltas)
    if plan.history:
        week = monday_of(local_date(now, loaded.tz))
        this_week: dict[str, object] = {"guild_id": guild_id, "plan_id": loaded.plan_id, "week": week}
        if conn.execute(_ACTIVE_WEEK, {**this_week, "user_id": user_id}).rowcount == 1:
            conn.execute(_COUNT_WEEK, {**this_week, "members": 1})  # their first change on the track this week


async def apply_changes(
    db: Database,
    guild_id: int,
    user_id: int,
    changes: Sequence[StepChange],
    now: datetime,
    *,
    default_tz: ZoneInfo,
    record_history: bool = True,
) -> ChangeResult:
    """Apply step changes for one member in one transaction; see the module docstring."""

    def apply(conn: Connection) -> ChangeResult:
        _lock_member(conn, guild_id, user_id)
        loaded = _load_for_write(conn, guild_id, user_id, default_tz)
        plan = plan_changes(loaded.member, changes, now, loaded.tz)
        return _write(conn, loaded, plan, now, record_history=record_history)

    return await db.run_sync(apply)


# ---------------------------------------------------------------------- commands built on apply_changes

Decide = Callable[[MemberProgress], Sequence[StepChange]]


async def change_member(
    db: Database, guild_id: int, user_id: int, decide: Decide, now: datetime, *, default_tz: ZoneInfo
) -> ChangeResult:
    """Read the member's progress, let `decide` choose the changes, apply them: all in one transaction.

    `decide` may raise (a UserError, say) to write nothing. No changes: nothing is written, not even a
    member row, and the result has `changed == ()`. The whole read-decide-write is one `Database.run_sync` call,
    so `decide` runs inside the transaction, on the database's worker thread: it must be plain, quick domain
    code (no awaiting, no Discord), which choosing a step from a member's progress is.
    """

    def change(conn: Connection) -> ChangeResult:
        _lock_member(conn, guild_id, user_id)
        loaded = _load_for_write(conn, guild_id, user_id, default_tz)
        changes = decide(loaded.member)
        if not changes:
            return ChangeResult(loaded.member, loaded.member, ())
        return _write(conn, loaded, plan_changes(loaded.member, changes, now, loaded.tz), now, record_history=True)

    return await db.run_sync(change)


def _batch_statement(newest: bool) -> Any:
    """The history rows of one batch: the newest not undone (undo), or the oldest undone (redo)."""
    pick = func.max(history.c.batch) if newest else func.min(history.c.batch)
    batch = select(pick).where(*_OF_HISTORY, history.c.undone == (0 if newest else 1)).scalar_subquery()
    h = history.c
    return (select(h.batch, h.step, h.before_status, h.before_note, h.before_done_at, h.after_status, h.after_note,
                   h.after_done_at)
            .where(*_OF_HISTORY, h.batch == batch).order_by(h.id))


_UNDO_BATCH = _batch_statement(newest=True)
_REDO_BATCH = _batch_statement(newest=False)
_MARK_BATCH = (update(history).where(*_OF_HISTORY, history.c.batch == bindparam("b", type_=Integer))
               .values(undone=bindparam("undone_", type_=Integer)))


def _history_entry(guild_id: int, user_id: int, row: Sequence[Any]) -> HistoryEntry | None:
    """A history row (batch, step, before..., after...), whatever an old database holds: an unreadable date is
    left out, an unknown status or step leaves the row out (that step is not moved)."""
    _, step, before_status, before_note, before_done_at, after_status, after_note, after_done_at = row
    statuses = (_readable_status(before_status), _readable_status(after_status))
    if not isinstance(step, int) or any(s is None and t for s, t in
                                        zip(statuses, (before_status, after_status), strict=True)):
        log.warning("history row of member %s in guild %s is unreadable (step %r, statuses %r, %r); left out",
                    user_id, guild_id, step, before_status, after_status)
        return None
    return HistoryEntry(step, statuses[0], before_note if isinstance(before_note, str) else None,
                        _readable_instant(before_done_at), statuses[1],
                        after_note if isinstance(after_note, str) else None, _readable_instant(after_done_at))


async def _move(db: Database, guild_id: int, user_id: int, now: datetime, default_tz: ZoneInfo,
                *, undo: bool) -> tuple[ChangeResult, list[StepDiff]] | None:

    def move(conn: Connection) -> tuple[ChangeResult, list[StepDiff]] | None:
        _lock_member(conn, guild_id, user_id)
        key = {"g": guild_id, "u": user_id}
        rows = conn.execute(_UNDO_BATCH if undo else _REDO_BATCH, key).all()
        if not rows:
            return None
        batch = [entry for row in rows if (entry := _history_entry(guild_id, user_id, row)) is not None]
        targets = move_targets(batch, undo=undo)
        loaded = _load_for_write(conn, guild_id, user_id, default_tz)
        result = _write(conn, loaded, plan_changes(loaded.member, targets, now, loaded.tz), now, record_history=False)
        conn.execute(_MARK_BATCH, {**key, "b": rows[0][0], "undone_": int(undo)})
        return result, result.diffs(t.step for t in targets)

    return await db.run_sync(move)


async def undo(db: Database, guild_id: int, user_id: int, now: datetime, *,
               default_tz: ZoneInfo) -> tuple[ChangeResult, list[StepDiff]] | None:
    """Take back the member's newest change batch not undone yet; None when there is nothing to undo."""
    return await _move(db, guild_id, user_id, now, default_tz, undo=True)


async def redo(db: Database, guild_id: int, user_id: int, now: datetime, *,
               default_tz: ZoneInfo) -> tuple[ChangeResult, list[StepDiff]] | None:
    """Put back the oldest undone batch (the one undone last); None when there is nothing to redo."""
    return await _move(db, guild_id, user_id, now, default_tz, undo=False)


_DEPTH = select(func.count(distinct(case((history.c.undone == 0, history.c.batch)))),
                func.count(distinct(case((history.c.undone == 1, history.c.batch))))).where(*_OF_HISTORY)


async def history_depth(db: Database, guild_id: int, user_id: int) -> tuple[int, int]:
    """(batches that can be undone, batches that can be redone)."""
    row = await db.fetchone(_DEPTH, {"g": guild_id, "u": user_id})
    if row is None:
        return (0, 0)
    undoable, redoable = tuple(row)
    return int(undoable), int(redoable)


_FORGET = delete(members).where(*_OF_MEMBER)


async def forget_member(db: Database, guild_id: int, user_id: int) -> ChangeResult:
    """Delete everything stored about the member in this server (the members row cascades)."""

    def forget(conn: Connection) -> MemberProgress:
        _lock_member(conn, guild_id, user_id)
        before = _read_member(conn, guild_id, user_id)
        conn.execute(_FORGET, {"g": guild_id, "u": user_id})  # progress, parked tracks, history... cascade
        for table in (weekly_active, nudges):  # kept by user id without a foreign key: deleted here
            conn.execute(delete(table).where(table.c.guild_id == guild_id, table.c.user_id == user_id))
        return before

    before = await db.run_sync(forget)
    after = MemberProgress(guild_id, user_id, {}, True)
    return ChangeResult(before, after, tuple(sorted(before.states)))


_SET_CHOICE = (update(members).where(*_OF_MEMBER, members.c.visible_choice != bindparam("choice", type_=Integer))
               .values(visible_choice=bindparam("choice", type_=Integer)))


async def set_visible(db: Database, guild_id: int, user_id: int, visible: bool, now: datetime) -> bool:
    """Show or hide the member on leaderboards and others' /progress. Returns whether their choice changed.

    Stores the member's choice; `members.visible` follows it by trigger (0008) unless they are away.
    """

    def write(conn: Connection) -> bool:
        ensure_member_sync(conn, guild_id, user_id, now)
        return conn.execute(_SET_CHOICE, {"g": guild_id, "u": user_id, "choice": int(visible)}).rowcount > 0

    return await db.run_sync(write)


async def seed_members(db: Database, guild_id: int, members: Mapping[int, Sequence[StepState]],
                       now: datetime) -> None:
    """Bulk-load members' step states (benchmarks, demos): progress rows and summaries, no history.

    Period counts are not filled in; use apply_changes for anything a member does.
    """
    steps = [{"guild_id": guild_id, "user_id": user_id, "step": s.step, "status": s.status.value, "note": s.note,
              "updated_at": s.updated_at, "done_at": s.done_at}
             for user_id, states in members.items() for s in states]
    summaries = []
    for user_id, states in members.items():
        summary = summarize(states)
        summaries.append({"guild_id": guild_id, "user_id": user_id, "done_count": summary.done_count,
                          "reached_at": summary.reached_at or EPOCH, "current_step": summary.current_step,
                          "created_at": now})

    def write(conn: Connection) -> None:
        if summaries:
            conn.execute(_UPSERT_SUMMARIES, summaries)
        if steps:
            conn.execute(_UPSERT_STEPS, steps)

    await db.run_sync(write)

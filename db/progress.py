"""Per-member progress storage: step states, the ranking summary, period counts and undo history.

The rules (what a change does, the summary row, the period counts, undo and redo) are pure functions in
bot/domain/changes.py. This module reads the rows into domain objects, calls the planner, and writes its plan.

Every write (`apply_changes`, `change_member`, `undo`, `redo`) is one `Database.run_sync` call: read, decide
and every statement happen on aiosqlite's worker thread in a single awaited hop, instead of one hop (~35-90 µs)
per statement; the writes are also one transaction, so rankings never have to aggregate raw progress rows.

Reading is robust per row: a stored value an old database holds that cannot be read (a done date that is not a
date, an unknown status) leaves that value or row out with a warning, never the member's command.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosqlite

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
from db.database import Database, from_db, to_db

log = logging.getLogger(__name__)

EPOCH = "1970-01-01T00:00:00.000000+00:00"  # members.reached_at of a member with nothing done


# ---------------------------------------------------------------------- reading rows, whatever they hold

_UNREADABLE_SINCE = datetime(2000, 1, 1, tzinfo=UTC)  # stands in for an unreadable `updated_at`
_STATUS = {status.value: status for status in Status}


def _readable_instant(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        instant = from_db(text)
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


def _member(rows: Sequence[Sequence[object]], guild_id: int, user_id: int) -> MemberProgress:
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


_LOAD = (
    "SELECT p.step, p.status, p.note, p.updated_at, p.done_at, k.visible "
    "FROM (SELECT (SELECT visible FROM members WHERE guild_id = :g AND user_id = :u) AS visible) AS k "
    "LEFT JOIN progress AS p ON p.guild_id = :g AND p.user_id = :u ORDER BY p.step"
)
_LOAD_FOR_WRITE = (
    "SELECT p.step, p.status, p.note, p.updated_at, p.done_at, k.visible, k.next_batch, k.has_undone, k.tz "
    "FROM (SELECT (SELECT visible FROM members WHERE guild_id = :g AND user_id = :u) AS visible, "
    "(SELECT COALESCE(MAX(batch), 0) + 1 FROM history WHERE guild_id = :g AND user_id = :u AND undone = 0) "
    "AS next_batch, "
    "EXISTS (SELECT 1 FROM history WHERE guild_id = :g AND user_id = :u AND undone = 1) AS has_undone, "
    "(SELECT timezone FROM guild_settings WHERE guild_id = :g) AS tz) AS k "
    "LEFT JOIN progress AS p ON p.guild_id = :g AND p.user_id = :u ORDER BY p.step"
)


def _rows(raw: sqlite3.Connection, sql: str, params: Mapping[str, object] | Sequence[object]) -> list[tuple[Any, ...]]:
    cursor = raw.cursor()
    cursor.row_factory = None  # plain tuples
    return cursor.execute(sql, params).fetchall()


def _read_member(raw: sqlite3.Connection, guild_id: int, user_id: int) -> MemberProgress:
    return _member(_rows(raw, _LOAD, {"g": guild_id, "u": user_id}), guild_id, user_id)


async def load_member(db: Database, guild_id: int, user_id: int) -> MemberProgress:
    """A member's progress (empty, visible, for someone the bot has never seen)."""
    return await db.run_sync(lambda raw: _read_member(raw, guild_id, user_id), write=False)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a write needs to know, read in one query: progress, visibility, next history batch, zone."""

    member: MemberProgress
    next_batch: int
    has_undone: bool
    tz: ZoneInfo


def _load_for_write(raw: sqlite3.Connection, guild_id: int, user_id: int, default_tz: ZoneInfo) -> _Loaded:
    """Inside `Database.run_sync`, on the database's worker thread."""
    rows = _rows(raw, _LOAD_FOR_WRITE, {"g": guild_id, "u": user_id})
    head = rows[0]
    return _Loaded(_member(rows, guild_id, user_id), int(head[6]), bool(head[7]),
                   _readable_zone(head[8], default_tz))


async def ensure_member(conn: aiosqlite.Connection, guild_id: int, user_id: int, now: datetime) -> None:
    await conn.execute(_ENSURE_MEMBER, (guild_id, user_id, EPOCH, to_db(now)))


# ---------------------------------------------------------------------- writing a plan

_ENSURE_MEMBER = (
    "INSERT INTO members (guild_id, user_id, reached_at, created_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (guild_id, user_id) DO NOTHING"
)
_UPSERT_SUMMARY = (
    "INSERT INTO members (guild_id, user_id, done_count, reached_at, current_step, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET done_count = excluded.done_count, "
    "reached_at = excluded.reached_at, current_step = excluded.current_step"
)
_DELETE_STEP = "DELETE FROM progress WHERE guild_id = ? AND user_id = ? AND step = ?"
_UPSERT_STEP = (
    "INSERT INTO progress (guild_id, user_id, step, status, note, updated_at, done_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id, step) DO UPDATE SET "
    "status = excluded.status, note = excluded.note, updated_at = excluded.updated_at, "
    "done_at = excluded.done_at"
)
_CLEAR_REDO = "DELETE FROM history WHERE guild_id = ? AND user_id = ? AND undone = 1"
_INSERT_HISTORY = (
    "INSERT INTO history (guild_id, user_id, batch, step, before_status, before_note, before_done_at, "
    "after_status, after_note, after_done_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_PERIOD = (
    "INSERT INTO period_counts (guild_id, period, user_id, done_count, reached_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (guild_id, period, user_id) DO UPDATE SET done_count = excluded.done_count, "
    "reached_at = excluded.reached_at"
)
_DELETE_PERIOD = "DELETE FROM period_counts WHERE guild_id = ? AND period = ? AND user_id = ?"


def _opt(instant: datetime | None) -> str | None:
    return to_db(instant) if instant else None


def _write(raw: sqlite3.Connection, loaded: _Loaded, plan: ChangePlan, now: datetime, *,
           record_history: bool) -> ChangeResult:
    """Store `plan` (made from `loaded`; the transaction holds the write lock, so nothing else changed it)."""
    guild_id, user_id = loaded.member.guild_id, loaded.member.user_id
    stamp = to_db(now)
    summary = plan.summary
    if summary is None:  # nothing changed: the member is known from now on, nothing else is written
        raw.execute(_ENSURE_MEMBER, (guild_id, user_id, EPOCH, stamp))
        return plan.result
    # The member row first (progress and history reference it), with its new summary.
    raw.execute(_UPSERT_SUMMARY, (guild_id, user_id, summary.done_count,
                                  to_db(summary.reached_at) if summary.reached_at else EPOCH,
                                  summary.current_step, stamp))
    if plan.deletes:
        raw.executemany(_DELETE_STEP, [(guild_id, user_id, step) for step in plan.deletes])
    if plan.upserts:
        raw.executemany(_UPSERT_STEP, [(guild_id, user_id, s.step, s.status.value, s.note, stamp, _opt(s.done_at))
                                       for s in plan.upserts])
    if record_history:
        if loaded.has_undone:  # a new change clears what could be redone
            raw.execute(_CLEAR_REDO, (guild_id, user_id))
        raw.executemany(_INSERT_HISTORY, [
            (guild_id, user_id, loaded.next_batch, h.step,
             h.before_status.value if h.before_status else None, h.before_note, _opt(h.before_done_at),
             h.after_status.value if h.after_status else None, h.after_note, _opt(h.after_done_at), stamp)
            for h in plan.history
        ])
    counted = [(guild_id, p.period, user_id, p.done_count, to_db(p.reached_at))
               for p in plan.periods if p.done_count and p.reached_at]
    emptied = [(guild_id, p.period, user_id) for p in plan.periods if not (p.done_count and p.reached_at)]
    if counted:
        raw.executemany(_UPSERT_PERIOD, counted)
    if emptied:
        raw.executemany(_DELETE_PERIOD, emptied)
    return plan.result


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

    def apply(raw: sqlite3.Connection) -> ChangeResult:
        loaded = _load_for_write(raw, guild_id, user_id, default_tz)
        plan = plan_changes(loaded.member, changes, now, loaded.tz)
        return _write(raw, loaded, plan, now, record_history=record_history)

    return await db.run_sync(apply)


# ---------------------------------------------------------------------- commands built on apply_changes

Decide = Callable[[MemberProgress], Sequence[StepChange]]


async def change_member(
    db: Database, guild_id: int, user_id: int, decide: Decide, now: datetime, *, default_tz: ZoneInfo
) -> ChangeResult:
    """Read the member's progress, let `decide` choose the changes, apply them: all in one transaction.

    `decide` may raise (a UserError, say) to write nothing. No changes: nothing is written, not even a
    member row, and the result has `changed == ()`. The whole read-decide-write is one `Database.run_sync` call,
    so `decide` runs on the database's worker thread: it must be plain, quick domain code (no awaiting, no
    Discord), which choosing a step from a member's progress is.
    """

    def change(raw: sqlite3.Connection) -> ChangeResult:
        loaded = _load_for_write(raw, guild_id, user_id, default_tz)
        changes = decide(loaded.member)
        if not changes:
            return ChangeResult(loaded.member, loaded.member, ())
        return _write(raw, loaded, plan_changes(loaded.member, changes, now, loaded.tz), now, record_history=True)

    return await db.run_sync(change)


_BATCH_SQL = (
    "SELECT batch, step, before_status, before_note, before_done_at, after_status, after_note, after_done_at "
    "FROM history WHERE guild_id = ? AND user_id = ? AND batch = "
    "(SELECT {}(batch) FROM history WHERE guild_id = ? AND user_id = ? AND undone = ?) ORDER BY id"
)
_UNDO_BATCH = _BATCH_SQL.format("MAX")  # the newest batch not undone
_REDO_BATCH = _BATCH_SQL.format("MIN")  # the oldest undone batch: the one undone last


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

    def move(raw: sqlite3.Connection) -> tuple[ChangeResult, list[StepDiff]] | None:
        rows = _rows(raw, _UNDO_BATCH if undo else _REDO_BATCH, (guild_id, user_id, guild_id, user_id, int(not undo)))
        if not rows:
            return None
        batch = [entry for row in rows if (entry := _history_entry(guild_id, user_id, row)) is not None]
        targets = move_targets(batch, undo=undo)
        loaded = _load_for_write(raw, guild_id, user_id, default_tz)
        result = _write(raw, loaded, plan_changes(loaded.member, targets, now, loaded.tz), now, record_history=False)
        raw.execute("UPDATE history SET undone = ? WHERE guild_id = ? AND user_id = ? AND batch = ?",
                    (int(undo), guild_id, user_id, rows[0][0]))
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


async def history_depth(db: Database, guild_id: int, user_id: int) -> tuple[int, int]:
    """(batches that can be undone, batches that can be redone)."""
    row = await db.fetchone(
        "SELECT COUNT(DISTINCT CASE WHEN undone = 0 THEN batch END), "
        "COUNT(DISTINCT CASE WHEN undone = 1 THEN batch END) FROM history WHERE guild_id = ? AND user_id = ?",
        (guild_id, user_id))
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def forget_member(db: Database, guild_id: int, user_id: int) -> ChangeResult:
    """Delete everything stored about the member in this server (the members row cascades)."""

    def forget(raw: sqlite3.Connection) -> MemberProgress:
        before = _read_member(raw, guild_id, user_id)
        raw.execute("DELETE FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return before

    before = await db.run_sync(forget)
    after = MemberProgress(guild_id, user_id, {}, True)
    return ChangeResult(before, after, tuple(sorted(before.states)))


async def set_visible(db: Database, guild_id: int, user_id: int, visible: bool, now: datetime) -> bool:
    """Show or hide the member on leaderboards and others' /progress. Returns whether their choice changed.

    Stores the member's choice; `members.visible` follows it by trigger (0008) unless they are away.
    """
    async with db.transaction() as conn:
        await ensure_member(conn, guild_id, user_id, now)
        cursor = await conn.execute(
            "UPDATE members SET visible_choice = ? WHERE guild_id = ? AND user_id = ? AND visible_choice != ?",
            (int(visible), guild_id, user_id, int(visible)))
        return cursor.rowcount > 0


async def seed_members(db: Database, guild_id: int, members: Mapping[int, Sequence[StepState]],
                       now: datetime) -> None:
    """Bulk-load members' step states (benchmarks, demos): progress rows and summaries, no history.

    Period counts are not filled in; use apply_changes for anything a member does.
    """
    progress = [
        (guild_id, user_id, s.step, s.status.value, s.note, to_db(s.updated_at), _opt(s.done_at))
        for user_id, states in members.items() for s in states
    ]
    summaries = []
    for user_id, states in members.items():
        summary = summarize(states)
        summaries.append((guild_id, user_id, summary.done_count,
                          to_db(summary.reached_at) if summary.reached_at else EPOCH, summary.current_step,
                          to_db(now)))
    async with db.transaction() as conn:
        await conn.executemany(_UPSERT_SUMMARY, summaries)
        await conn.executemany(
            "INSERT OR REPLACE INTO progress (guild_id, user_id, step, status, note, updated_at, done_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", progress)

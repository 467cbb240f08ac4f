"""Per-member progress storage: step states, the ranking summary, period counts and undo history.

Every write goes through `apply_changes`, which in one transaction writes the
steps, records a history batch, and refreshes the member's summary row and
period counts, so rankings never have to aggregate raw progress rows.

The writes a member makes (`apply_changes`, `change_member`, `undo`, `redo`) run as
one `Database.run_sync` call: read, decide and every statement happen on aiosqlite's
worker thread in a single awaited hop, instead of one hop (~35-90 µs) per statement.
`_plan` computes the statements and the result from what was read, so the same
plan also serves `apply_changes_in` inside a caller's `db.transaction()`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiosqlite

from bot.domain.community import summary_step
from bot.domain.marking import StepDiff
from bot.domain.progress import MemberProgress, Status, StepState
from bot.domain.timeutil import Period, period_key
from db.database import Database, from_db, from_db_opt, to_db

EPOCH = "1970-01-01T00:00:00.000000+00:00"
PERIOD_REACH = timedelta(days=32)


@dataclass(frozen=True, slots=True)
class StepChange:
    """Set `step` to `status` (None removes the step's record) with `note`."""

    step: int
    status: Status | None
    note: str | None = None
    done_at: datetime | None = None  # for DONE: when (default: now); kept from import files


@dataclass(frozen=True, slots=True)
class ChangeResult:
    before: MemberProgress
    after: MemberProgress
    changed: tuple[int, ...]  # steps whose stored state actually changed


def _state(row: aiosqlite.Row) -> StepState:
    return StepState(
        step=row["step"],
        status=Status(row["status"]),
        note=row["note"],
        updated_at=from_db(row["updated_at"]),
        done_at=from_db_opt(row["done_at"]),
    )


async def _load(conn: aiosqlite.Connection, guild_id: int, user_id: int) -> MemberProgress:
    rows = await conn.execute_fetchall(
        "SELECT step, status, note, updated_at, done_at, "
        "(SELECT visible FROM members WHERE guild_id = ? AND user_id = ?) AS visible "
        "FROM progress WHERE guild_id = ? AND user_id = ? ORDER BY step",
        (guild_id, user_id, guild_id, user_id),
    )
    rows = list(rows)
    if rows:
        visible = bool(rows[0]["visible"])
    else:
        found = await (await conn.execute(
            "SELECT visible FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )).fetchone()
        visible = bool(found[0]) if found else True
    return MemberProgress(guild_id, user_id, {r["step"]: _state(r) for r in rows}, visible)


async def load_member(db: Database, guild_id: int, user_id: int) -> MemberProgress:
    """A member's progress (empty, visible, for someone the bot has never seen)."""
    return await _load(db.reader, guild_id, user_id)


async def ensure_member(conn: aiosqlite.Connection, guild_id: int, user_id: int, now: datetime) -> None:
    await conn.execute(_ENSURE_MEMBER, (guild_id, user_id, EPOCH, to_db(now)))


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
        loaded = _load_for_write_sync(raw, guild_id, user_id, default_tz)
        return _write_sync(raw, _plan(loaded, changes, now, record_history=record_history))

    return await db.run_sync(apply)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a write needs to know, read in one query: progress, visibility, next history batch, zone."""

    member: MemberProgress
    next_batch: int
    has_undone: bool
    tz: ZoneInfo


_LOAD_FOR_WRITE = (
    "SELECT k.visible, k.next_batch, k.has_undone, k.tz, p.step, p.status, p.note, p.updated_at, p.done_at "
    "FROM (SELECT (SELECT visible FROM members WHERE guild_id = :g AND user_id = :u) AS visible, "
    "(SELECT COALESCE(MAX(batch), 0) + 1 FROM history WHERE guild_id = :g AND user_id = :u AND undone = 0) "
    "AS next_batch, "
    "EXISTS (SELECT 1 FROM history WHERE guild_id = :g AND user_id = :u AND undone = 1) AS has_undone, "
    "(SELECT timezone FROM guild_settings WHERE guild_id = :g) AS tz) AS k "
    "LEFT JOIN progress AS p ON p.guild_id = :g AND p.user_id = :u ORDER BY p.step"
)


def _loaded(rows: Sequence[sqlite3.Row], guild_id: int, user_id: int, default_tz: ZoneInfo) -> _Loaded:
    head = rows[0]
    visible = True if head["visible"] is None else bool(head["visible"])
    states = {r["step"]: _state(r) for r in rows if r["step"] is not None}
    return _Loaded(MemberProgress(guild_id, user_id, states, visible), int(head["next_batch"]),
                   bool(head["has_undone"]), ZoneInfo(head["tz"]) if head["tz"] else default_tz)


async def _load_for_write(conn: aiosqlite.Connection, guild_id: int, user_id: int, default_tz: ZoneInfo) -> _Loaded:
    rows = list(await conn.execute_fetchall(_LOAD_FOR_WRITE, {"g": guild_id, "u": user_id}))
    return _loaded(rows, guild_id, user_id, default_tz)


def _load_for_write_sync(raw: sqlite3.Connection, guild_id: int, user_id: int, default_tz: ZoneInfo) -> _Loaded:
    """`_load_for_write` on aiosqlite's worker thread (inside `Database.run_sync`)."""
    return _loaded(raw.execute(_LOAD_FOR_WRITE, {"g": guild_id, "u": user_id}).fetchall(), guild_id, user_id,
                   default_tz)


async def apply_changes_in(
    conn: aiosqlite.Connection,
    guild_id: int,
    user_id: int,
    changes: Sequence[StepChange],
    now: datetime,
    *,
    default_tz: ZoneInfo,
    record_history: bool = True,
) -> ChangeResult:
    """`apply_changes` inside a transaction the caller already holds (one awaited call per statement)."""
    loaded = await _load_for_write(conn, guild_id, user_id, default_tz)
    writes = _plan(loaded, changes, now, record_history=record_history)
    for sql, rows in writes.statements:
        await conn.executemany(sql, rows)
    return writes.result


Statement = tuple[str, list[tuple[object, ...]]]
"""SQL and its parameter rows, run with executemany."""


@dataclass(frozen=True, slots=True)
class _Writes:
    """What a change does: its result, and the statements that store it, in order."""

    result: ChangeResult
    statements: list[Statement]


def _write_sync(raw: sqlite3.Connection, writes: _Writes) -> ChangeResult:
    for sql, rows in writes.statements:
        raw.executemany(sql, rows)
    return writes.result


_ENSURE_MEMBER = (
    "INSERT INTO members (guild_id, user_id, reached_at, created_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (guild_id, user_id) DO NOTHING"
)


def _plan(loaded: _Loaded, changes: Sequence[StepChange], now: datetime, *, record_history: bool) -> _Writes:
    """The statements that write `changes` over the state in `loaded`, and the resulting ChangeResult.

    The member's new state, summary and period counts are computed here from what was loaded (the
    transaction holds the write lock, so nothing else changed it), not read back.
    """
    before = loaded.member
    guild_id, user_id = before.guild_id, before.user_id
    stamp = to_db(now)
    updated_at = from_db(stamp)
    states = dict(before.states)
    upserts: list[tuple[object, ...]] = []
    deletes: list[tuple[object, ...]] = []
    history: list[tuple[object, ...]] = []
    changed: list[int] = []
    touched_done: list[datetime] = []
    for change in changes:
        old = states.get(change.step)
        done_at: datetime | None = None
        if change.status is Status.DONE:
            done_at = change.done_at or (old.done_at if old and old.status is Status.DONE else None) or now
            done_at = from_db(to_db(done_at))
        if old is not None and old.status is change.status and old.note == change.note and old.done_at == done_at:
            continue
        if old is None and change.status is None:
            continue
        changed.append(change.step)
        if change.status is None:
            deletes.append((guild_id, user_id, change.step))
            del states[change.step]
        else:
            upserts.append((guild_id, user_id, change.step, change.status.value, change.note, stamp,
                            to_db(done_at) if done_at else None))
            states[change.step] = StepState(change.step, change.status, change.note, updated_at, done_at)
        for moment in (old.done_at if old else None, done_at):
            if moment is not None:
                touched_done.append(moment)
        history.append((
            guild_id, user_id, loaded.next_batch, change.step,
            old.status.value if old else None, old.note if old else None,
            to_db(old.done_at) if old and old.done_at else None,
            change.status.value if change.status else None, change.note,
            to_db(done_at) if done_at else None, stamp,
        ))
    if not changed:
        return _Writes(ChangeResult(before, before, ()), [(_ENSURE_MEMBER, [(guild_id, user_id, EPOCH, stamp)])])
    done = [s for s in states.values() if s.status is Status.DONE]
    done_times = [s.done_at for s in done if s.done_at]
    latest = max(done_times, default=None)
    # The member row first (progress and history reference it), with its new summary.
    on_step = summary_step({n: s.status for n, s in states.items()})
    statements: list[Statement] = [(
        "INSERT INTO members (guild_id, user_id, done_count, reached_at, current_step, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET done_count = excluded.done_count, "
        "reached_at = excluded.reached_at, current_step = excluded.current_step",
        [(guild_id, user_id, len(done), to_db(latest) if latest else EPOCH, on_step, stamp)],
    )]
    if deletes:
        statements.append(("DELETE FROM progress WHERE guild_id = ? AND user_id = ? AND step = ?", deletes))
    if upserts:
        statements.append((
            "INSERT INTO progress (guild_id, user_id, step, status, note, updated_at, done_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id, step) DO UPDATE SET "
            "status = excluded.status, note = excluded.note, updated_at = excluded.updated_at, "
            "done_at = excluded.done_at",
            upserts,
        ))
    if record_history:
        if loaded.has_undone:  # a new change clears what could be redone
            statements.append(("DELETE FROM history WHERE guild_id = ? AND user_id = ? AND undone = 1",
                               [(guild_id, user_id)]))
        statements.append((
            "INSERT INTO history (guild_id, user_id, batch, step, before_status, before_note, before_done_at, "
            "after_status, after_note, after_done_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            history,
        ))
    statements += _period_counts(guild_id, user_id, touched_done, done_times, tz=loaded.tz)
    after = MemberProgress(guild_id, user_id, states, before.visible)
    return _Writes(ChangeResult(before, after, tuple(changed)), statements)


def _period_counts(guild_id: int, user_id: int, touched_done: Iterable[datetime], done_times: Sequence[datetime],
                   *, tz: ZoneInfo) -> list[Statement]:
    """Recount the week and month periods that `touched_done` fall in, from the member's done times."""
    kinds: tuple[Period, ...] = ("week", "month")
    touched = list(touched_done)
    periods = {(kind, period_key(t, tz, kind)) for t in touched for kind in kinds}
    if not periods:
        return []
    # A week or month is at most 31 days long: only done times that close to a touched one can share its period.
    near = [t for t in done_times if any(abs(t - m) <= PERIOD_REACH for m in touched)]
    keyed = {kind: [(period_key(t, tz, kind), t) for t in near] for kind in kinds}
    upserts: list[tuple[object, ...]] = []
    deletes: list[tuple[object, ...]] = []
    for kind, period in sorted(periods):
        inside = [t for key, t in keyed[kind] if key == period]
        if inside:
            upserts.append((guild_id, period, user_id, len(inside), to_db(max(inside))))
        else:
            deletes.append((guild_id, period, user_id))
    statements: list[Statement] = []
    if upserts:
        statements.append((
            "INSERT INTO period_counts (guild_id, period, user_id, done_count, reached_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, period, user_id) DO UPDATE SET done_count = excluded.done_count, "
            "reached_at = excluded.reached_at",
            upserts,
        ))
    if deletes:
        statements.append(("DELETE FROM period_counts WHERE guild_id = ? AND period = ? AND user_id = ?", deletes))
    return statements


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
        loaded = _load_for_write_sync(raw, guild_id, user_id, default_tz)
        changes = decide(loaded.member)
        if not changes:
            return ChangeResult(loaded.member, loaded.member, ())
        return _write_sync(raw, _plan(loaded, changes, now, record_history=True))

    return await db.run_sync(change)


_BATCH_SQL = (
    "SELECT batch, step, before_status, before_note, before_done_at, after_status, after_note, after_done_at "
    "FROM history WHERE guild_id = ? AND user_id = ? AND batch = "
    "(SELECT {}(batch) FROM history WHERE guild_id = ? AND user_id = ? AND undone = ?) ORDER BY id"
)
_UNDO_BATCH = _BATCH_SQL.format("MAX")  # the newest batch not undone
_REDO_BATCH = _BATCH_SQL.format("MIN")  # the oldest undone batch: the one undone last


def _status(text: str | None) -> Status | None:
    return Status(text) if text else None


async def _move(db: Database, guild_id: int, user_id: int, now: datetime, default_tz: ZoneInfo,
                *, undo: bool) -> tuple[ChangeResult, list[StepDiff]] | None:
    side = "before" if undo else "after"

    def move(raw: sqlite3.Connection) -> tuple[ChangeResult, list[StepDiff]] | None:
        rows = raw.execute(_UNDO_BATCH if undo else _REDO_BATCH,
                           (guild_id, user_id, guild_id, user_id, int(not undo))).fetchall()
        if not rows:
            return None
        targets: dict[int, StepChange] = {}
        for row in reversed(rows) if undo else rows:
            # Undo restores each step's first "before"; redo its last "after".
            if undo and row["step"] in targets:
                continue
            targets[row["step"]] = StepChange(row["step"], _status(row[f"{side}_status"]), row[f"{side}_note"],
                                              from_db_opt(row[f"{side}_done_at"]))
        loaded = _load_for_write_sync(raw, guild_id, user_id, default_tz)
        result = _write_sync(raw, _plan(loaded, list(targets.values()), now, record_history=False))
        raw.execute("UPDATE history SET undone = ? WHERE guild_id = ? AND user_id = ? AND batch = ?",
                    (int(undo), guild_id, user_id, rows[0]["batch"]))
        moved = [StepDiff(n, result.before.status_of(n), result.after.status_of(n)) for n in sorted(targets)]
        return result, moved

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
    async with db.transaction() as conn:
        before = await _load(conn, guild_id, user_id)
        await conn.execute("DELETE FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
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
        (guild_id, user_id, s.step, s.status.value, s.note, to_db(s.updated_at),
         to_db(s.done_at) if s.done_at else None)
        for user_id, states in members.items() for s in states
    ]
    summaries = []
    for user_id, states in members.items():
        done = [s.done_at for s in states if s.status is Status.DONE and s.done_at]
        on_step = summary_step({s.step: s.status for s in states})
        summaries.append((guild_id, user_id, len(done), to_db(max(done)) if done else EPOCH, on_step, to_db(now)))
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO members (guild_id, user_id, done_count, reached_at, current_step, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET done_count = excluded.done_count, "
            "reached_at = excluded.reached_at, current_step = excluded.current_step", summaries)
        await conn.executemany(
            "INSERT OR REPLACE INTO progress (guild_id, user_id, step, status, note, updated_at, done_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", progress)

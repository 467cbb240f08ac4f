"""db.progress: change_member, undo/redo over history batches, forget, privacy, bulk seeding (on each engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.errors import UserError
from bot.domain.progress import MemberProgress, Status, StepState
from db.database import Database
from db.progress import (
    StepChange,
    apply_changes,
    change_member,
    forget_member,
    history_depth,
    load_member,
    redo,
    seed_members,
    set_visible,
    undo,
)
from db.tables import history, members, period_counts, progress

G, U = 10, 20
UTC_TZ = ZoneInfo("UTC")
T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.open()
    await database.migrate()
    yield database
    await database.close()


async def mark(db: Database, *changes: StepChange, at: datetime = T0) -> None:
    await apply_changes(db, G, U, changes, at, default_tz=UTC_TZ)


def statuses(member: MemberProgress) -> dict[int, Status]:
    return {n: s.status for n, s in member.states.items()}


async def test_undo_and_redo_walk_the_batches(db: Database) -> None:
    await mark(db, StepChange(1, Status.DONE, "first"), at=T0)
    await mark(db, StepChange(2, Status.SKIPPED), at=T0 + timedelta(hours=1))
    await mark(db, StepChange(1, Status.DONE, "edited"), StepChange(3, Status.IN_PROGRESS),
               at=T0 + timedelta(hours=2))
    assert await history_depth(db, G, U) == (3, 0)

    moved = await undo(db, G, U, T0 + timedelta(hours=3), default_tz=UTC_TZ)
    assert moved is not None
    result, diffs = moved
    assert [(d.step, d.before, d.after) for d in diffs] == [(1, Status.DONE, Status.DONE),
                                                          (3, Status.IN_PROGRESS, None)]
    assert result.after.states[1].note == "first"
    assert result.after.states[1].done_at == T0  # the original done time comes back
    assert await history_depth(db, G, U) == (2, 1)

    await undo(db, G, U, T0 + timedelta(hours=3), default_tz=UTC_TZ)
    await undo(db, G, U, T0 + timedelta(hours=3), default_tz=UTC_TZ)
    assert (await load_member(db, G, U)).states == {}
    assert await undo(db, G, U, T0, default_tz=UTC_TZ) is None  # nothing left

    redone = await redo(db, G, U, T0 + timedelta(hours=4), default_tz=UTC_TZ)
    assert redone is not None
    assert statuses(redone[0].after) == {1: Status.DONE}
    assert redone[0].after.states[1].done_at == T0
    await redo(db, G, U, T0 + timedelta(hours=4), default_tz=UTC_TZ)
    assert statuses(await load_member(db, G, U)) == {1: Status.DONE, 2: Status.SKIPPED}
    assert await history_depth(db, G, U) == (2, 1)


async def test_a_new_change_clears_what_could_be_redone(db: Database) -> None:
    await mark(db, StepChange(1, Status.DONE))
    await undo(db, G, U, T0, default_tz=UTC_TZ)
    await mark(db, StepChange(5, Status.DONE))
    assert await redo(db, G, U, T0, default_tz=UTC_TZ) is None
    assert await history_depth(db, G, U) == (1, 0)


async def test_undo_updates_the_summary_row(db: Database) -> None:
    await mark(db, StepChange(1, Status.DONE), StepChange(2, Status.DONE))
    await undo(db, G, U, T0, default_tz=UTC_TZ)
    row = await db.fetchone(select(members.c.done_count).where(members.c.guild_id == G, members.c.user_id == U))
    assert row is not None
    assert row[0] == 0
    assert list(await db.fetchall(select(period_counts))) == []


async def test_history_is_per_member_and_per_server(db: Database) -> None:
    await mark(db, StepChange(1, Status.DONE))
    await apply_changes(db, G, U + 1, [StepChange(2, Status.DONE)], T0, default_tz=UTC_TZ)
    await apply_changes(db, G + 1, U, [StepChange(3, Status.DONE)], T0, default_tz=UTC_TZ)
    await undo(db, G, U, T0, default_tz=UTC_TZ)
    assert (await load_member(db, G, U)).states == {}
    assert statuses(await load_member(db, G, U + 1)) == {2: Status.DONE}
    assert statuses(await load_member(db, G + 1, U)) == {3: Status.DONE}


async def test_change_member_decides_inside_the_transaction(db: Database) -> None:
    def nothing(_member: MemberProgress) -> list[StepChange]:
        return []

    result = await change_member(db, G, U, nothing, T0, default_tz=UTC_TZ)
    assert result.changed == ()
    assert await db.fetchone(select(members)) is None  # no member row for a no-op

    def refuse(_member: MemberProgress) -> list[StepChange]:
        raise UserError("no")

    with pytest.raises(UserError):
        await change_member(db, G, U, refuse, T0, default_tz=UTC_TZ)
    result = await change_member(db, G, U, lambda m: [StepChange(len(m.states) + 1, Status.DONE)], T0,
                                 default_tz=UTC_TZ)
    assert result.changed == (1,)


async def test_forget_deletes_everything_about_the_member_here_only(db: Database) -> None:
    await mark(db, StepChange(1, Status.DONE, "note"), StepChange(2, Status.SKIPPED))
    await apply_changes(db, G + 1, U, [StepChange(1, Status.DONE)], T0, default_tz=UTC_TZ)
    result = await forget_member(db, G, U)
    assert result.changed == (1, 2)
    for table in (members, progress, history, period_counts):
        rows = await db.fetchall(select(table).where(table.c.guild_id == G, table.c.user_id == U))
        assert list(rows) == [], table.name
    assert statuses(await load_member(db, G + 1, U)) == {1: Status.DONE}


async def test_set_visible(db: Database) -> None:
    assert (await load_member(db, G, U)).visible
    assert await set_visible(db, G, U, False, T0) is True
    assert await set_visible(db, G, U, False, T0) is False
    assert not (await load_member(db, G, U)).visible
    await mark(db, StepChange(1, Status.DONE))
    assert not (await load_member(db, G, U)).visible  # marking keeps the choice


async def test_seed_members_writes_progress_and_summaries(db: Database) -> None:
    states = [StepState(1, Status.DONE, None, T0, T0), StepState(2, Status.SKIPPED, None, T0)]
    await seed_members(db, G, {U: states, U + 1: []}, T0)
    assert statuses(await load_member(db, G, U)) == {1: Status.DONE, 2: Status.SKIPPED}
    rows = {r[0]: r[1] for r in await db.fetchall(select(members.c.user_id, members.c.done_count)
                                                  .where(members.c.guild_id == G))}
    assert rows == {U: 1, U + 1: 0}


async def test_summary_and_period_counts_match_a_recount_after_random_changes(db: Database) -> None:
    """The summary row and period counts, kept up to date per change, equal a recount from raw rows."""
    import random

    from bot.domain.timeutil import period_key

    rng = random.Random(7)
    tz = ZoneInfo("Europe/Berlin")
    choices = [Status.DONE, Status.DONE, Status.SKIPPED, Status.IN_PROGRESS, None]
    for i in range(150):
        at = T0 + timedelta(hours=rng.randint(0, 24 * 70))
        user = U + rng.randint(0, 2)
        roll = rng.random()
        if roll < 0.15:
            await undo(db, G, user, at, default_tz=tz)
        elif roll < 0.25:
            await redo(db, G, user, at, default_tz=tz)
        else:
            changes = [StepChange(rng.randint(1, 12), rng.choice(choices), f"n{i}" if rng.random() < 0.3 else None,
                                  at - timedelta(days=rng.randint(0, 30)) if rng.random() < 0.3 else None)
                       for _ in range(rng.randint(1, 3))]
            unique = list({c.step: c for c in changes}.values())
            await apply_changes(db, G, user, unique, at, default_tz=tz)
    rows = list(await db.fetchall(select(progress.c.user_id, progress.c.done_at).where(progress.c.status == "done")))
    expected_counts: dict[int, int] = {}
    expected_periods: dict[tuple[str, int], int] = {}
    for row in rows:
        expected_counts[row[0]] = expected_counts.get(row[0], 0) + 1
        when = row[1]
        for kind in ("week", "month"):
            key = (period_key(when, tz, kind), row[0])  # type: ignore[arg-type]
            expected_periods[key] = expected_periods.get(key, 0) + 1
    counts = {r[0]: r[1] for r in await db.fetchall(select(members.c.user_id, members.c.done_count))}
    assert {u: c for u, c in counts.items() if c} == expected_counts
    pc = period_counts.c
    periods = {(r[0], r[1]): r[2] for r in await db.fetchall(select(pc.period, pc.user_id, pc.done_count))}
    assert periods == expected_periods


async def test_concurrent_changes_of_one_member_all_count(db: Database) -> None:
    """Ten changes of one member at once (on PostgreSQL the writers really run concurrently, several processes
    may be writing): each lands, the summary counts all ten, each is its own undo batch. Failed on PostgreSQL
    before the member's write lock (summary 1-3 instead of 10, batches reused)."""
    import asyncio

    await asyncio.gather(*(apply_changes(db, G, U, [StepChange(n, Status.DONE)], T0, default_tz=UTC_TZ)
                           for n in range(1, 11)))
    row = await db.fetchone(select(members.c.done_count).where(members.c.guild_id == G, members.c.user_id == U))
    assert row is not None
    assert row[0] == 10
    batches = await db.fetchall(select(history.c.batch).where(history.c.guild_id == G, history.c.user_id == U))
    assert sorted(r[0] for r in batches) == list(range(1, 11))
    assert (await load_member(db, G, U)).done == frozenset(range(1, 11))

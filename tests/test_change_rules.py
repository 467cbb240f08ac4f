"""bot.domain.changes: what a change does to a member's progress (states, summary, period counts, history,
undo/redo targets), as plain functions; and one store test of undo over a batch that changed a step twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.changes import (
    HistoryEntry,
    PeriodCount,
    StepChange,
    Summary,
    move_targets,
    period_counts,
    plan_changes,
    summarize,
)
from bot.domain.progress import MemberProgress, Status, StepState
from db.database import Database
from db.progress import apply_changes, load_member, undo

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a Sunday
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def member(*states: StepState) -> MemberProgress:
    return MemberProgress(1, 2, {s.step: s for s in states})


def done(step: int, at: datetime) -> StepState:
    return StepState(step, Status.DONE, None, at, at)


def test_a_change_that_changes_nothing_plans_nothing() -> None:
    before = member(done(1, T0))
    plan = plan_changes(before, [StepChange(1, Status.DONE), StepChange(5, None)], T0 + timedelta(days=1), TOKYO)
    assert plan.result.changed == ()
    assert plan.result.after is before
    assert plan.summary is None
    assert (plan.upserts, plan.deletes, plan.history, plan.periods) == ((), (), (), ())


def test_done_keeps_its_date_unless_the_change_brings_one() -> None:
    later = T0 + timedelta(days=3)
    before = member(StepState(1, Status.DONE, None, T0, T0))
    kept = plan_changes(before, [StepChange(1, Status.DONE, note="link")], later, TOKYO)
    assert kept.upserts == (StepState(1, Status.DONE, "link", later, T0),)
    imported = plan_changes(before, [StepChange(1, Status.DONE, done_at=T0 - timedelta(days=9))], later, TOKYO)
    assert imported.upserts[0].done_at == T0 - timedelta(days=9)
    fresh = plan_changes(member(), [StepChange(1, Status.DONE)], later.astimezone(TOKYO), TOKYO)
    assert fresh.upserts[0].done_at == later
    assert fresh.upserts[0].done_at.tzinfo is UTC  # stored and returned in UTC


def test_summary_history_and_removal() -> None:
    before = member(done(1, T0), done(2, T0 + timedelta(hours=1)), StepState(3, Status.IN_PROGRESS, None, T0))
    now = T0 + timedelta(days=1)
    plan = plan_changes(before, [StepChange(2, None), StepChange(3, Status.SKIPPED)], now, TOKYO)
    assert plan.result.changed == (2, 3)
    assert plan.deletes == (2,)
    assert plan.summary == Summary(done_count=1, reached_at=T0, current_step=2)
    assert plan.history == (
        HistoryEntry(2, Status.DONE, None, T0 + timedelta(hours=1), None, None, None),
        HistoryEntry(3, Status.IN_PROGRESS, None, None, Status.SKIPPED, None, None),
    )
    assert plan.result.before is before
    assert sorted(plan.result.after.states) == [1, 3]


def test_summarize_counts_undated_done_steps_and_steps_past_the_plan() -> None:
    undated = StepState(1, Status.DONE, None, T0)
    assert summarize([]) == Summary(0, None, 1)
    assert summarize([undated, StepState(2, Status.SKIPPED, None, T0)]) == Summary(1, None, 3)
    assert summarize([undated, done(2, T0), StepState(7, Status.IN_PROGRESS, None, T0)]) == Summary(2, T0, 7)


def test_period_counts_in_the_member_zone() -> None:
    # Sunday 2026-03-01 20:00 UTC is Monday 05:00 in Tokyo (week 10) and Sunday 15:00 in New York (week 9).
    sunday_evening = datetime(2026, 3, 1, 20, tzinfo=UTC)
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)
    times = [sunday_evening, monday, monday - timedelta(days=60)]  # the last is too far to share a period
    assert period_counts([monday], times, TOKYO) == [
        PeriodCount("2026-03", 2, monday), PeriodCount("2026-W10", 2, monday),
    ]
    assert period_counts([monday], times, NEW_YORK) == [
        PeriodCount("2026-03", 2, monday), PeriodCount("2026-W10", 1, monday),
    ]
    assert period_counts([sunday_evening], [monday], NEW_YORK) == [
        PeriodCount("2026-03", 1, monday), PeriodCount("2026-W09", 0, None),
    ]
    assert period_counts([], times, TOKYO) == []


def test_a_plan_recounts_the_periods_its_done_times_touch() -> None:
    old = T0 - timedelta(days=20)  # Monday 9 February
    before = member(done(1, old), done(2, T0))
    plan = plan_changes(before, [StepChange(1, None)], T0, TOKYO)
    assert plan.periods == (PeriodCount("2026-02", 0, None), PeriodCount("2026-W07", 0, None))


def entry(step: int, before: Status | None, after: Status | None) -> HistoryEntry:
    return HistoryEntry(step, before, None, None, after, None, None)


def test_undo_puts_back_each_step_as_it_was_before_the_batch() -> None:
    batch = [entry(1, None, Status.IN_PROGRESS), entry(2, Status.SKIPPED, Status.DONE),
             entry(1, Status.IN_PROGRESS, Status.DONE)]
    assert move_targets(batch, undo=True) == [StepChange(1, None), StepChange(2, Status.SKIPPED)]
    assert move_targets(batch, undo=False) == [StepChange(1, Status.DONE), StepChange(2, Status.DONE)]
    assert move_targets([], undo=True) == []


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.open()
    await database.migrate()
    yield database
    await database.close()


async def test_undo_of_a_batch_that_changed_a_step_twice(db: Database) -> None:
    """Failed before: undo restored the step's state between the two changes (in progress), not before them."""
    utc = ZoneInfo("UTC")
    await apply_changes(db, 1, 2, [StepChange(1, Status.IN_PROGRESS), StepChange(1, Status.DONE)], T0,
                        default_tz=utc)
    moved = await undo(db, 1, 2, T0, default_tz=utc)
    assert moved is not None
    assert (await load_member(db, 1, 2)).states == {}

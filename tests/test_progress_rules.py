"""Progress rules: the current step, phase completion, streaks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.plan import load_plan
from bot.domain.progress import MemberProgress, Status, StepState, completions, current_step, phase_done_counts, streaks

PLAN = load_plan()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def states(**by_status: list[int]) -> dict[int, StepState]:
    out: dict[int, StepState] = {}
    for status, numbers in by_status.items():
        for n in numbers:
            done_at = T0 if status == "done" else None
            out[n] = StepState(n, Status(status), None, T0, done_at)
    return out


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, 1),
        ({"done": [1, 2]}, 3),
        ({"done": [1], "skipped": [2, 3]}, 4),
        ({"done": [1, 2], "in_progress": [9]}, 9),
        ({"in_progress": [12, 7]}, 7),
        ({"done": [2, 3]}, 1),
        ({"done": list(range(1, 80)), "skipped": [80]}, None),
        ({"done": list(range(1, 81))}, None),
    ],
)
def test_current_step(given: dict[str, list[int]], expected: int | None) -> None:
    step = current_step(PLAN, states(**given))
    assert (step.number if step else None) == expected


def test_member_progress_counts_only_done() -> None:
    member = MemberProgress(1, 2, states(done=[1, 2, 3], skipped=[4], in_progress=[5]))
    assert member.done_count == 3
    assert member.done == {1, 2, 3}
    assert member.skipped == {4}
    assert member.status_of(5) is Status.IN_PROGRESS
    assert member.status_of(6) is None


def test_phase_done_counts() -> None:
    counts = phase_done_counts(PLAN, [1, 2, 3, 4, 5])
    assert counts[0][1] == 4
    assert counts[1][1] == 1
    assert sum(done for _, done in counts) == 5


@pytest.mark.parametrize(
    ("before", "after", "phases", "whole"),
    [
        ([1, 2, 3], [1, 2, 3, 4], [1], False),
        ([1, 2, 3, 4], [1, 2, 3, 4, 5], [], False),
        ([1, 2, 3, 4], [1, 2, 3, 4], [], False),
        ([], [1, 2, 3, 4, 5, 6, 7, 8], [1, 2], False),
        (list(range(1, 80)), list(range(1, 81)), [19], True),
        (list(range(1, 81)), list(range(1, 81)), [], False),
    ],
)
def test_completions(before: list[int], after: list[int], phases: list[int], whole: bool) -> None:
    result = completions(PLAN, before, after)
    assert [p.number for p in result.phases] == phases
    assert result.plan is whole


BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=tz).astimezone(UTC)


@pytest.mark.parametrize(
    ("done", "today", "current", "longest"),
    [
        ([], date(2026, 3, 10), 0, 0),
        ([at(10, 9)], date(2026, 3, 10), 1, 1),
        ([at(9, 9)], date(2026, 3, 10), 1, 1),  # yesterday still counts: today is not over
        ([at(8, 9)], date(2026, 3, 10), 0, 1),
        ([at(8, 9), at(9, 9), at(10, 9)], date(2026, 3, 10), 3, 3),
        ([at(8, 9), at(8, 20), at(9, 9)], date(2026, 3, 10), 2, 2),  # two on one day count once
        ([at(1, 9), at(2, 9), at(3, 9), at(4, 9), at(9, 9), at(10, 9)], date(2026, 3, 10), 2, 4),
        # 00:30 local on the 10th is still the 9th in UTC: local days decide
        ([at(9, 12), at(10, 0) + timedelta(minutes=30)], date(2026, 3, 10), 2, 2),
    ],
)
def test_streaks(done: list[datetime], today: date, current: int, longest: int) -> None:
    result = streaks(done, BERLIN, today)
    assert (result.current, result.longest) == (current, longest)


def test_streak_days_depend_on_the_time_zone() -> None:
    late = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # Berlin: the 10th; New York: the 9th
    early = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Berlin: the 9th; New York: the 8th
    assert streaks([early, late], BERLIN, date(2026, 3, 10)).current == 2
    assert streaks([early, late], ZoneInfo("America/New_York"), date(2026, 3, 9)).current == 2
    assert streaks([early, late], ZoneInfo("Asia/Tokyo"), date(2026, 3, 10)).current == 2


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_streaks_and_pace_survive_done_dates_in_year_1_and_9999(zone: str) -> None:
    """What an old database may hold: before, streaks() raised OverflowError for the member (and the reminder
    tick that built their DM)."""
    from bot.domain.stats import summarize

    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    done = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
            now - timedelta(days=1), now - timedelta(days=2)]
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    streak = streaks(done, tz, today)
    assert streak.current >= 1
    assert streak.longest >= 2
    summary = summarize(80, ["done"] * 4, done, now, today)
    assert summary.pace == 0.5  # the two recent steps over four weeks; year 1 and 9999 count for nothing

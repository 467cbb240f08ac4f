"""bot.stats: pace, forecast, percent, summary (the chart helpers are tested in test_charts.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.stats import forecast_finish, pace_per_week, percent, summarize

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


@pytest.mark.parametrize(("times", "expected"), [
    ([], 0.0),
    (days_ago(40, 50), 0.0),  # nothing in the last four weeks
    (days_ago(1, 2, 3, 4, 5, 6, 7, 8) + days_ago(60), 2.0),  # 8 in 4 weeks, started long ago
    (days_ago(*range(28)) + days_ago(90), 7.0),  # one a day for four weeks
    (days_ago(0.5, 1), 2.0),  # started yesterday: measured over at least one week
    (days_ago(1, 2, 3, 13), 4 / (13 / 7)),  # started 13 days ago: 4 steps over 13 days
    (days_ago(27.9, 1, 100), 0.5),  # oldest still inside the window
    (days_ago(28, 1) + days_ago(100), 0.25),  # exactly 28 days ago falls out of the window
    ([NOW + timedelta(days=1)], 0.0),  # a time after now is ignored
], ids=["none", "old-only", "steady", "daily", "new-member", "two-weeks", "edge-inside", "edge-outside", "future"])
def test_pace_per_week(times: list[datetime], expected: float) -> None:
    assert pace_per_week(times, NOW) == pytest.approx(expected)


@pytest.mark.parametrize(("remaining", "pace", "expected"), [
    (0, 0.0, date(2026, 3, 1)),  # finished: today, even without a pace
    (10, 0.0, None),
    (10, 5.0, date(2026, 3, 15)),  # two weeks
    (1, 7.0, date(2026, 3, 2)),
    (3, 2.0, date(2026, 3, 12)),  # 10.5 days round up to 11
    (80, 0.25, date(2026, 3, 1) + timedelta(days=2240)),  # slow and far: 320 weeks
])
def test_forecast_finish(remaining: int, pace: float, expected: date | None) -> None:
    assert forecast_finish(remaining, pace, date(2026, 3, 1)) == expected


@pytest.mark.parametrize(("done", "total", "expected"), [(0, 80, 0), (1, 80, 1), (79, 80, 98), (80, 80, 100),
                                                          (0, 0, 0), (2, 3, 66)])
def test_percent(done: int, total: int, expected: int) -> None:
    assert percent(done, total) == expected


def test_summarize_counts_skipped_as_not_remaining_and_not_done() -> None:
    summary = summarize(80, ["done", "done", "skipped", "in_progress"], days_ago(1, 2), NOW, date(2026, 3, 1))
    assert (summary.done, summary.skipped, summary.in_progress, summary.remaining) == (2, 1, 1, 77)
    assert summary.percent == 2
    assert summary.pace == pytest.approx(2.0)
    assert summary.forecast == date(2026, 3, 1) + timedelta(days=270)  # ceil(77 / 2 * 7) = 270


def test_summarize_without_activity_has_no_forecast() -> None:
    summary = summarize(80, ["skipped"], [], NOW, date(2026, 3, 1))
    assert summary.pace == 0
    assert summary.forecast is None

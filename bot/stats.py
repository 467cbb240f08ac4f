"""Progress statistics: pace, forecast finish, the cumulative series a chart draws. Pure Python, no Discord.

Every function takes the instant or day it reasons about as an argument.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PACE_WINDOW = timedelta(weeks=4)
MIN_PACE_WINDOW = timedelta(weeks=1)


def pace_per_week(done_times: Iterable[datetime], now: datetime) -> float:
    """Steps done per week over the last four weeks.

    A member who started less than four weeks ago is measured over the time
    since their first step (but over at least one week, so that two steps on
    the first day do not promise fourteen a week).
    """
    times = [t for t in done_times if t <= now]
    recent = [t for t in times if t > now - PACE_WINDOW]
    if not recent:
        return 0.0
    window = min(PACE_WINDOW, max(MIN_PACE_WINDOW, now - min(times)))
    return len(recent) / (window / timedelta(weeks=1))


def forecast_finish(remaining: int, pace: float, today: date) -> date | None:
    """The day the remaining steps would be done at `pace` steps a week; None when pace is zero.

    With nothing remaining, today.
    """
    if remaining <= 0:
        return today
    if pace <= 0:
        return None
    return today + timedelta(days=math.ceil(remaining / pace * 7))


def cumulative_series(done_times: Iterable[datetime], now: datetime | None = None) -> list[tuple[datetime, int]]:
    """(instant, steps done so far) at each step done, in time order, plus a last point at `now` if later."""
    points = [(t, index) for index, t in enumerate(sorted(done_times), start=1)]
    if now is not None and points and now > points[-1][0]:
        points.append((now, points[-1][1]))
    return points


CHART_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def chart_series(done_times: Iterable[datetime], now: datetime) -> list[tuple[datetime, int]]:
    """`cumulative_series` for the chart: a done time before 2000 or after `now` (a year-1 or year-9999 date an
    old database may hold) still counts in the totals after it, but is not a point of its own, so the time axis
    stays a few years wide (matplotlib cannot draw year 1 with the padding around it)."""
    points = cumulative_series(done_times)
    if not points:
        return []
    drawn = [(t, n) for t, n in points if CHART_EARLIEST <= t <= now]
    so_far = sum(1 for t, _ in points if t <= now)
    if not drawn or now > drawn[-1][0]:
        drawn.append((now, so_far))
    return drawn


def percent(done: int, total: int) -> int:
    """Whole percent, rounded down so that 79/80 never reads 100 %."""
    return 0 if total <= 0 else done * 100 // total


@dataclass(frozen=True, slots=True)
class Summary:
    done: int
    skipped: int
    in_progress: int
    remaining: int  # neither done nor skipped
    percent: int
    pace: float
    forecast: date | None


def summarize(total: int, statuses: Iterable[str], done_times: Iterable[datetime], now: datetime,
              today: date) -> Summary:
    """The numbers of a progress card. `statuses` are the Status values of the member's stored steps."""
    counts = {"done": 0, "skipped": 0, "in_progress": 0}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    done, skipped = counts["done"], counts["skipped"]
    remaining = max(0, total - done - skipped)
    pace = pace_per_week(done_times, now)
    return Summary(done, skipped, counts["in_progress"], remaining, percent(done, total), pace,
                   forecast_finish(remaining, pace, today))

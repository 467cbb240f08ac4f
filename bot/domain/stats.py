"""Progress statistics: pace, forecast finish, the per-day series and calendar the charts draw. Pure Python,
no Discord.

Every function takes the instant or day it reasons about as an argument.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.timeutil import local_date

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


# ---------------------------------------------------------------------------------------------- charts

CHART_MIN_DAYS = 14  # the daily chart always shows at least two weeks
CHART_MAX_DAYS = 182  # and at most 26 weeks; steps done before count in its starting total
CALENDAR_WEEKS = 26


def local_day_counts(done_times: Iterable[datetime], tz: ZoneInfo, today: date) -> Counter[date]:
    """Steps done per local day in `tz`. A day after `today` (a clock ahead, a far-future value) counts on
    `today`: the step is done, so it counts, but never on a day that has not come."""
    counts: Counter[date] = Counter()
    for instant in done_times:
        counts[min(local_date(instant, tz), today)] += 1
    return counts


@dataclass(frozen=True, slots=True)
class DailySeries:
    """What the progress chart draws: consecutive local days ending today, steps done on each, and the
    running total at the end of each day (which includes `before`, the steps done before the first day)."""

    days: list[date]
    per_day: list[int]
    cumulative: list[int]
    before: int

    @property
    def done(self) -> int:
        return self.cumulative[-1] if self.cumulative else self.before


def daily_series(done_times: Iterable[datetime], tz: ZoneInfo, today: date, min_days: int = CHART_MIN_DAYS,
                 max_days: int = CHART_MAX_DAYS) -> DailySeries:
    """Bucket done instants into the member's local days, from their first day (at least `min_days` and at
    most `max_days` back) to `today`. Days out of the window never stretch it: older ones count in `before`."""
    counts = local_day_counts(done_times, tz, today)
    earliest = today - timedelta(days=max_days - 1)
    first = min((day for day in counts if day >= earliest), default=today)
    start = max(earliest, min(first, today - timedelta(days=min_days - 1)))
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    before = sum(n for day, n in counts.items() if day < start)
    per_day = [counts.get(day, 0) for day in days]
    cumulative: list[int] = []
    running = before
    for n in per_day:
        running += n
        cumulative.append(running)
    return DailySeries(days, per_day, cumulative, before)


def expected_by_day(days: Iterable[date], expected: Callable[[date, int], int], total: int) -> list[int]:
    """A cohort's expected steps on each day (`Cohort.expected`), for the chart's pace line."""
    return [expected(day, total) for day in days]


@dataclass(frozen=True, slots=True)
class ActivityGrid:
    """A calendar heatmap: `counts[week][weekday]` steps done on `start + 7*week + weekday` days (start is a
    Monday); days after `today` are None (not drawn)."""

    start: date
    today: date
    counts: list[list[int | None]]

    def day(self, week: int, weekday: int) -> date:
        return self.start + timedelta(days=7 * week + weekday)

    @property
    def total(self) -> int:
        return sum(n or 0 for week in self.counts for n in week)

    @property
    def active_days(self) -> int:
        return sum(1 for week in self.counts for n in week if n)


def activity_grid(done_times: Iterable[datetime], tz: ZoneInfo, today: date,
                  weeks: int = CALENDAR_WEEKS) -> ActivityGrid:
    """The last `weeks` weeks (Monday first, the last one holding `today`) of steps done per local day."""
    counts = local_day_counts(done_times, tz, today)
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    grid: list[list[int | None]] = []
    for week in range(weeks):
        column: list[int | None] = []
        for weekday in range(7):
            day = start + timedelta(days=7 * week + weekday)
            column.append(None if day > today else counts.get(day, 0))
        grid.append(column)
    return ActivityGrid(start, today, grid)


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

"""The progress chart and the activity calendar: bucketing done steps into the member's local days (pure
functions in bot.stats), and PNGs of the expected size for any data, also from several threads at once.

Written before the rewrite, these failed on the old code: it had no per-day or calendar bucketing at all (the
chart drew UTC instants on an hour axis for a first step, labelled December days under "Jan", and had no
calendar), so the imports below did not exist.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.domain.community import Cohort
from bot.domain.stats import (
    CALENDAR_WEEKS,
    CHART_MAX_DAYS,
    CHART_MIN_DAYS,
    activity_grid,
    daily_series,
    expected_by_day,
    local_day_counts,
)
from bot.domain.timeutil import local_date
from bot.ui.charts import CALENDAR_SIZE, PROGRESS_SIZE, activity_calendar, progress_chart

UTC_ZONE = ZoneInfo("UTC")
HONOLULU = ZoneInfo("Pacific/Honolulu")  # UTC-10 all year
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14 all year
TODAY = date(2026, 3, 20)  # a Friday
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


def image_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        return image.size


# ---------------------------------------------------------------------- bucketing into local days

def test_a_step_at_2330_local_counts_on_that_local_day_far_from_utc() -> None:
    honolulu_2330 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 23:30 on March 9 in Honolulu
    kiritimati_2330 = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)  # 23:30 on March 9 in Kiritimati
    assert local_day_counts([honolulu_2330], HONOLULU, TODAY) == {date(2026, 3, 9): 1}
    assert local_day_counts([kiritimati_2330], KIRITIMATI, TODAY) == {date(2026, 3, 9): 1}
    assert local_day_counts([honolulu_2330, kiritimati_2330], UTC_ZONE, TODAY) == {date(2026, 3, 10): 1,
                                                                                    date(2026, 3, 9): 1}
    series = daily_series([honolulu_2330], HONOLULU, TODAY)
    assert series.per_day[series.days.index(date(2026, 3, 9))] == 1
    grid = activity_grid([kiritimati_2330], KIRITIMATI, TODAY)
    march_9 = (date(2026, 3, 9) - grid.start).days
    assert grid.counts[march_9 // 7][march_9 % 7] == 1
    assert grid.total == 1


def test_one_step_shows_two_weeks_of_days_ending_today() -> None:
    series = daily_series([NOW - timedelta(hours=1)], UTC_ZONE, TODAY)
    assert len(series.days) == CHART_MIN_DAYS
    assert series.days[-1] == TODAY
    assert series.days[0] == TODAY - timedelta(days=CHART_MIN_DAYS - 1)
    assert all(b - a == timedelta(days=1) for a, b in zip(series.days, series.days[1:], strict=False))
    assert series.per_day == [0] * (CHART_MIN_DAYS - 1) + [1]
    assert series.cumulative == [0] * (CHART_MIN_DAYS - 1) + [1]
    assert (series.before, series.done) == (0, 1)


def test_days_run_from_the_first_step_and_sum_to_the_running_total() -> None:
    times = [NOW - timedelta(days=d) for d in (30, 30, 29, 10, 0)]
    series = daily_series(times, UTC_ZONE, TODAY)
    assert series.days[0] == TODAY - timedelta(days=30)
    assert len(series.days) == 31
    assert series.per_day[:2] == [2, 1]
    assert sum(series.per_day) == 5
    assert series.cumulative[0] == 2
    assert series.cumulative[-1] == 5
    assert series.cumulative == sorted(series.cumulative)


def test_steps_older_than_the_window_count_in_the_starting_total() -> None:
    times = [NOW - timedelta(days=400), NOW - timedelta(days=300), NOW - timedelta(days=5)]
    series = daily_series(times, UTC_ZONE, TODAY)
    assert len(series.days) == CHART_MIN_DAYS  # the old steps do not stretch the axis to a year
    assert series.before == 2
    assert series.cumulative[0] == 2
    assert series.done == 3
    capped = daily_series([NOW - timedelta(days=150), NOW - timedelta(days=400)], UTC_ZONE, TODAY)
    assert len(capped.days) == 151 <= CHART_MAX_DAYS
    assert capped.before == 1


@pytest.mark.parametrize("tz", [UTC_ZONE, HONOLULU, KIRITIMATI], ids=["utc", "honolulu", "kiritimati"])
def test_year_1_and_year_9999_done_dates_neither_raise_nor_stretch_the_axis(tz: ZoneInfo) -> None:
    assert local_date(YEAR_1, tz) <= date(1, 1, 2)
    assert local_date(YEAR_9999, tz) >= date(9999, 12, 30)
    times = [YEAR_1, YEAR_9999, NOW - timedelta(days=3)]
    series = daily_series(times, tz, TODAY)
    assert len(series.days) == CHART_MIN_DAYS
    assert series.before == 1  # the year-1 step is done: it counts, before the window
    assert series.per_day[-1] == 1  # the far-future one counts on today, never on a day to come
    assert series.done == 3
    grid = activity_grid(times, tz, TODAY)
    assert grid.total == 2  # year 1 is outside the calendar; the future one is on today
    last = (TODAY - grid.start).days
    assert grid.counts[last // 7][last % 7] == 1


def test_the_calendar_is_weeks_of_monday_to_sunday_ending_with_this_week() -> None:
    times = [NOW, NOW - timedelta(days=1), NOW - timedelta(days=1, hours=2), NOW - timedelta(weeks=30)]
    grid = activity_grid(times, UTC_ZONE, TODAY)
    assert len(grid.counts) == CALENDAR_WEEKS
    assert all(len(week) == 7 for week in grid.counts)
    assert grid.start.weekday() == 0
    assert grid.day(CALENDAR_WEEKS - 1, TODAY.weekday()) == TODAY
    assert grid.counts[-1][4] == 1
    assert grid.counts[-1][3] == 2
    assert grid.counts[-1][5:] == [None, None]  # Saturday and Sunday have not come
    assert (grid.total, grid.active_days) == (3, 2)  # 30 weeks ago is before the calendar


def test_cohort_pace_by_day() -> None:
    cohort = Cohort(date(2026, 3, 10), 7.0)
    days = [date(2026, 3, 9) + timedelta(days=i) for i in range(5)]
    assert expected_by_day(days, cohort.expected, 80) == [0, 0, 1, 2, 3]
    assert expected_by_day(days, Cohort(date(2020, 1, 1), 7.0).expected, 80) == [80] * 5


# ---------------------------------------------------------------------- the images

@pytest.mark.parametrize("times", [
    [],
    [NOW],
    [NOW - timedelta(days=d) for d in (11, 10, 10, 9, 8, 8, 7, 5, 4, 4, 3, 2, 1, 1)],
    [NOW - timedelta(days=d / 3) for d in range(540)],  # 540 steps over 180 days, above the plan's total
    [YEAR_1, YEAR_9999, NOW - timedelta(days=2)],
], ids=["none", "one", "two-weeks", "half-year-dense", "out-of-range"])
@pytest.mark.parametrize("tz", [UTC_ZONE, KIRITIMATI], ids=["utc", "kiritimati"])
def test_charts_are_pngs_of_the_expected_size(times: list[datetime], tz: ZoneInfo) -> None:
    today = NOW.astimezone(tz).date()
    series = daily_series(times, tz, today)
    pace = expected_by_day(series.days, Cohort(today - timedelta(days=20), 5.0).expected, 80)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when it cannot lay out ticks or text
        for cohort_pace in (None, pace):
            assert image_size(progress_chart(series, 80, cohort_pace, "Steps done")) == PROGRESS_SIZE
        assert image_size(activity_calendar(activity_grid(times, tz, today), "Activity", tz.key)) == CALENDAR_SIZE


def test_a_calendar_of_any_number_of_weeks_renders() -> None:
    for weeks in (1, 4, 52):
        grid = activity_grid([NOW], UTC_ZONE, TODAY, weeks=weeks)
        assert image_size(activity_calendar(grid)) == CALENDAR_SIZE


async def test_charts_render_in_parallel_threads() -> None:
    series = daily_series([NOW - timedelta(days=i) for i in range(30)], UTC_ZONE, TODAY)
    grid = activity_grid([NOW - timedelta(days=i) for i in range(30)], UTC_ZONE, TODAY)
    charts = await asyncio.gather(*(asyncio.to_thread(progress_chart, series, 80, None, f"m{i}") for i in range(4)),
                                  *(asyncio.to_thread(activity_calendar, grid, f"m{i}") for i in range(4)))
    assert all(c.startswith(PNG) for c in charts)


@pytest.mark.parametrize("span", [14, 30, 90, 182])
def test_each_date_label_names_the_day_it_stands_under(span: int) -> None:
    """grace's old chart put "Jan" under December 21-31; a label here is written from its own day."""
    from bot.ui.charts import MONTHS, _date_ticks

    today = date(2026, 1, 1)
    days = [today - timedelta(days=span - 1 - i) for i in range(span)]
    picks, labels = _date_ticks(days, 648 / span)
    assert picks[-1] == span - 1
    assert labels[-1] == "today"
    month = None
    for i, label in zip(picks[:-1], labels[:-1], strict=True):
        *name, number = label.split()
        month = name[0] if name else month
        assert (month, int(number)) == (MONTHS[days[i].month - 1], days[i].day)
    gaps = [b - a for a, b in itertools.pairwise(picks)]
    assert min(gaps) * 648 / span >= 88  # never two labels on top of each other ("Dec 20" is ~65 px)

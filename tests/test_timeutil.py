"""Wall-clock arithmetic: parsing times and zones, next occurrences across DST, periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.timeutil import (
    WEEKDAYS,
    local_date,
    local_day_starts,
    local_wall_to_utc,
    next_occurrence,
    parse_hhmm,
    period_key,
    period_start,
    resolve_timezone,
    search_timezones,
    wall_to_utc_exact,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("text", "expected"), [("09:00", time(9)), ("9:05", time(9, 5)), (" 23:59 ", time(23, 59)),
                                                 ("00:00", time(0))])
def test_parse_hhmm(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [("25:00", "hours go 00–23"), ("12:60", "minutes 00–59"),
                                                ("9", "HH:MM"), ("noon", "HH:MM"), ("", "HH:MM"), ("9:5", "HH:MM")])
def test_parse_hhmm_rejects_with_an_example(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_hhmm(text)


def test_resolve_timezone() -> None:
    assert resolve_timezone("europe/berlin").key == "Europe/Berlin"
    assert resolve_timezone("UTC").key == "UTC"
    with pytest.raises(ValueError, match="Europe/Berlin"):
        resolve_timezone("Berlin")
    with pytest.raises(ValueError, match="not a time zone"):
        resolve_timezone("../../etc/passwd")


@pytest.mark.parametrize(("query", "first"), [("berl", "Europe/Berlin"), ("new_y", "America/New_York"),
                                              ("new y", "America/New_York"), ("tokyo", "Asia/Tokyo"), ("", "UTC")])
def test_search_timezones(query: str, first: str) -> None:
    found = search_timezones(query)
    assert found[0] == first
    assert len(found) <= 25


@pytest.mark.parametrize(
    ("day", "at", "tz", "expected_utc"),
    [
        ((2026, 3, 29), time(2, 30), BERLIN, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),  # gap -> 03:00 CEST
        ((2026, 3, 29), time(3, 0), BERLIN, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ((2026, 10, 25), time(2, 30), BERLIN, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # fold -> first (CEST)
        ((2026, 3, 8), time(2, 15), NEW_YORK, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),  # gap -> 03:00 EDT
        ((2026, 11, 1), time(1, 30), NEW_YORK, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # fold -> EDT
        ((2026, 7, 1), time(9, 0), NEW_YORK, datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_local_wall_to_utc_across_dst(day: tuple[int, int, int], at: time, tz: ZoneInfo,
                                      expected_utc: datetime) -> None:
    assert local_wall_to_utc(date(*day), at, tz) == expected_utc


def test_next_occurrence_is_strictly_after_and_fires_once_on_a_fall_back_night() -> None:
    start = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    first = next_occurrence(start, time(2, 30), BERLIN)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = next_occurrence(first, time(2, 30), BERLIN)
    assert second == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # not 01:30 UTC on the 25th (the repeat)


def test_next_occurrence_on_chosen_weekdays() -> None:
    friday_evening = datetime(2026, 5, 1, 20, 0, tzinfo=UTC)  # a Friday
    assert next_occurrence(friday_evening, time(9), UTC, WEEKDAYS) == datetime(2026, 5, 4, 9, tzinfo=UTC)
    assert next_occurrence(friday_evening, time(21), UTC, frozenset({4})) == datetime(2026, 5, 1, 21, tzinfo=UTC)
    with pytest.raises(ValueError, match="empty"):
        next_occurrence(friday_evening, time(9), UTC, frozenset())


def test_periods_follow_the_local_calendar() -> None:
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # UTC+14
    now = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)  # already July 1st (a Wednesday) there
    assert period_key(now, kiritimati, "month") == "2026-07"
    assert period_key(now, UTC, "month") == "2026-06"
    assert period_start(now, kiritimati, "month") == datetime(2026, 6, 30, 10, 0, tzinfo=UTC)
    assert period_start(now, UTC, "week") == datetime(2026, 6, 29, 0, 0, tzinfo=UTC)
    assert period_key(now, UTC, "week") == "2026-W27"
    assert period_start(now, UTC, "all") is None


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham",
                                  "America/Santiago", "America/Havana", "Asia/Kolkata", "UTC"])
def test_the_steady_day_shortcut_agrees_with_asking_the_zone(zone: str) -> None:
    """Every day of two years at times around the usual switch hours and midnight: same instant as the slow way."""
    tz = ZoneInfo(zone)
    day = date(2026, 1, 1)
    times = [time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(3, 0), time(12, 0), time(23, 30)]
    while day < date(2028, 1, 1):
        for at in times:
            assert local_wall_to_utc(day, at, tz) == wall_to_utc_exact(day, at, tz), (day, at)
        day += timedelta(days=1)


def test_local_date_at_the_ends_of_the_calendar_falls_back_to_the_utc_date() -> None:
    """A year-1 or year-9999 instant (an old database's done date) has no local date behind or ahead of UTC:
    before, `astimezone` raised OverflowError and took /progress and the zone change down with it."""
    year_1, year_9999 = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert local_date(year_1, ZoneInfo("America/New_York")) == date(1, 1, 1)
    assert local_date(year_9999, ZoneInfo("Asia/Tokyo")) == date(9999, 12, 31)
    assert local_date(year_9999, ZoneInfo("America/New_York")) == date(9999, 12, 31)  # this one exists
    starts = local_day_starts([date(1, 1, 1), date(9999, 12, 31)], ZoneInfo("Asia/Tokyo"))
    assert starts == {datetime(1, 1, 1, tzinfo=UTC): date(1, 1, 1),
                      datetime(9999, 12, 31, tzinfo=UTC): date(9999, 12, 31)}

"""Pure community rules: ranking order, schedules and slots, cohort pace, the summary's current step."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.community import (
    Cohort,
    Pace,
    PostSchedule,
    cohort_status,
    describe_cohort,
    due_slots,
    next_slot,
    on_pace_count,
    parse_cohort,
    parse_period,
    parse_schedule,
    period_storage_key,
    rank_rows,
    summary_step,
)
from bot.domain.errors import UserError
from bot.domain.progress import Status

KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14: local Monday starts on Sunday 10:00 UTC
AUCKLAND = ZoneInfo("Pacific/Auckland")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---------------------------------------------------------------- ranking


def test_ties_go_to_whoever_reached_the_count_first_then_the_lower_id() -> None:
    rows = [(30, 5, T0 + timedelta(hours=2)), (10, 5, T0 + timedelta(hours=1)), (20, 7, T0 + timedelta(hours=9)),
            (5, 5, T0 + timedelta(hours=2)), (40, 1, T0)]
    ranked = rank_rows(rows)
    assert [(r.rank, r.user_id) for r in ranked] == [(1, 20), (2, 10), (3, 5), (4, 30), (5, 40)]


@pytest.mark.parametrize(("text", "expected"), [("all", "all"), ("WEEK", "week"), (" month ", "month"), ("", "all")])
def test_period_names(text: str, expected: str) -> None:
    assert parse_period(text) == expected


def test_unknown_period_says_what_works() -> None:
    with pytest.raises(UserError, match="Use `all`, `week` or `month`"):
        parse_period("year")


@pytest.mark.parametrize(
    ("instant", "period", "key"),
    [
        (utc(2026, 1, 4, 9, 59), "week", "2026-W01"),  # Sunday 23:59 in Kiritimati
        (utc(2026, 1, 4, 10, 0), "week", "2026-W02"),  # Monday 00:00 there, still Sunday in UTC
        (utc(2025, 12, 31, 9, 59), "month", "2025-12"),
        (utc(2025, 12, 31, 10, 0), "month", "2026-01"),  # New Year there, 10:00 on 31 December in UTC
        (utc(2026, 1, 4, 10, 0), "all", None),
    ],
)
def test_period_keys_follow_the_server_zone(instant: datetime, period: str, key: str | None) -> None:
    assert period_storage_key(instant, KIRITIMATI, period) == key  # type: ignore[arg-type]


# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("kind", "at", "weekday", "expected"),
    [
        ("daily", "18:00", None, PostSchedule("daily", time(18, 0))),
        ("Weekly", "9:05", "fri", PostSchedule("weekly", time(9, 5), 4)),
        ("weekly", "00:00", "Sunday", PostSchedule("weekly", time(0, 0), 6)),
        ("off", None, None, PostSchedule("off")),
        ("off", "99:99", "mon", PostSchedule("off")),  # nothing else matters when off
    ],
)
def test_schedules_parse(kind: str, at: str | None, weekday: str | None, expected: PostSchedule) -> None:
    assert parse_schedule(kind, at, weekday) == expected


@pytest.mark.parametrize(
    ("kind", "at", "weekday", "message"),
    [
        ("hourly", "18:00", None, "Use `daily`, `weekly` or `off`"),
        ("daily", None, None, "needs a time of day"),
        ("daily", "25:00", None, "hours go 00–23"),
        ("daily", "6pm", None, "Use 24-hour HH:MM"),
        ("weekly", "18:00", None, "needs a day"),
        ("weekly", "18:00", "someday", "not a weekday"),
        ("daily", "18:00", "mon", "only applies to weekly"),
    ],
)
def test_bad_schedules_say_what_would_work(kind: str, at: str | None, weekday: str | None, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_schedule(kind, at, weekday)


def test_next_slot_is_local_time_in_the_server_zone() -> None:
    daily = PostSchedule("daily", time(18, 0))
    # 18:00 in Kiritimati is 04:00 UTC.
    assert next_slot(daily, T0, KIRITIMATI) == utc(2026, 1, 1, 4, 0)
    assert next_slot(daily, utc(2026, 1, 1, 4, 0), KIRITIMATI) == utc(2026, 1, 2, 4, 0)
    weekly = PostSchedule("weekly", time(9, 0), 0)  # Mondays 09:00 Auckland (UTC+13 in January)
    assert next_slot(weekly, T0, AUCKLAND) == utc(2026, 1, 4, 20, 0)
    assert next_slot(PostSchedule("off"), T0, AUCKLAND) is None


DAILY = PostSchedule("daily", time(18, 0))
SLOT = utc(2026, 1, 1, 18, 0)  # in UTC


@pytest.mark.parametrize(
    ("now", "post", "late", "skipped", "following"),
    [
        (SLOT, SLOT, False, 0, SLOT + timedelta(days=1)),  # on time
        (SLOT + timedelta(seconds=30), SLOT, False, 0, SLOT + timedelta(days=1)),  # a tick later is not late
        (SLOT + timedelta(hours=3), SLOT, True, 0, SLOT + timedelta(days=1)),  # down for 3 h: posted late
        (SLOT + timedelta(hours=6), SLOT, True, 0, SLOT + timedelta(days=1)),  # 6 h is still in time
        (SLOT + timedelta(hours=6, minutes=1), None, False, 1, SLOT + timedelta(days=1)),  # older: skipped
        (SLOT + timedelta(days=2, hours=2), SLOT + timedelta(days=2), True, 2, SLOT + timedelta(days=3)),
        (SLOT + timedelta(days=2, hours=7), None, False, 3, SLOT + timedelta(days=3)),
    ],
)
def test_due_slots_post_once_late_within_six_hours_else_skip(now: datetime, post: datetime | None, late: bool,
                                                              skipped: int, following: datetime) -> None:
    decision = due_slots(SLOT, now, DAILY, ZoneInfo("UTC"))
    assert decision is not None
    assert (decision.post, decision.late, decision.skipped, decision.next) == (post, late, skipped, following)


def test_a_slot_in_the_future_is_not_due() -> None:
    assert due_slots(SLOT, SLOT - timedelta(seconds=1), DAILY, ZoneInfo("UTC")) is None


# ---------------------------------------------------------------- cohort

START = date(2026, 1, 5)
TODAY = date(2026, 1, 5)


@pytest.mark.parametrize(
    ("today", "pace", "expected"),
    [
        (date(2026, 1, 1), 5, 0),  # before the start
        (START, 5, 0),  # the first day: nothing expected yet
        (START + timedelta(days=1), 7, 1),
        (START + timedelta(days=7), 5, 5),
        (START + timedelta(days=10), 5, 7),  # 50/7 = 7.14 -> 7
        (START + timedelta(days=14), 2.5, 5),
        (START + timedelta(days=7 * 16), 5, 80),  # exactly the end
        (START + timedelta(days=400), 5, 80),  # after the plan's end: never more than the plan
    ],
)
def test_expected_steps_at_a_date(today: date, pace: float, expected: int) -> None:
    assert Cohort(START, pace).expected(today, 80) == expected


@pytest.mark.parametrize(("pace", "end"), [(5, date(2026, 4, 27)), (80, date(2026, 1, 12)), (3, date(2026, 7, 11))])
def test_cohort_end_is_the_first_day_everything_is_expected(pace: float, end: date) -> None:
    cohort = Cohort(START, pace)
    assert cohort.end(80) == end
    assert cohort.expected(end, 80) == 80
    assert cohort.expected(end - timedelta(days=1), 80) < 80


@pytest.mark.parametrize(
    ("done", "today", "pace", "by"),
    [
        (3, date(2026, 1, 1), Pace.NOT_STARTED, 0),
        (0, START, Pace.ON_PACE, 0),
        (5, START + timedelta(days=7), Pace.ON_PACE, 0),
        (8, START + timedelta(days=7), Pace.AHEAD, 3),
        (1, START + timedelta(days=7), Pace.BEHIND, 4),
        (79, START + timedelta(days=400), Pace.BEHIND, 1),
        (80, START + timedelta(days=400), Pace.FINISHED, 0),
        (80, START + timedelta(days=1), Pace.FINISHED, 0),
    ],
)
def test_cohort_status(done: int, today: date, pace: Pace, by: int) -> None:
    status = cohort_status(Cohort(START, 5), done, today, 80)
    assert (status.pace, status.by) == (pace, by)


@pytest.mark.parametrize(
    ("done", "days", "text"),
    [
        (1, 7, "🐢 Behind the cohort by 4 steps (1 done, 5 expected so far)."),
        (4, 7, "🐢 Behind the cohort by 1 step (4 done, 5 expected so far)."),
        (6, 7, "🚀 Ahead of the cohort by 1 step (6 done, 5 expected so far)."),
        (5, 7, "✅ On pace with the cohort (5 done, 5 expected so far)."),
        (80, 7, "🏁 Finished the plan: nothing left to pace."),
        (2, -3, "The cohort starts on 2026-01-05: anything you do before then puts you ahead."),
    ],
)
def test_cohort_lines_for_progress(done: int, days: int, text: str) -> None:
    assert describe_cohort(cohort_status(Cohort(START, 5), done, START + timedelta(days=days), 80)) == text


@pytest.mark.parametrize(
    ("start", "pace", "message"),
    [
        ("2026-13-01", 5, "is not a date"),
        ("next monday", 5, "Use YYYY-MM-DD"),
        ("2026-01-05", 0, "would never finish"),
        ("2026-01-05", -2, "would never finish"),
        ("2026-01-05", float("nan"), "Use a number above 0"),
        ("2026-01-05", 81, "more than the whole plan"),
        ("2026-01-05", float("inf"), "would never finish"),
        ("2026-01-05", 0.0001, "would take 15332 years; a cohort must finish within 10 years"),
        ("2026-01-05", 0.15, "Use a pace of at least 0.16"),
        ("9999-12-25", 5, "not on 9999-12-25"),
        ("2027-01-07", 5, "to a year from today (2027-01-06), not on 2027-01-07"),
        ("1999-12-31", 5, "can start from 2000-01-01"),
        ("0001-01-01", 0.0001, "can start from 2000-01-01"),
    ],
)
def test_bad_cohorts_are_rejected(start: str, pace: float, message: str) -> None:
    """Before the bounds, 0.0001 and 9999-12-25 were accepted and Cohort.end then raised OverflowError."""
    with pytest.raises(UserError) as caught:
        parse_cohort(start, pace, 80, TODAY)
    assert message in caught.value.message


@pytest.mark.parametrize(("start", "pace"), [(" 2026-01-05 ", 2.5), ("2000-01-01", 5), ("2027-01-05", 0.16),
                                             ("2026-01-05", 80)])
def test_good_cohort_parses(start: str, pace: float) -> None:
    cohort = parse_cohort(start, pace, 80, TODAY)
    assert cohort == Cohort(date.fromisoformat(start.strip()), pace)
    end = cohort.end(80)
    assert end is not None
    assert end - cohort.start <= timedelta(days=3653)


@pytest.mark.parametrize(("start", "pace"), [(date(9999, 12, 25), 5.0), (START, 0.0001), (date(1, 1, 1), 1e-300),
                                             (START, 1e308), (START, float("inf")), (START, -2.0), (START, 0.0)])
def test_a_stored_cohort_out_of_bounds_never_raises(start: date, pace: float) -> None:
    """What an old database may hold: the end is None when it is not a calendar date, the rest still answers."""
    cohort = Cohort(start, pace)
    end = cohort.end(80)
    assert end is None or end >= start
    for today in (date(1, 1, 2), TODAY, date(9999, 12, 31)):
        assert 0 <= cohort.expected(today, 80) <= 80
        describe_cohort(cohort_status(cohort, 3, today, 80))


def test_on_pace_counts_members_at_or_above_the_expectation() -> None:
    assert on_pace_count({1: 5, 2: 4, 3: 9, 4: 0}, 5) == 2
    assert on_pace_count({}, 0) == 0


# ---------------------------------------------------------------- the summary's current step


@pytest.mark.parametrize(
    ("statuses", "step"),
    [
        ({}, 1),
        ({1: Status.DONE, 2: Status.DONE}, 3),
        ({1: Status.DONE, 2: Status.SKIPPED, 4: Status.DONE}, 3),
        ({1: Status.DONE, 7: Status.IN_PROGRESS, 3: Status.IN_PROGRESS}, 3),  # the lowest in progress wins
        ({1: Status.IN_PROGRESS}, 1),
        (dict.fromkeys(range(1, 81), Status.DONE), 81),  # finished: beyond the plan
    ],
)
def test_summary_step_matches_the_member_s_current_step(statuses: dict[int, Status], step: int) -> None:
    assert summary_step(statuses) == step

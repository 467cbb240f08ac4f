"""Reminder rules: days, due instants across DST, downtime, snoozes and pacing (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reminders import (
    WEEKENDS,
    DeliveryKind,
    Reminder,
    Schedule,
    SendWindow,
    due_date,
    first_due,
    format_days,
    parse_days,
    plan_delivery,
    suggest_days,
    suggest_times,
)
from bot.domain.timeutil import ALL_DAYS, WEEKDAYS

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTCZ = ZoneInfo("UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---------------------------------------------------------------- days

@pytest.mark.parametrize(("text", "expected"), [
    (None, ALL_DAYS), ("", ALL_DAYS), ("daily", ALL_DAYS), ("Every day", ALL_DAYS),
    ("weekdays", WEEKDAYS), ("WEEKENDS", WEEKENDS),
    ("mon,wed,fri", frozenset({0, 2, 4})), ("Tue Thu", frozenset({1, 3})), ("monday, friday", frozenset({0, 4})),
    ("sat;sun", WEEKENDS), ("mon-fri", WEEKDAYS), ("fri-mon", frozenset({4, 5, 6, 0})),
    ("wed and sun", frozenset({2, 6})), ("tues,thurs", frozenset({1, 3})), ("mon,mon", frozenset({0})),
    ("weekends,mon", frozenset({5, 6, 0})),
])
def test_parse_days(text: str | None, expected: frozenset[int]) -> None:
    assert parse_days(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("someday", "`someday` is not a day"), ("mon,funday", "`funday` is not a day"),
    ("xx yy", "are not days"), (",", "names no day"), ("mon-funday", "not a day"),
])
def test_parse_days_rejects_with_examples(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as raised:
        parse_days(text)
    assert "mon,wed,fri" in str(raised.value)


@pytest.mark.parametrize(("days", "text"), [
    (ALL_DAYS, "every day"), (WEEKDAYS, "weekdays"), (WEEKENDS, "weekends"), (frozenset({4, 0, 2}), "Mon, Wed, Fri"),
    (frozenset({6}), "Sun"),
])
def test_format_days(days: frozenset[int], text: str) -> None:
    assert format_days(days) == text


@pytest.mark.parametrize(("typed", "first", "count_max"), [
    ("", "daily", 25), ("week", "weekdays", 25), ("mon,thu", "mon,thu", 25),
])
def test_suggest_days(typed: str, first: str, count_max: int) -> None:
    found = suggest_days(typed)
    assert found[0] == first
    assert len(found) <= count_max
    assert suggest_days("nonsense") == []


@pytest.mark.parametrize(("typed", "expected_first", "length"), [
    ("9", "09:00", 12), ("18:3", "18:30", 2), ("07:45", "07:45", 1), ("", "07:00", 9), ("25", None, 0),
    ("noon", None, 0),
])
def test_suggest_times(typed: str, expected_first: str | None, length: int) -> None:
    found = suggest_times(typed)
    assert len(found) == length
    if expected_first:
        assert found[0] == expected_first


# ---------------------------------------------------------------- due instants across DST

@pytest.mark.parametrize(("tz", "at", "after", "expected"), [
    # Berlin spring forward, 29 March 2026: 02:00-03:00 does not exist -> first valid instant after (03:00 CEST)
    (BERLIN, time(2, 30), utc(2026, 3, 28, 12), utc(2026, 3, 29, 1, 0)),
    (BERLIN, time(9, 0), utc(2026, 3, 28, 12), utc(2026, 3, 29, 7, 0)),  # 09:00 CEST is 07:00Z
    (BERLIN, time(9, 0), utc(2026, 3, 27, 12), utc(2026, 3, 28, 8, 0)),  # the day before: 09:00 CET = 08:00Z
    # Berlin fall back, 25 October 2026: 02:00-03:00 happens twice -> first occurrence only
    (BERLIN, time(2, 30), utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30)),
    (BERLIN, time(2, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),  # not again at 01:30Z
    # New York spring forward, 8 March 2026: 02:00-03:00 does not exist
    (NEW_YORK, time(2, 30), utc(2026, 3, 7, 12), utc(2026, 3, 8, 7, 0)),
    (NEW_YORK, time(2, 0), utc(2026, 3, 7, 12), utc(2026, 3, 8, 7, 0)),
    (NEW_YORK, time(3, 0), utc(2026, 3, 7, 12), utc(2026, 3, 8, 7, 0)),
    # New York fall back, 1 November 2026: 01:00-02:00 happens twice
    (NEW_YORK, time(1, 30), utc(2026, 10, 31, 12), utc(2026, 11, 1, 5, 30)),
    (NEW_YORK, time(1, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)),
])
def test_next_due_across_dst(tz: ZoneInfo, at: time, after: datetime, expected: datetime) -> None:
    assert Schedule(at, tz).next_due(after) == expected


@pytest.mark.parametrize(("tz", "at", "start"), [
    (BERLIN, time(2, 30), utc(2026, 3, 20)), (BERLIN, time(2, 30), utc(2026, 10, 20)),
    (NEW_YORK, time(1, 30), utc(2026, 10, 28)), (NEW_YORK, time(2, 15), utc(2026, 3, 3)),
])
def test_two_weeks_around_a_dst_change_give_one_reminder_a_day(tz: ZoneInfo, at: time, start: datetime) -> None:
    schedule, instant, days = Schedule(at, tz), start, []
    for _ in range(14):
        instant = schedule.next_due(instant)
        days.append(due_date(instant, tz))
    assert days == [days[0] + timedelta(days=i) for i in range(14)]


@pytest.mark.parametrize(("days", "after", "expected"), [
    (WEEKDAYS, utc(2026, 1, 2, 10), utc(2026, 1, 5, 9)),  # Fri after 09:00 -> Mon
    (WEEKENDS, utc(2026, 1, 5, 10), utc(2026, 1, 10, 9)),  # Mon -> Sat
    (frozenset({2}), utc(2026, 1, 7, 9), utc(2026, 1, 14, 9)),  # exactly at Wed 09:00 -> next Wed (strictly after)
])
def test_next_due_on_chosen_days(days: frozenset[int], after: datetime, expected: datetime) -> None:
    assert Schedule(time(9), UTCZ, days).next_due(after) == expected


def test_latest_due() -> None:
    schedule = Schedule(time(9), UTCZ, WEEKDAYS)
    assert schedule.latest_due(utc(2026, 1, 5, 9)) == utc(2026, 1, 5, 9)  # at the instant itself
    assert schedule.latest_due(utc(2026, 1, 4, 12)) == utc(2026, 1, 2, 9)  # Sunday -> Friday


def test_first_due_skips_a_day_that_already_had_its_reminder() -> None:
    schedule = Schedule(time(18), UTCZ)
    now = utc(2026, 1, 5, 10)
    assert first_due(schedule, now) == utc(2026, 1, 5, 18)
    assert first_due(schedule, now, frozenset({date(2026, 1, 5)})) == utc(2026, 1, 6, 18)


def test_due_date_is_the_members_local_date() -> None:
    assert due_date(utc(2026, 1, 5, 23, 30), BERLIN) == date(2026, 1, 6)
    assert due_date(utc(2026, 1, 6, 3), NEW_YORK) == date(2026, 1, 5)


# ---------------------------------------------------------------- what a tick does

NINE = Schedule(time(9), UTCZ)


def reminder(regular: datetime, snooze: datetime | None = None, snooze_for: date | None = None,
             schedule: Schedule = NINE) -> Reminder:
    return Reminder(1, 2, schedule, regular_due=regular, snooze_until=snooze, snooze_for=snooze_for)


@pytest.mark.parametrize(("now", "kind", "for_date", "missed", "next_regular"), [
    (utc(2026, 1, 5, 9), DeliveryKind.DAILY, date(2026, 1, 5), None, utc(2026, 1, 6, 9)),  # on time
    (utc(2026, 1, 5, 9, 4), DeliveryKind.DAILY, date(2026, 1, 5), None, utc(2026, 1, 6, 9)),  # a few ticks later
    (utc(2026, 1, 5, 11), DeliveryKind.LATE, date(2026, 1, 5), None, utc(2026, 1, 6, 9)),  # 2 h of downtime
    (utc(2026, 1, 5, 15), DeliveryKind.LATE, date(2026, 1, 5), None, utc(2026, 1, 6, 9)),  # exactly 6 h: still sent
    (utc(2026, 1, 5, 15, 1), None, None, date(2026, 1, 5), utc(2026, 1, 6, 9)),  # older: skipped
    (utc(2026, 1, 8, 12), DeliveryKind.LATE, date(2026, 1, 8), None, utc(2026, 1, 9, 9)),  # 3 days down: today's only
    (utc(2026, 1, 8, 16), None, None, date(2026, 1, 8), utc(2026, 1, 9, 9)),  # 3 days down, even today's too old
    (utc(2026, 1, 6, 1), None, None, date(2026, 1, 5), utc(2026, 1, 6, 9)),  # never a burst of old days
])
def test_plan_delivery_downtime_rule(now: datetime, kind: DeliveryKind | None, for_date: date | None,
                                     missed: date | None, next_regular: datetime) -> None:
    delivery = plan_delivery(reminder(utc(2026, 1, 5, 9)), now)
    assert (delivery.kind, delivery.for_date, delivery.missed, delivery.regular_due) == (
        kind, for_date, missed, next_regular)
    assert delivery.next_due > now


def test_plan_delivery_sends_nothing_for_a_day_that_already_had_its_reminder() -> None:
    evening = reminder(utc(2026, 1, 5, 18), schedule=Schedule(time(18), UTCZ))
    delivery = plan_delivery(evening, utc(2026, 1, 5, 18), frozenset({date(2026, 1, 5)}))
    assert not delivery.sends
    assert delivery.missed is None
    assert delivery.regular_due == utc(2026, 1, 6, 18)


def test_plan_delivery_snooze() -> None:
    snoozed = reminder(utc(2026, 1, 6, 9), utc(2026, 1, 5, 10), date(2026, 1, 5))
    delivery = plan_delivery(snoozed, utc(2026, 1, 5, 10))
    assert (delivery.kind, delivery.for_date) == (DeliveryKind.SNOOZED, date(2026, 1, 5))
    assert delivery.snooze_until is None
    assert delivery.regular_due == utc(2026, 1, 6, 9)
    assert delivery.next_due == utc(2026, 1, 6, 9)


def test_plan_delivery_snooze_and_daily_together_send_one() -> None:
    both = reminder(utc(2026, 1, 6, 9), utc(2026, 1, 6, 9), date(2026, 1, 5))
    delivery = plan_delivery(both, utc(2026, 1, 6, 9))
    assert (delivery.kind, delivery.for_date, delivery.snooze_until) == (DeliveryKind.DAILY, date(2026, 1, 6), None)


def test_plan_delivery_drops_a_stale_snooze() -> None:
    delivery = plan_delivery(reminder(utc(2026, 1, 6, 9), utc(2026, 1, 5, 10), date(2026, 1, 5)), utc(2026, 1, 5, 17))
    assert not delivery.sends
    assert delivery.snooze_until is None


def test_plan_delivery_keeps_a_snooze_not_yet_due() -> None:
    pending = reminder(utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 30), date(2026, 1, 4))
    delivery = plan_delivery(pending, utc(2026, 1, 5, 9))
    assert delivery.snooze_until == utc(2026, 1, 5, 9, 30)
    assert delivery.next_due == utc(2026, 1, 5, 9, 30)


def test_plan_delivery_fall_back_fires_once() -> None:
    schedule = Schedule(time(1, 30), NEW_YORK)
    first = utc(2026, 11, 1, 5, 30)
    delivery = plan_delivery(reminder(first, schedule=schedule), first)
    assert delivery.kind is DeliveryKind.DAILY
    assert delivery.regular_due == utc(2026, 11, 2, 6, 30)  # not the second 01:30 at 06:30Z


def test_reminder_without_due_cannot_be_planned() -> None:
    with pytest.raises(ValueError, match="active"):
        plan_delivery(Reminder(1, 2, NINE), utc(2026, 1, 5))


# ---------------------------------------------------------------- pacing

def test_send_window_allows_a_small_batch_at_once_and_spreads_a_big_one() -> None:
    window = SendWindow(rate=40)
    assert all(window.take(0.0) == 0 for _ in range(40))
    assert window.take(0.0) == pytest.approx(1.0)
    assert window.take(0.5) == pytest.approx(0.5)
    assert window.take(1.0) == 0  # the first send left the window


@pytest.mark.parametrize("senders", [1, 4, 16])
def test_send_window_never_exceeds_the_rate_in_any_second(senders: int) -> None:
    window, clock, sent = SendWindow(rate=40), 0.0, []
    for _ in range(500):
        while (wait := window.take(clock)) > 0:
            clock += wait
        sent.append(clock)
        clock += 0.001 / senders
    for index, start in enumerate(sent):
        inside = [t for t in sent[index:] if t < start + 1.0]
        assert len(inside) <= 40
    assert sent[-1] == pytest.approx(12.0, abs=0.6)  # 500 sends at 40/s take about 12 s, not more


def test_send_window_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        SendWindow(rate=0)

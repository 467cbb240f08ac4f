"""The shared side of the plan: rankings, scheduled-post slots, cohort pacing, study buddies. Pure Python, no Discord.

Everything takes `now` / `today` and data as arguments; storage lives in db/community.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.errors import UserError
from bot.domain.progress import Status
from bot.domain.timeutil import ALL_DAYS, DAY_NAMES, Period, next_occurrence, parse_hhmm, period_key

PERIODS: tuple[Period, ...] = ("all", "week", "month")
PAGE_SIZE = 10
LATE_LIMIT = timedelta(hours=6)  # a slot missed by more than this is skipped, not posted late
ScheduleKind = Literal["off", "daily", "weekly"]


# ---------------------------------------------------------------------------------------------- rankings


@dataclass(frozen=True, slots=True)
class Ranked:
    """One row of a leaderboard: 1-based rank, member, steps done in the period, when that count was reached."""

    rank: int
    user_id: int
    done: int
    reached_at: datetime


@dataclass(frozen=True, slots=True)
class OwnStanding:
    """Where the caller stands: `rank` is None when they are hidden or have nothing in the period."""

    rank: int | None
    done: int
    hidden: bool
    total: int  # ranked members in the period


def rank_key(done: int, reached_at: datetime, user_id: int) -> tuple[int, datetime, int]:
    """Sort key of the ranking: more steps first; a tie goes to whoever reached the count first, then lower id."""
    return (-done, reached_at, user_id)


def rank_rows(rows: list[tuple[int, int, datetime]], start_rank: int = 1) -> list[Ranked]:
    """(user_id, done, reached_at) rows -> Ranked, in ranking order (the reference the SQL must agree with)."""
    ordered = sorted(rows, key=lambda r: rank_key(r[1], r[2], r[0]))
    return [Ranked(start_rank + i, user, done, reached) for i, (user, done, reached) in enumerate(ordered)]


def period_storage_key(now: datetime, tz: ZoneInfo, period: Period) -> str | None:
    """The period_counts key of the current local week or month; None for all time."""
    return None if period == "all" else period_key(now, tz, period)


def previous_week_key(now: datetime, tz: ZoneInfo) -> str:
    return period_key(now - timedelta(days=7), tz, "week")


def parse_period(text: str) -> Period:
    folded = (text or "all").strip().casefold()
    for period in PERIODS:
        if folded == period:
            return period
    raise UserError(f"`{text}` is not a leaderboard period. Use `all`, `week` or `month`.")


# ---------------------------------------------------------------------------------------------- schedules


@dataclass(frozen=True, slots=True)
class PostSchedule:
    kind: ScheduleKind
    at: time | None = None
    weekday: int | None = None  # 0 = Monday; weekly only

    def weekdays(self) -> frozenset[int]:
        return frozenset({self.weekday}) if self.kind == "weekly" and self.weekday is not None else ALL_DAYS

    def describe(self) -> str:
        if self.kind == "off" or self.at is None:
            return "off"
        clock = self.at.strftime("%H:%M")
        if self.kind == "weekly" and self.weekday is not None:
            return f"weekly on {DAY_NAMES[self.weekday].capitalize()} at {clock}"
        return f"daily at {clock}"


def parse_schedule(kind: str, at: str | None, weekday: str | None) -> PostSchedule:
    """Validate `/config leaderboard` options; UserError saying what is wrong and what would work."""
    folded = (kind or "").strip().casefold()
    if folded not in ("off", "daily", "weekly"):
        raise UserError(f"`{kind}` is not a schedule. Use `daily`, `weekly` or `off`.")
    if folded == "off":
        return PostSchedule("off")
    if not at:
        raise UserError(f"A {folded} post needs a time of day: add `time:`, for example `time:18:00` "
                        "(24-hour, in the server's time zone).")
    try:
        clock = parse_hhmm(at)
    except ValueError as error:
        raise UserError(str(error)) from None
    day: int | None = None
    if weekday:
        name = weekday.strip().casefold()[:3]
        if name not in DAY_NAMES:
            raise UserError(f"`{weekday}` is not a weekday. Use one of {', '.join(DAY_NAMES)}.")
        day = DAY_NAMES.index(name)
    if folded == "weekly" and day is None:
        raise UserError("A weekly post needs a day: add `weekday:`, for example `weekday:mon`.")
    if folded == "daily" and day is not None:
        raise UserError("`weekday` only applies to weekly posts: leave it out for a daily post, "
                        "or use `schedule:weekly`.")
    return PostSchedule("weekly" if folded == "weekly" else "daily", clock, day)


def next_slot(schedule: PostSchedule, after: datetime, tz: ZoneInfo) -> datetime | None:
    """The first slot strictly after `after` (aware UTC), or None when posting is off."""
    if schedule.kind == "off" or schedule.at is None:
        return None
    return next_occurrence(after, schedule.at, tz, schedule.weekdays())


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """What to do with the slots that fell due: post one (maybe late), how many were skipped, and what comes next."""

    post: datetime | None  # the slot to post now, None when every due slot is too old
    late: bool
    skipped: int  # due slots dropped (older than LATE_LIMIT, or superseded by a newer due slot)
    next: datetime  # the first slot after `now`: what the database should wait for


def due_slots(pending: datetime, now: datetime, schedule: PostSchedule, tz: ZoneInfo) -> SlotDecision | None:
    """Given the stored next slot `pending`, decide what happens at `now`; None when it is not due yet.

    Only the newest slot at or before `now` can be posted, and only if it is at most LATE_LIMIT old:
    after a long downtime the channel gets one post, not a burst of stale ones.
    """
    if pending > now:
        return None
    newest = pending
    skipped = 0
    while True:
        following = next_slot(schedule, newest, tz)
        if following is None:  # pragma: no cover - callers only pass active schedules
            raise ValueError("schedule is off")
        if following > now:
            break
        newest = following
        skipped += 1
    following_slot = following
    if now - newest > LATE_LIMIT:
        return SlotDecision(None, False, skipped + 1, following_slot)
    return SlotDecision(newest, now - newest > timedelta(minutes=1), skipped, following_slot)


# ---------------------------------------------------------------------------------------------- cohort


COHORT_EARLIEST = date(2000, 1, 1)  # the first start day /config cohort accepts
COHORT_START_AHEAD = timedelta(days=366)  # how far ahead of today a cohort may start
COHORT_LONGEST = timedelta(days=3653)  # a cohort must be able to finish the plan within 10 years
PACE_MIN, PACE_MAX = 0.1, 1000.0  # the range of the typed `pace` option (the plan's size bounds it further)


@dataclass(frozen=True, slots=True)
class Cohort:
    start: date
    pace: float  # steps per week

    def expected(self, today: date, total: int) -> int:
        """Steps a member on pace has done when `today` begins: 0 up to the start day, never above `total`.

        Total for any pace (a stored one may be tiny or huge): never raises.
        """
        if today <= self.start:
            return 0
        value = (today - self.start).days * self.pace / 7
        if not math.isfinite(value) or value >= total:
            return total
        return max(0, math.floor(value + 1e-9))

    def end(self, total: int) -> date | None:
        """The first day on which the whole plan is expected done; None when no calendar date is (a pace an old
        database may hold, too slow to finish before year 9999, or not a positive number)."""
        if not (math.isfinite(self.pace) and self.pace > 0):
            return None
        days = total * 7 / self.pace - 1e-9
        if not math.isfinite(days):
            return None
        try:
            return self.start + timedelta(days=math.ceil(days))
        except OverflowError:
            return None


class Pace(StrEnum):
    NOT_STARTED = "not_started"
    AHEAD = "ahead"
    ON_PACE = "on_pace"
    BEHIND = "behind"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class CohortStatus:
    pace: Pace
    expected: int
    done: int
    by: int  # how many steps ahead (AHEAD) or behind (BEHIND); 0 otherwise
    starts: date
    ends: date | None  # None: not within the calendar (see Cohort.end)


def parse_cohort(start: str, pace: float, total: int, today: date) -> Cohort:
    """Validate `/config cohort` (`today` in the server's zone); UserError naming what is wrong and what would work.

    The start lies between COHORT_EARLIEST and a year after `today`, and at `pace` the plan is done within 10
    years, so every date the cohort implies is a real calendar date.
    """
    try:
        day = date.fromisoformat((start or "").strip())
    except ValueError:
        raise UserError(f"`{start}` is not a date. Use YYYY-MM-DD, for example `2026-02-02`.") from None
    latest = today + COHORT_START_AHEAD
    if not COHORT_EARLIEST <= day <= latest:
        raise UserError(f"A cohort can start from {COHORT_EARLIEST.isoformat()} to a year from today "
                        f"({latest.isoformat()}), not on {day.isoformat()}.")
    if not math.isfinite(pace) or pace <= 0:
        raise UserError(f"A pace of {pace:g} steps a week would never finish. Use a number above 0, "
                        "for example `pace:5`.")
    slowest = math.ceil(total * 7 / COHORT_LONGEST.days * 100) / 100  # steps a week to finish within 10 years
    if pace > total:
        raise UserError(f"A pace of {pace:g} steps a week is more than the whole plan ({total} steps). "
                        f"Use a number from {slowest:g} to {total}.")
    if pace < slowest:
        years = total / pace * 7 / 365.25
        raise UserError(f"At {pace:g} steps a week the {total} steps would take {years:.0f} years; a cohort must "
                        f"finish within 10 years. Use a pace of at least {slowest:g}, for example `pace:5`.")
    return Cohort(day, pace)


def cohort_status(cohort: Cohort, done: int, today: date, total: int) -> CohortStatus:
    """Whether a member with `done` steps is on pace with the cohort on `today` (in the server's time zone)."""
    expected = cohort.expected(today, total)
    ends = cohort.end(total)
    if done >= total:
        return CohortStatus(Pace.FINISHED, expected, done, 0, cohort.start, ends)
    if today < cohort.start:
        return CohortStatus(Pace.NOT_STARTED, 0, done, 0, cohort.start, ends)
    if done > expected:
        return CohortStatus(Pace.AHEAD, expected, done, done - expected, cohort.start, ends)
    if done < expected:
        return CohortStatus(Pace.BEHIND, expected, done, expected - done, cohort.start, ends)
    return CohortStatus(Pace.ON_PACE, expected, done, 0, cohort.start, ends)


def describe_cohort(status: CohortStatus) -> str:
    """One line for /progress, such as '🐢 Behind the cohort by 3 steps (9 done, 12 expected so far).'"""
    counts = f"({status.done} done, {status.expected} expected so far)"
    steps = f"{status.by} step{'s' if status.by != 1 else ''}"
    if status.pace is Pace.FINISHED:
        return "🏁 Finished the plan: nothing left to pace."
    if status.pace is Pace.NOT_STARTED:
        return f"The cohort starts on {status.starts.isoformat()}: anything you do before then puts you ahead."
    if status.pace is Pace.AHEAD:
        return f"🚀 Ahead of the cohort by {steps} {counts}."
    if status.pace is Pace.BEHIND:
        return f"🐢 Behind the cohort by {steps} {counts}."
    return f"✅ On pace with the cohort {counts}."


def on_pace_count(done_counts: Mapping[int, int], expected: int) -> int:
    """How many members (user -> done) have at least `expected` steps: on pace or ahead."""
    return sum(1 for done in done_counts.values() if done >= expected)


# ---------------------------------------------------------------------------------------------- buddies


def summary_step(statuses: Mapping[int, Status]) -> int:
    """The step stored in members.current_step: the lowest in progress, else the first not done nor skipped.

    Plans number their steps 1..N, so this equals bot.progress.current_step while the member has steps left,
    and is N + 1 (beyond the plan) once every step is done or skipped.
    """
    in_progress = [n for n, s in statuses.items() if s is Status.IN_PROGRESS and n >= 1]
    if in_progress:
        return min(in_progress)
    closed = {n for n, s in statuses.items() if s is not Status.IN_PROGRESS}
    step = 1
    while step in closed:
        step += 1
    return step


@dataclass(frozen=True, slots=True)
class Buddy:
    user_id: int
    working: bool  # the step is marked in progress (else it is simply their next step)

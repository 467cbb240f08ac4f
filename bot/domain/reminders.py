"""Daily reminder rules: days, due instants, downtime, snoozes, pacing. Pure Python, no Discord.

A member's reminder is a local wall-clock time in an IANA zone on some weekdays.
Its next due instant is stored in UTC; each tick asks `plan_delivery` what to do
with a reminder that fell due. Times are always passed in (`now`), never read.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.domain.timeutil import ALL_DAYS, DAY_NAMES, WEEKDAYS, local_date, local_wall_to_utc, next_occurrence

WEEKENDS: frozenset[int] = frozenset({5, 6})
LATE_LIMIT = timedelta(hours=6)  # a reminder missed by more than this (downtime) is skipped, not sent late
SNOOZE = timedelta(hours=1)
SEND_RATE = 40  # messages per second at most (Discord allows 50 requests/s per bot)
SENDERS = 4  # concurrent senders: each waits ~100 ms for Discord, so one alone could not reach the rate

DAY_PRESETS: dict[str, frozenset[int]] = {
    "daily": ALL_DAYS, "every day": ALL_DAYS, "everyday": ALL_DAYS, "all": ALL_DAYS,
    "weekdays": WEEKDAYS, "weekday": WEEKDAYS, "workdays": WEEKDAYS,
    "weekends": WEEKENDS, "weekend": WEEKENDS,
}
_LONG_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_TOKENS: dict[str, int] = {}
for _index, (_short, _long) in enumerate(zip(DAY_NAMES, _LONG_NAMES, strict=True)):
    for _token in {_short, _long, _long[:2], _long[:4]}:  # mon, monday, mo, mond / tue, tuesday, tu, tues
        _DAY_TOKENS[_token] = _index
_DAY_TOKENS.update({"weds": 2, "thurs": 3})
DAYS_EXAMPLE = "Use `daily`, `weekdays`, `weekends`, or days such as `mon,wed,fri`."
T = TypeVar("T")
_SEPARATORS = re.compile(r"[\s,;/+&]+|\band\b")


class PauseReason(StrEnum):
    DMS_CLOSED = "dms_closed"  # Discord answered 403 / 50007: the member does not accept DMs from the bot
    LEFT_SERVER = "left_server"  # the member is no longer in the server (404 Unknown Member)
    UNREADABLE = "unreadable"  # the member's stored data cannot be turned into a DM (e.g. a done date in year 1)


class DeliveryKind(StrEnum):
    DAILY = "daily"  # the day's reminder, on time
    LATE = "late"  # the day's reminder, sent late after downtime (within LATE_LIMIT)
    SNOOZED = "snoozed"  # a reminder again, an hour after the member pressed Snooze


# ---------------------------------------------------------------------------- days


def parse_days(text: str | None) -> frozenset[int]:
    """'daily' (default), 'weekdays', 'weekends' or a list like 'mon,wed,fri' / 'Tue Thu' -> weekday numbers.

    ValueError with a message a member can act on.
    """
    cleaned = (text or "").strip().casefold()
    if not cleaned:
        return ALL_DAYS
    if cleaned in DAY_PRESETS:
        return DAY_PRESETS[cleaned]
    days: set[int] = set()
    unknown: list[str] = []
    for token in filter(None, _SEPARATORS.split(cleaned)):
        if token in DAY_PRESETS:
            days |= DAY_PRESETS[token]
        elif token.rstrip(".") in _DAY_TOKENS:
            days.add(_DAY_TOKENS[token.rstrip(".")])
        elif "-" in token and all(part in _DAY_TOKENS for part in token.split("-", 1)):
            first, last = (_DAY_TOKENS[part] for part in token.split("-", 1))
            days |= {d % 7 for d in range(first, last + 1 if last >= first else last + 8)}
        else:
            unknown.append(token)
    if unknown:
        shown = ", ".join(f"`{t[:20]}`" for t in unknown[:3])
        raise ValueError(f"{shown} {'is not a day' if len(unknown) == 1 else 'are not days'}. {DAYS_EXAMPLE}")
    if not days:
        raise ValueError(f"`{text}` names no day. {DAYS_EXAMPLE}")
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """every day / weekdays / weekends / Mon, Wed, Fri."""
    if days == ALL_DAYS:
        return "every day"
    if days == WEEKDAYS:
        return "weekdays"
    if days == WEEKENDS:
        return "weekends"
    return ", ".join(DAY_NAMES[d].capitalize() for d in sorted(days))


def days_to_mask(days: frozenset[int]) -> int:
    return sum(1 << d for d in days)


def mask_to_days(mask: int) -> frozenset[int]:
    return frozenset(d for d in range(7) if mask & (1 << d))


def suggest_days(current: str) -> list[str]:
    """Autocomplete for the days option: presets first, then what the member typed if it parses."""
    presets = ["daily", "weekdays", "weekends", "mon,wed,fri", "tue,thu", "mon-fri", "sat,sun"]
    typed = current.strip()
    shown = [p for p in presets if p.startswith(typed.casefold())] if typed else presets
    if typed and typed.casefold() not in shown:
        try:
            parse_days(typed)
        except ValueError:
            pass
        else:
            shown.insert(0, typed)
    return shown[:25]


def suggest_times(current: str) -> list[str]:
    """Autocomplete for HH:MM: '9' -> 09:00, 09:15, ...; '18:3' -> 18:30...; empty -> common times."""
    typed = current.strip()
    if not typed:
        return ["07:00", "08:00", "09:00", "12:00", "17:00", "18:00", "19:00", "20:00", "21:00"]
    match = re.fullmatch(r"(\d{1,2})(?::(\d{0,2}))?", typed)
    if not match or int(match[1]) > 23:
        return []
    hour = int(match[1])
    minutes = match[2] or ""
    options = [f"{hour:02d}:{m:02d}" for m in range(0, 60, 5) if f"{m:02d}".startswith(minutes)]
    if minutes and len(minutes) == 2 and int(minutes) < 60:
        exact = f"{hour:02d}:{minutes}"
        options = [exact, *[o for o in options if o != exact]]
    return options[:25]


# ---------------------------------------------------------------------------- schedule


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a member wants reminding: `at` local time in `tz` on `days` (0 = Monday)."""

    at: time
    tz: ZoneInfo
    days: frozenset[int] = ALL_DAYS

    def next_due(self, after: datetime) -> datetime:
        """The first due instant strictly after `after` (UTC; DST gaps and folds as in bot.timeutil)."""
        return next_occurrence(after, self.at, self.tz, self.days)

    def latest_due(self, at_or_before: datetime) -> datetime | None:
        """The most recent due instant at or before the given instant (None if none in the last 8 days)."""
        today = local_date(at_or_before, self.tz)
        for back in range(9):
            day = today - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            instant = local_wall_to_utc(day, self.at, self.tz)
            if instant <= at_or_before:
                return instant
        return None

    def describe(self) -> str:
        return f"{self.at:%H:%M} ({self.tz.key}), {format_days(self.days)}"


def due_date(instant: datetime, tz: ZoneInfo) -> date:
    """The member's local date a due instant belongs to: the key of the once-a-day sent-record."""
    return local_date(instant, tz)


def first_due(schedule: Schedule, now: datetime, sent_dates: frozenset[date] = frozenset()) -> datetime:
    """The next due instant after `now`, skipping local days that already had their reminder.

    Used when a member sets or changes a reminder: one DM a day, even if they move the time later.
    """
    instant = schedule.next_due(now)
    while due_date(instant, schedule.tz) in sent_dates:
        instant = schedule.next_due(instant)
    return instant


# ---------------------------------------------------------------------------- stored reminders


@dataclass(frozen=True, slots=True)
class Reminder:
    """One member's reminder in one server, as stored."""

    guild_id: int
    user_id: int
    schedule: Schedule
    enabled: bool = True  # False after /remind off or the Stop button (settings kept)
    paused: PauseReason | None = None  # paused by the bot (e.g. DMs closed), settings kept
    paused_at: datetime | None = None
    regular_due: datetime | None = None  # the next daily reminder (None while off or paused)
    snooze_until: datetime | None = None  # a pending snooze
    snooze_for: date | None = None  # the local day the snoozed reminder is for
    dm_channel_id: int | None = None

    @property
    def active(self) -> bool:
        return self.enabled and self.paused is None and self.regular_due is not None

    @property
    def next_due(self) -> datetime | None:
        """When the next DM goes out: the daily reminder or a pending snooze, whichever is first."""
        if not self.active or self.regular_due is None:
            return None
        if self.snooze_until is not None:
            return min(self.regular_due, self.snooze_until)
        return self.regular_due


@dataclass(frozen=True, slots=True)
class Delivery:
    """The decision for one due reminder: send (which kind, for which local day) or not, and what comes next.

    `regular_due` and `snooze_until`/`snooze_for` are the values to store after the tick (on success, or at
    once when nothing is sent). `missed` names a local day whose reminder was skipped as too late.
    """

    kind: DeliveryKind | None  # None: send nothing
    for_date: date | None  # the local day the DM is for (the sent-record's key)
    regular_due: datetime
    snooze_until: datetime | None
    snooze_for: date | None
    missed: date | None = None

    @property
    def sends(self) -> bool:
        return self.kind is not None

    @property
    def next_due(self) -> datetime:
        return min(self.regular_due, self.snooze_until) if self.snooze_until else self.regular_due


ON_TIME = timedelta(minutes=5)


def plan_delivery(reminder: Reminder, now: datetime, sent_dates: frozenset[date] = frozenset(), *,
                  online_since: datetime | None = None) -> Delivery:
    """Decide what to do at `now` with a reminder whose next due instant has come.

    - The day's reminder goes out at its due instant. Missed by up to LATE_LIMIT (the bot was down, or
      Discord failed), it is sent once; older ones are skipped, never sent in a burst. It says "late" only
      when it fell due before `online_since` (the bot was really offline then) and is over ON_TIME old; a
      long fan-out or a retried failure while the bot was online is not "late". Without `online_since`,
      age alone decides.
    - A local day gets at most one daily reminder (`sent_dates`: days that already had theirs).
    - A snooze fires once; when the day's reminder falls due at the same time, only that one is sent.
    """
    schedule = reminder.schedule
    regular = reminder.regular_due
    if regular is None:
        raise ValueError("plan_delivery needs an active reminder")
    kind: DeliveryKind | None = None
    for_date: date | None = None
    missed: date | None = None
    if regular <= now:
        following = schedule.next_due(regular)
        if following > now:  # the usual tick: nothing else fell due since `regular`
            latest = regular
        else:  # downtime: find the latest instant that fell due
            latest = max(schedule.latest_due(now) or regular, regular)
            following = schedule.next_due(now)
        day = due_date(latest, schedule.tz)
        if day in sent_dates:
            pass  # that day already had its reminder (the member moved the time later, say)
        elif now - latest <= LATE_LIMIT:
            offline = online_since is None or latest < online_since
            kind = DeliveryKind.LATE if offline and now - latest >= ON_TIME else DeliveryKind.DAILY
            for_date = day
        else:
            missed = day
        # `following` is the first due instant after `now`; skip local days that already had their DM.
        skip = sent_dates | {for_date} if for_date else sent_dates
        while due_date(following, schedule.tz) in skip:
            following = schedule.next_due(following)
        regular = following
    snooze_until, snooze_for = reminder.snooze_until, reminder.snooze_for
    if snooze_until is not None and snooze_until <= now:
        if kind is None and now - snooze_until <= LATE_LIMIT:
            kind = DeliveryKind.SNOOZED
            for_date = snooze_for or due_date(snooze_until, schedule.tz)
        snooze_until = snooze_for = None
    return Delivery(kind, for_date, regular, snooze_until, snooze_for, missed)


# ---------------------------------------------------------------------------- deliveries

DAY_SLOT = "day"  # the day's reminder (daily or late): at most one per member and local date
NONCE_LENGTH = 25  # Discord's limit for a message nonce


def delivery_slot(delivery: Delivery, snooze_until: datetime | None) -> str:
    """Which of a local day's deliveries this is: the day's reminder, or the snooze due at `snooze_until`."""
    if delivery.kind is DeliveryKind.SNOOZED and snooze_until is not None:
        return f"snooze {snooze_until.isoformat(timespec='seconds')}"
    return DAY_SLOT


def delivery_nonce(guild_id: int, user_id: int, for_date: date, slot: str) -> str:
    """The message nonce of one delivery: the same for every attempt, different for every delivery.

    Discord returns the message it already created with this nonce (enforce_nonce) instead of a second one,
    so a send repeated after a crash does not double the DM. 25 characters, Discord's limit.
    """
    key = f"{guild_id}:{user_id}:{for_date.isoformat()}:{slot}".encode()
    return "rm" + hashlib.sha256(key).hexdigest()[: NONCE_LENGTH - 2]


# ---------------------------------------------------------------------------- pacing


def send_rate_for(share: float) -> int:
    """A process's pace for its share of the bot's shards: Discord's limit is per bot token, shared by all of the
    bot's processes, so processes running half the shards each send at half of SEND_RATE (together, SEND_RATE)."""
    return max(1, int(SEND_RATE * min(1.0, max(0.0, share))))


class SendWindow:
    """At most `rate` sends in any `window` seconds: a sliding log of recent send times.

    Pure bookkeeping on monotonic seconds passed in; the sender sleeps for `delay(now)` before each send.
    Small batches go out at once; a large one is spread at `rate` per second.
    """

    def __init__(self, rate: int = SEND_RATE, window: float = 1.0) -> None:
        if rate < 1 or window <= 0:
            raise ValueError("rate must be at least 1 and window positive")
        self.rate = rate
        self.window = window
        self._sent: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send may go out (0 when it may go now)."""
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < self.rate:
            return 0.0
        return self._sent[0] + self.window - now

    def record(self, now: float) -> None:
        self._sent.append(now)

    @property
    def recent(self) -> tuple[float, ...]:
        """Send times still inside (or just leaving) the window, oldest first."""
        return tuple(self._sent)

    def take(self, now: float) -> float:
        """Reserve a slot: 0 and recorded when one is free now, else the seconds to wait (nothing recorded)."""
        wait = self.delay(now)
        if wait <= 0:
            self.record(now)
        return wait


def chunked(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]

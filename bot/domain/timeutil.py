"""Wall-clock arithmetic in IANA time zones. Pure Python, no Discord.

Every function takes the instant it reasons about (`now`, `after`) as an
aware datetime; nothing here reads the system clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

ALL_DAYS: frozenset[int] = frozenset(range(7))  # 0 = Monday, as date.weekday()
WEEKDAYS: frozenset[int] = frozenset(range(5))
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")

Period = Literal["all", "week", "month"]


def parse_hhmm(text: str) -> time:
    """'09:30' -> time(9, 30). ValueError with a message a member can act on."""
    match = HHMM.match(text or "")
    if not match:
        raise ValueError(f"`{text}` is not a time of day. Use 24-hour HH:MM, for example `09:00` or `18:30`.")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"`{text}` is not a valid time: hours go 00–23 and minutes 00–59, for example `21:45`.")
    return time(hour, minute)


def resolve_timezone(name: str) -> ZoneInfo:
    """An IANA zone by name (case-insensitive). ValueError naming an example when unknown."""
    cleaned = (name or "").strip()
    canonical = _zones_by_folded().get(cleaned.casefold())
    if canonical is None:
        raise ValueError(
            f"`{cleaned}` is not a time zone I know. Use an IANA name such as `Europe/Berlin`, "
            "`America/New_York` or `UTC` (start typing and pick one from the list)."
        )
    try:
        return ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - listed zones load
        raise ValueError(f"`{cleaned}` could not be loaded as a time zone.") from error


@cache
def _zones_by_folded() -> dict[str, str]:
    zones = {z for z in available_timezones() if not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))}
    zones |= {"UTC"}
    return {z.casefold(): z for z in sorted(zones)}


def search_timezones(query: str, limit: int = 25) -> list[str]:
    """IANA names matching `query`, best first: city prefix, then name prefix, then substring."""
    folded = (query or "").strip().casefold().replace(" ", "_")
    names = list(_zones_by_folded().values())
    if not folded:
        popular = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
                   "America/Los_Angeles", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"]
        return popular[:limit]
    ranked: list[tuple[int, str]] = []
    for name in names:
        low = name.casefold()
        city = low.rsplit("/", 1)[-1]
        if city.startswith(folded):
            ranked.append((0, name))
        elif low.startswith(folded):
            ranked.append((1, name))
        elif folded in low:
            ranked.append((2, name))
    ranked.sort()
    return [name for _, name in ranked[:limit]]


def local_wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in `tz` reads `at` on `day`.

    A time that does not exist that day (spring forward) maps to the first
    valid instant after it; a time that happens twice (fall back) maps to its
    first occurrence.
    """
    offset = _steady_offset(tz, day)
    if offset is not None:  # the usual day: no DST switch, so plain arithmetic
        return datetime.combine(day, at, UTC) - offset
    return wall_to_utc_exact(day, at, tz)


def wall_to_utc_exact(day: date, at: time, tz: ZoneInfo) -> datetime:
    """local_wall_to_utc without the steady-day shortcut: asks the zone for this very wall time."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    # A time in a gap does not round-trip: it comes back shifted.
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        # Walk forward minute by minute from the gap start to the first valid local time.
        probe = naive
        while True:
            probe += timedelta(minutes=1)
            candidate = probe.replace(tzinfo=tz, fold=0).astimezone(UTC)
            if candidate.astimezone(tz).replace(tzinfo=None) == probe:
                return candidate
    return utc


@lru_cache(maxsize=8192)
def _steady_offset(tz: ZoneInfo, day: date) -> timedelta | None:
    """The zone's UTC offset all through local `day`, or None when it changes that day (a DST switch).

    Probes every hour from 00:00 to 24:00 with both folds: a switch anywhere in the day (a gap or a
    repeated hour, even one starting at 23:30) shows as a second offset. Zones change their offset at most
    a few times a year, never twice within an hour. Cached: a tick asks for a few zones and days only.
    """
    start = datetime.combine(day, time(0))
    offsets = {(start + timedelta(hours=h)).replace(tzinfo=tz, fold=fold).utcoffset()
               for h in range(25) for fold in (0, 1)}
    if len(offsets) != 1:
        return None
    return offsets.pop()


def next_occurrence(after: datetime, at: time, tz: ZoneInfo, weekdays: frozenset[int] = ALL_DAYS) -> datetime:
    """The first instant strictly after `after` when the local time in `tz` is `at` on one of `weekdays`.

    Returns an aware UTC datetime. See local_wall_to_utc for DST gaps and folds.
    """
    if not weekdays:
        raise ValueError("weekdays must not be empty")
    _require_aware(after)
    start = after.astimezone(tz).date() - timedelta(days=1)
    for offset in range(9):
        day = start + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        instant = local_wall_to_utc(day, at, tz)
        if instant > after:
            return instant
    raise AssertionError("unreachable: a week always has a chosen weekday")  # pragma: no cover


def monday_of(day: date) -> date:
    """The Monday of the ISO week `day` is in."""
    return day - timedelta(days=day.weekday())


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The day on the wall calendar of `tz` at `instant`.

    An instant within a day of the ends of the calendar (a year-1 or year-9999 done date an old database may
    hold) can have no local date in `tz`: its UTC date stands in, so reading such a row never raises.
    """
    _require_aware(instant)
    try:
        return instant.astimezone(tz).date()
    except OverflowError:
        return instant.astimezone(UTC).date()


def period_start(now: datetime, tz: ZoneInfo, period: Period) -> datetime | None:
    """UTC instant when the current local week (from Monday 00:00) or month began; None for 'all'."""
    _require_aware(now)
    if period == "all":
        return None
    today = now.astimezone(tz).date()
    first = today - timedelta(days=today.weekday()) if period == "week" else today.replace(day=1)
    return local_wall_to_utc(first, time(0, 0), tz)


def period_key(instant: datetime, tz: ZoneInfo, period: Period) -> str:
    """A stable label for the local week ('2026-W05', ISO) or month ('2026-02') containing `instant`."""
    return day_period_key(local_date(instant, tz), period)


def day_period_key(day: date, period: Period) -> str:
    """`period_key` of a local calendar day."""
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return "all"


def local_day_starts(utc_days: Iterable[date], tz: ZoneInfo) -> dict[datetime, date]:
    """For UTC calendar days: every local day of `tz` that overlaps one, keyed by the UTC instant it begins.

    Sorted by instant, these starts split time into local days: an instant on one of `utc_days` belongs to the
    local day of the latest start at or before it (what `local_date` says). Lets SQL key many rows by comparing
    text instead of converting each one. Days at the ends of the calendar (year 1, year 9999), where `local_date`
    falls back to the UTC date, get UTC days here too.
    """
    starts: dict[datetime, date] = {}
    one_day = timedelta(days=1)
    for utc_day in utc_days:
        if utc_day.year in (MINYEAR, MAXYEAR):
            starts[datetime.combine(utc_day, time(0), UTC)] = utc_day
            continue
        begin = datetime.combine(utc_day, time(0), UTC)
        first, last = local_date(begin, tz), local_date(begin + one_day - timedelta(microseconds=1), tz)
        day = first
        while day <= last:
            starts[local_wall_to_utc(day, time(0), tz)] = day
            day += one_day
    return starts


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("expected an aware datetime")

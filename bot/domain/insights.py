"""What `/insights` tells an organiser about one track, and the weekly nudge for a stalled member. Pure Python,
no Discord.

The store hands over summaries it keeps up to date (members per current step, a histogram of days per step,
distinct active members per week, and a capped list of stalled members), so `compute_insights` costs
O(steps + weeks + histogram bins), never a pass over members except the short stalled list.

Definitions, as the organiser reads them:

- A member's *current step* is the first step they have neither done nor skipped; `finished` members have none.
- A member *reached* step k when their current step is after k, or they finished: they did k or got past it.
  `reached(k) = sum(on_step[j] for j > k) + finished`, so `reached(N) = finished`.
- The members who *stop* at step k are those on it now: `on_step[k] = reached(k - 1) - reached(k)`, with
  `reached(0)` = every member on the track. `biggest_drops` are the steps where most members are now.
- A step's *duration* is the whole days from the previous step done (or from starting) to this step done.
  The median is the lower median of the expanded values (for an even count, the smaller of the two middle
  values): the value at rank ceil(n / 2). The 90th percentile uses the nearest-rank method: the value at rank
  ceil(0.9 * n). Both are therefore days some member really took.
- Steps timed by fewer than `MIN_TIMED_MEMBERS` members are listed but never ranked among the slowest: one
  member on holiday would otherwise top the list.
- Weeks are ISO weeks (Monday first); the current one is the week of `today`, which the caller gives in the
  server's time zone, and is still in progress.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.domain.plan import Plan, Step
from bot.domain.timeutil import monday_of

NUDGE_EVERY = timedelta(days=7)  # a stalled member is nudged at most once a week
STALLED_AFTER = timedelta(days=14)  # on the same step for longer than this: stalled
MIN_TIMED_MEMBERS = 3  # a step needs this many timed members to be ranked among the slowest
SLOWEST_SHOWN = 5
DROPS_SHOWN = 3
WEEKS_SHOWN = 12
STALLED_SHOWN = 10  # names in the stalled list at most (the count is always the whole number)
NUDGE_MAX = 2000  # Discord's limit for a message
NONCE_LENGTH = 25  # Discord's limit for a message nonce
_TITLE_MAX = 200  # characters of a step or plan title quoted in a nudge


# ---------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Stalled:
    """A member on the same step since `since` (aware)."""

    user_id: int
    step: int
    since: datetime


@dataclass(frozen=True)
class InsightsInput:
    """The store's summaries for one track, with the plan and the moment they describe.

    `on_step`: members (visible and hidden) whose current step is k; `finished`: members with no step left.
    `durations`: step -> {whole days taken: members}. `weekly_active`: (Monday, distinct members who marked
    anything that week), weeks with nobody may be missing. `stalled`: members on one step for longer than
    STALLED_AFTER, capped by the store; `stalled_total` counts them all. `today` is the server's local date.
    """

    plan: Plan
    on_step: Mapping[int, int]
    finished: int
    durations: Mapping[int, Mapping[int, int]]
    weekly_active: Sequence[tuple[date, int]]
    stalled: Sequence[Stalled]
    stalled_total: int
    now: datetime
    today: date

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise ValueError("now must be an aware datetime")


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """`reached`: members who did this step or got past it; `share_of_start`: that as a share of every member
    on the track (0..1); `drop_from_previous`: members who reached the previous step (or started, for the
    first) but not this one, i.e. who are on this step now."""

    step: int
    reached: int
    share_of_start: float
    drop_from_previous: int

    @property
    def drop_share(self) -> float:
        """The share of those who reached the previous step who stopped here (0..1; 0 when nobody came)."""
        came = self.reached + self.drop_from_previous
        return self.drop_from_previous / came if came else 0.0


@dataclass(frozen=True, slots=True)
class StepDuration:
    """Whole days members took for one step (see the module docstring for the rules)."""

    step: int
    members: int
    median_days: int
    p90_days: int


@dataclass(frozen=True, slots=True)
class WeekActive:
    start: date  # the Monday
    active: int  # distinct members who marked anything that week


@dataclass(frozen=True, slots=True)
class StalledMember:
    user_id: int
    step: int
    since: datetime
    days: int  # whole days on the step, up to `now`


@dataclass(frozen=True, slots=True)
class StalledSummary:
    total: int  # every stalled member (the store's count)
    shown: tuple[StalledMember, ...]  # the longest stalled first, at most STALLED_SHOWN

    @property
    def more(self) -> int:
        """Stalled members not in `shown`."""
        return max(0, self.total - len(self.shown))


@dataclass(frozen=True)
class Insights:
    plan: Plan
    members: int  # everyone on the track: on a step or finished
    finished: int
    funnel: tuple[FunnelStep, ...]  # one per plan step, in order
    biggest_drops: tuple[FunnelStep, ...]  # at most DROPS_SHOWN, most members first; never a step nobody is on
    durations: tuple[StepDuration, ...]  # every step with at least one timed member, in plan order
    slowest: tuple[StepDuration, ...]  # at most SLOWEST_SHOWN with MIN_TIMED_MEMBERS or more, slowest first
    thin_steps: int  # timed steps left out of `slowest` for having fewer than MIN_TIMED_MEMBERS members
    weeks: tuple[WeekActive, ...]  # WEEKS_SHOWN, oldest first, the last being the week of `today`
    stalled: StalledSummary
    today: date

    @property
    def this_week(self) -> WeekActive:
        return self.weeks[-1]

    def title_of(self, step: int) -> str:
        found = self.plan.get(step)
        return found.title if found is not None else f"Step {step}"


# ---------------------------------------------------------------------------------------------- rules


def lower_median(histogram: Mapping[int, int]) -> int:
    """The lower median of the values a {value: count} histogram stands for: the value at rank ceil(n / 2)."""
    return _value_at_rank(histogram, (_count(histogram) + 1) // 2)


def p90_nearest_rank(histogram: Mapping[int, int]) -> int:
    """The 90th percentile by nearest rank: the value at rank ceil(0.9 * n) of the expanded values."""
    return _value_at_rank(histogram, (9 * _count(histogram) + 9) // 10)


def _count(histogram: Mapping[int, int]) -> int:
    n = sum(c for v, c in histogram.items() if c > 0 and v >= 0)
    if n == 0:
        raise ValueError("an empty histogram has no percentiles")
    return n


def _value_at_rank(histogram: Mapping[int, int], rank: int) -> int:
    """The `rank`-th smallest (1-based) expanded value; O(distinct values)."""
    seen = 0
    for value in sorted(v for v, c in histogram.items() if c > 0 and v >= 0):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("rank beyond the histogram")  # pragma: no cover - ranks come from _count


def _clean_on_step(plan: Plan, on_step: Mapping[int, int]) -> tuple[list[int], int]:
    """Members per step as a list indexed by step - 1, and members past the last step. A count for a step the
    plan no longer has (it was shortened) counts as past the end; one before the first, as on the first."""
    counts = [0] * plan.total
    past_end = 0
    for step, n in on_step.items():
        if n <= 0:
            continue
        if step > plan.total:
            past_end += n
        else:
            counts[max(step, 1) - 1] += n
    return counts, past_end


def _funnel(counts: Sequence[int], reached_end: int, members: int) -> list[FunnelStep]:
    funnel: list[FunnelStep] = []
    reached = reached_end
    for index in range(len(counts) - 1, -1, -1):  # from the end: reached(k) = reached(k + 1) + on_step[k + 1]
        if index < len(counts) - 1:
            reached += counts[index + 1]
        funnel.append(FunnelStep(index + 1, reached, reached / members if members else 0.0, counts[index]))
    funnel.reverse()
    return funnel


def _durations(plan: Plan, durations: Mapping[int, Mapping[int, int]]) -> list[StepDuration]:
    rows: list[StepDuration] = []
    for step in sorted(durations):
        histogram = durations[step]
        if step not in plan:
            continue
        members = sum(c for v, c in histogram.items() if c > 0 and v >= 0)
        if members:
            rows.append(StepDuration(step, members, lower_median(histogram), p90_nearest_rank(histogram)))
    return rows


def _weeks(weekly_active: Sequence[tuple[date, int]], today: date) -> list[WeekActive]:
    """WEEKS_SHOWN weeks ending with `today`'s; a missing week is 0. A date that is not a Monday stands for its
    week; two entries for one week keep the larger (each is a count of distinct members)."""
    last = monday_of(today)
    first = last - timedelta(weeks=WEEKS_SHOWN - 1)
    active: dict[date, int] = {}
    for day, n in weekly_active:
        monday = monday_of(day)
        if first <= monday <= last:
            active[monday] = max(active.get(monday, 0), n, 0)
    return [WeekActive(first + timedelta(weeks=i), active.get(first + timedelta(weeks=i), 0))
            for i in range(WEEKS_SHOWN)]


def is_stalled(since: datetime, now: datetime) -> bool:
    """On the same step since `since` for longer than STALLED_AFTER."""
    return now - since > STALLED_AFTER


def stalled_cutoff(now: datetime) -> datetime:
    """Members on their step since before this instant are stalled (for the store's query)."""
    return now - STALLED_AFTER


def _stalled(stalled: Sequence[Stalled], total: int, now: datetime) -> StalledSummary:
    longest = sorted(stalled, key=lambda s: (s.since, s.user_id))[:STALLED_SHOWN]
    shown = tuple(StalledMember(s.user_id, s.step, s.since, max(0, (now - s.since).days)) for s in longest)
    return StalledSummary(max(total, len(stalled)), shown)


def compute_insights(inp: InsightsInput) -> Insights:
    """The organiser's view of one track from the store's summaries (see the module docstring)."""
    plan = inp.plan
    counts, past_end = _clean_on_step(plan, inp.on_step)
    finished = max(inp.finished, 0) + past_end
    members = sum(counts) + finished
    funnel = _funnel(counts, finished, members)
    drops = sorted((f for f in funnel if f.drop_from_previous > 0), key=lambda f: (-f.drop_from_previous, f.step))
    durations = _durations(plan, inp.durations)
    ranked = [d for d in durations if d.members >= MIN_TIMED_MEMBERS]
    slowest = sorted(ranked, key=lambda d: (-d.median_days, -d.p90_days, d.step))[:SLOWEST_SHOWN]
    return Insights(
        plan=plan,
        members=members,
        finished=finished,
        funnel=tuple(funnel),
        biggest_drops=tuple(drops[:DROPS_SHOWN]),
        durations=tuple(durations),
        slowest=tuple(slowest),
        thin_steps=len(durations) - len(ranked),
        weeks=tuple(_weeks(inp.weekly_active, inp.today)),
        stalled=_stalled(inp.stalled, inp.stalled_total, inp.now),
        today=inp.today,
    )


# ---------------------------------------------------------------------------------------------- nudges

# The Markdown a title in the middle of a line could start (emphasis, code, spoilers, masked links, <@id> and
# <t:...> tags; a backslash shows the character itself), and the mentions it could hold, escaped as
# discord.utils.escape_mentions does, with a zero-width space.
_MARKDOWN = re.compile(r"([\\*_~`|\[\]<])")
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]{17,20})")


def escape_text(text: str) -> str:
    """Plan text as plain text in a message: no Markdown, no links, no mentions, on one line."""
    flat = " ".join(text.split())
    return _MENTION.sub("@\u200b\\1", _MARKDOWN.sub(r"\\\1", flat))


def _short(text: str, limit: int = _TITLE_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def nudge_text(step: Step, plan_title: str) -> str:
    """The friendly DM for a member stalled on `step`: names the step, encourages, says how to go on."""
    title = escape_text(_short(step.title))
    plan = escape_text(_short(plan_title))
    text = (f"Still on step {step.number}, *{title}*? That is fine: some steps take longer, and coming back "
            f"is what counts. A small piece today keeps *{plan}* moving.\n"
            f"`/plan step number:{step.number}` shows the exercise again, and `/done step:{step.number}` marks it "
            "when you are through. You have got this!")
    return text[:NUDGE_MAX]


def nudge_nonce(guild_id: int, user_id: int, week_start: date) -> str:
    """The message nonce of one member's nudge in one week: the same on every attempt, so a retried send never
    doubles the DM. Any day of the week gives that week's nonce. 25 characters: 'nd' and 23 base-36 digits."""
    key = f"nudge:{guild_id}:{user_id}:{monday_of(week_start).isoformat()}".encode()
    value = int.from_bytes(hashlib.sha256(key).digest(), "big") % 36 ** (NONCE_LENGTH - 2)
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return "nd" + digits.rjust(NONCE_LENGTH - 2, "0")


def should_nudge(last_nudged: datetime | None, now: datetime) -> bool:
    """True when the member was never nudged or not within NUDGE_EVERY. A stamp after `now` (a clock that was
    ahead) counts as just nudged."""
    if now.utcoffset() is None or (last_nudged is not None and last_nudged.utcoffset() is None):
        raise ValueError("should_nudge needs aware datetimes")
    return last_nudged is None or now - last_nudged >= NUDGE_EVERY

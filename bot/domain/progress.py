"""Progress rules: statuses, the current step, phase completion, streaks. Pure Python, no Discord."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

from bot.domain.plan import Phase, Plan, Step
from bot.domain.timeutil import local_date


class Status(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class StepState:
    step: int
    status: Status
    note: str | None
    updated_at: datetime
    done_at: datetime | None = None  # set while status is DONE


@dataclass(frozen=True)
class MemberProgress:
    """Everything stored about one member's way through the plan in one server."""

    guild_id: int
    user_id: int
    states: Mapping[int, StepState]
    visible: bool = True

    @property
    def done(self) -> frozenset[int]:
        return frozenset(n for n, s in self.states.items() if s.status is Status.DONE)

    @property
    def skipped(self) -> frozenset[int]:
        return frozenset(n for n, s in self.states.items() if s.status is Status.SKIPPED)

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.states.values() if s.status is Status.DONE)

    def status_of(self, step: int) -> Status | None:
        state = self.states.get(step)
        return state.status if state else None

    def done_times(self) -> list[datetime]:
        return sorted(s.done_at for s in self.states.values() if s.status is Status.DONE and s.done_at)


def current_step(plan: Plan, states: Mapping[int, StepState]) -> Step | None:
    """The step a member is on: the lowest one in progress, else the first neither done nor skipped."""
    in_progress = [n for n, s in states.items() if s.status is Status.IN_PROGRESS and n in plan]
    if in_progress:
        return plan.step(min(in_progress))
    return next_open_step(plan, states)


def next_open_step(plan: Plan, states: Mapping[int, StepState], after: int = 0) -> Step | None:
    """The first step after `after` that is neither done nor skipped (in-progress counts as open)."""
    for step in plan.steps:
        if step.number <= after:
            continue
        state = states.get(step.number)
        if state is None or state.status is Status.IN_PROGRESS:
            return step
    return None


def phase_done_counts(plan: Plan, done: Iterable[int]) -> list[tuple[Phase, int]]:
    done_set = set(done)
    return [(phase, sum(1 for n in phase.steps if n in done_set)) for phase in plan.phases]


@dataclass(frozen=True, slots=True)
class Completion:
    phases: tuple[Phase, ...]  # phases that became complete with this change
    plan: bool  # the whole plan became complete


def completions(plan: Plan, before: Iterable[int], after: Iterable[int]) -> Completion:
    """Phases (and the plan) complete in `after` but not in `before`: what a change should celebrate."""
    before_set, after_set = set(before), set(after)
    newly = tuple(
        phase for phase in plan.phases
        if all(n in after_set for n in phase.steps) and not all(n in before_set for n in phase.steps)
    )
    every = {s.number for s in plan.steps}
    return Completion(newly, every <= after_set and not every <= before_set)


@dataclass(frozen=True, slots=True)
class Streak:
    current: int
    longest: int


def streaks(done_times: Iterable[datetime], tz: ZoneInfo, today: date) -> Streak:
    """Consecutive local days with at least one step done.

    The current streak counts back from today, or from yesterday when nothing
    is done yet today (the day is not over, so the streak is still alive).
    """
    days = sorted({local_date(t, tz) for t in done_times})
    if not days:
        return Streak(0, 0)
    longest = run = 1
    for previous, day in pairwise(days):
        run = run + 1 if day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
    day_set = set(days)
    anchor = today if today in day_set else today - timedelta(days=1)
    current = 0
    while anchor in day_set:
        current += 1
        anchor -= timedelta(days=1)
    return Streak(current, longest)

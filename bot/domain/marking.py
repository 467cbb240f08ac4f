"""What /done, /start and /skip act on, and how a change reads back to the member. Pure Python, no Discord."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.errors import UserError
from bot.domain.plan import Plan, Step
from bot.domain.progress import Status, StepState, current_step

MAX_NOTE = 500
STATUS_WORDS = {Status.DONE: "done", Status.SKIPPED: "skipped", Status.IN_PROGRESS: "in progress", None: "not started"}


def clean_note(note: str | None) -> str | None:
    """A member's note: stripped, one line, at most MAX_NOTE characters; None when empty."""
    if note is None:
        return None
    text = " ".join(note.split())
    if len(text) > MAX_NOTE:
        raise UserError(f"Your note is {len(text)} characters long; notes can be at most {MAX_NOTE}. "
                        "Shorten it, or put a link to a longer write-up.")
    return text or None


def done_target(plan: Plan, states: Mapping[int, StepState], number: int | None) -> Step:
    """The step /done marks: the one asked for, else the member's current step."""
    if number is not None:
        return plan.require(number)
    step = current_step(plan, states)
    if step is None:
        raise UserError(f"Every step of the plan is already done or skipped. To mark a skipped step done, "
                        f"name it: `/done step:<{plan.first_number}–{plan.last_number}>`.")
    return step


def start_target(plan: Plan, states: Mapping[int, StepState], number: int | None) -> Step:
    """The step /start marks: the one asked for, else the first step not started yet."""
    if number is not None:
        return plan.require(number)
    step = next((s for s in plan.steps if s.number not in states), None)
    if step is None:
        raise UserError("There is no step left that you have not started. "
                        "`/progress` shows where you are; `/start step:<number>` reopens a step.")
    return step


@dataclass(frozen=True, slots=True)
class StepDiff:
    """One step's change, as stored in the history: before and after."""

    step: int
    before: Status | None
    after: Status | None


def describe_diffs(plan: Plan, diffs: Sequence[StepDiff], limit: int = 8) -> list[str]:
    """Lines like 'step 12. Docker basics: done → not started', at most `limit` and a '… and N more'."""
    lines = []
    for diff in diffs[:limit]:
        step = plan.get(diff.step)
        name = f"{diff.step}. {step.title}" if step else str(diff.step)
        lines.append(f"{name}: {STATUS_WORDS[diff.before]} → {STATUS_WORDS[diff.after]}")
    if len(diffs) > limit:
        lines.append(f"… and {len(diffs) - limit} more steps")
    return lines

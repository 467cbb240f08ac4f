"""bot.marking: notes, which step /done and /start act on, and how history reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.errors import UserError
from bot.domain.marking import MAX_NOTE, StepDiff, clean_note, describe_diffs, done_target, start_target
from bot.domain.plan import load_plan
from bot.domain.progress import Status, StepState

PLAN = load_plan()
T = datetime(2026, 1, 1, tzinfo=UTC)


def states(**by_step: Status) -> dict[int, StepState]:
    return {int(k[1:]): StepState(int(k[1:]), v, None, T) for k, v in by_step.items()}


@pytest.mark.parametrize(("note", "expected"), [
    (None, None),
    ("", None),
    ("   ", None),
    ("  https://example.com/x  ", "https://example.com/x"),
    ("two\nlines", "two lines"),
    ("x" * MAX_NOTE, "x" * MAX_NOTE),
])
def test_clean_note(note: str | None, expected: str | None) -> None:
    assert clean_note(note) == expected


def test_clean_note_too_long_says_the_limit() -> None:
    with pytest.raises(UserError, match=r"501 characters.*at most 500"):
        clean_note("x" * (MAX_NOTE + 1))


D, S, P = Status.DONE, Status.SKIPPED, Status.IN_PROGRESS


@pytest.mark.parametrize(("given", "number", "expected"), [
    ({}, None, 1),
    ({"s1": D}, None, 2),
    ({"s1": D, "s2": S}, None, 3),  # skipped steps are passed over
    ({"s1": D, "s7": P}, None, 7),  # the step in progress is the current one
    ({"s1": D, "s7": P, "s4": P}, None, 4),  # the lowest in progress
    ({}, 42, 42),
    ({"s42": D}, 42, 42),  # named steps are returned whatever their state
])
def test_done_target(given: dict[str, Status], number: int | None, expected: int) -> None:
    assert done_target(PLAN, states(**given), number).number == expected


@pytest.mark.parametrize(("given", "number", "expected"), [
    ({}, None, 1),
    ({"s1": P}, None, 2),  # in progress already: the next one not started
    ({"s1": D, "s2": S, "s3": P}, None, 4),
    ({"s1": D}, 1, 1),  # reopening a done step is allowed when named
])
def test_start_target(given: dict[str, Status], number: int | None, expected: int) -> None:
    assert start_target(PLAN, states(**given), number).number == expected


@pytest.mark.parametrize("number", [0, -1, 81, 10_000])
@pytest.mark.parametrize("target", [done_target, start_target])
def test_targets_refuse_steps_outside_the_plan(target: object, number: int) -> None:
    with pytest.raises(UserError, match="steps go from 1 to 80"):
        target(PLAN, {}, number)  # type: ignore[operator]


def test_done_target_when_everything_is_done_or_skipped() -> None:
    every = {s.number: StepState(s.number, D if s.number % 2 else S, None, T) for s in PLAN.steps}
    with pytest.raises(UserError, match="already done or skipped"):
        done_target(PLAN, every, None)
    with pytest.raises(UserError, match="not started"):
        start_target(PLAN, every, None)


def test_describe_diffs_names_steps_and_limits_lines() -> None:
    diffs = [StepDiff(n, Status.DONE, None) for n in range(1, 11)]
    lines = describe_diffs(PLAN, diffs, limit=3)
    assert lines[0] == f"1. {PLAN.step(1).title}: done → not started"
    assert lines[-1] == "… and 7 more steps"
    assert len(lines) == 4
    skipped = describe_diffs(PLAN, [StepDiff(2, None, Status.SKIPPED)])
    assert skipped == [f"2. {PLAN.step(2).title}: not started → skipped"]

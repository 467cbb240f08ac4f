"""The plan parser: the seed file as its author wrote it, the bundled phased copy, and malformed files."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from bot.domain.plan import (
    STEP_LINE,
    TITLE_LINE,
    PlanError,
    bundled_plan_path,
    load_plan,
    parse_plan,
    phase_heading,
    scan_plan,
    split_title_exercise,
)

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "plan" / "backend-learning-plan.md"
BUNDLED = bundled_plan_path()


def seed_text() -> str:
    if SEED.exists():
        return SEED.read_text(encoding="utf-8")
    # CI clones main with shared/ beside it; fall back to the bundled copy without headings.
    lines = [line for line in BUNDLED.read_text(encoding="utf-8").splitlines() if not line.startswith("## ")]
    return "\n".join(lines)


def test_seed_parses_to_80_steps_matching_the_file_line_for_line() -> None:
    text = seed_text()
    plan = parse_plan(text)
    step_lines = [line for line in text.splitlines() if line.startswith("- [ ]")]
    assert plan.total == 80 == len(step_lines)
    for step, line in zip(plan.steps, step_lines, strict=True):
        assert line == f"- [ ] {step.number}. {step.title} ({step.exercise})"
    assert [s.number for s in plan.steps] == list(range(1, 81))


def test_seed_file_has_no_trailing_newline_and_still_parses() -> None:
    text = seed_text().rstrip("\n")
    assert not text.endswith("\n")
    assert parse_plan(text).step(80).title == "Final project: build complete backend system"


@pytest.mark.parametrize(
    ("number", "title", "exercise"),
    [
        (1, "Understand what backend development is (role, responsibilities)",
         "Research 3 backend job descriptions and summarize responsibilities"),
        (3, "Learn REST API concepts", "Sketch a REST API for a to-do app (resources, endpoints)"),
        (4, "Setup development environment (Node.js + npm, or Python + pip)",
         "Install Node.js / Python, run a “Hello World” script"),
        (16, "Express.js / Flask routing", "Build CRUD routes for “users” resource"),
        (57, "Security advanced topics (OWASP Top 10)", "Protect API against common attacks (SQLi, XSS, CSRF)"),
        (72, "Orchestration with Kubernetes basics", "Deploy a small service using Kubernetes (minikube or cloud)"),
    ],
)
def test_titles_and_exercises_with_parentheses_and_curly_quotes(number: int, title: str, exercise: str) -> None:
    for plan in (parse_plan(seed_text()), load_plan()):
        assert plan.step(number).title == title
        assert plan.step(number).exercise == exercise


def test_without_headings_phases_are_blocks_of_ten() -> None:
    plan = parse_plan(seed_text())
    assert len(plan.phases) == 8
    assert plan.phases[0].steps == tuple(range(1, 11))
    assert plan.phase_of(80).number == 8


def test_bundled_plan_has_named_phases_and_the_seed_steps_unchanged() -> None:
    bundled, seed = load_plan(), parse_plan(seed_text())
    assert [(s.number, s.title, s.exercise) for s in bundled.steps] == [
        (s.number, s.title, s.exercise) for s in seed.steps
    ]
    assert len(bundled.phases) > 8
    assert bundled.phases[0].name.startswith("Foundations")
    covered = [n for phase in bundled.phases for n in phase.steps]
    assert covered == list(range(1, 81))
    assert all(not re.match(r"Steps \d", p.name) for p in bundled.phases)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Title (Exercise)", ("Title", "Exercise")),
        ("A (b) (C (d, e))", ("A (b)", "C (d, e)")),
        ("A (b)(c)", ("A (b)", "c")),
        ("No exercise", None),
        ("(Only exercise)", None),
        ("Title ()", None),
        ("Unbalanced (x", None),
        ("Title (ends) trailing", None),
    ],
)
def test_split_title_exercise(body: str, expected: tuple[str, str] | None) -> None:
    assert split_title_exercise(body) == expected


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("- [ ] 1. A (a)\n- [ ] 1. B (b)", ["line 2", "step 1 is a duplicate (first on line 1)"]),
        ("- [ ] 1. A (a)\n- [ ] 3. C (c)", ["line 2", "step 2 is missing"]),
        ("- [ ] 1. A (a)\n- [ ] 5. E (e)", ["step 2–4 is missing"]),
        ("- [ ] 1. A (a)\nsome prose here\n", ["line 2", "not a step line"]),
        ("- [ ] 1. A without exercise\n", ["line 1", "no '(Exercise)'"]),
        ("- [ ] 2. B (b)\n- [ ] 1. A (a)", ["line 1", "step 1 is missing"]),
        ("", ["no steps"]),
        ("- [ ] 1. A (a)\n## Later\n- [ ] 2. B (b)", ["before the first '## Phase' heading"]),
        ("## Empty\n## Full\n- [ ] 1. A (a)", ["phase 'Empty' has no steps"]),
    ],
)
def test_malformed_plans_are_rejected_with_line_numbers(text: str, fragments: list[str]) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan("- [ ] 1. A (a)\nnonsense\n- [ ] 1. B (b)\n")
    assert [line for line, _ in caught.value.problems] == [2, 3]


def test_search_is_case_insensitive_over_title_and_exercise() -> None:
    plan = load_plan()
    assert [s.number for s in plan.search("KUBE")] == [72]
    assert 57 in [s.number for s in plan.search("xss")]
    assert [s.number for s in plan.search("graphql mutations")] == [78]
    assert plan.search("   ") == []
    assert plan.search("zzzz") == []


def test_navigation_helpers() -> None:
    plan = load_plan()
    assert plan.after(80) is None
    assert plan.before(1) is None
    assert plan.after(4).number == 5
    assert plan.before(5).number == 4
    assert plan.require(80).number == 80


# The patterns before they were made linear (a heading line of 8,000 spaces took 16 minutes): the new ones must
# read every line as these did, except a heading, title or step with nothing but spaces after its prefix,
# which is now no heading, title or step at all ("not a step line").
OLD_STEP_LINE = re.compile(r"^\s*[-*]\s*\[(?P<mark>[ xX])\]\s*(?P<number>\d+)\.\s+(?P<body>.+?)\s*$")
OLD_PHASE_LINE = re.compile(r"^\s*##\s+(?P<name>.+?)\s*#*\s*$")
OLD_TITLE_LINE = re.compile(r"^\s*#\s+(?P<name>.+?)\s*$")


def _old(pattern: re.Pattern[str], line: str, group: str) -> str | None:
    match = pattern.match(line)
    return match[group] if match and match[group].strip() else None


def test_the_linear_patterns_read_every_short_line_as_the_old_ones() -> None:
    """Every line of up to 7 characters over an alphabet of spaces, tabs, no-break spaces, '#' and a letter."""
    for length in range(8):
        for chars in itertools.product(" \t\u00a0#a", repeat=length):
            line = "".join(chars)
            assert phase_heading(line) == _old(OLD_PHASE_LINE, line, "name"), repr(line)
            title = TITLE_LINE.match(line)
            assert (title["name"] if title else None) == _old(OLD_TITLE_LINE, line, "name"), repr(line)
    for length in range(7):
        for chars in itertools.product(" \ta()", repeat=length):
            line = "- [ ] 3." + "".join(chars)
            step = STEP_LINE.match(line)
            assert (step["body"] if step else None) == _old(OLD_STEP_LINE, line, "body"), repr(line)


@pytest.mark.parametrize(("line", "name"), [("## C# ##", "C#"), ("## a ##", "a"), ("## ###", "#"),
                                            ("  ##  Deploy  ", "Deploy"), ("##x", None), ("###  x", None)])
def test_phase_headings(line: str, name: str | None) -> None:
    assert phase_heading(line) == name


def test_scan_keeps_the_line_of_every_step_heading_and_title() -> None:
    source = scan_plan("\n# First\n# Plan\n\n## One\n- [ ] 1. A (a)\n- [ ] 1. Dup (d)\n## Two\n- [ ] 2. B (b)\n")
    assert (source.title, source.title_line) == ("Plan", 3)
    assert [(h.line, h.name) for h in source.headings] == [(5, "One"), (8, "Two")]
    assert [(s.line, s.number, s.heading) for s in source.steps] == [(6, 1, 0), (9, 2, 1)]
    assert source.step_lines == 3
    assert source.problems == ((7, "step 1 is a duplicate (first on line 6)"),)

"""The learning plan: parsing, validation and lookup. Pure Python, no Discord.

A plan file is a Markdown checklist, one step a line::

    ## Phase name            (optional; without headings, phases are blocks of ten)
    - [ ] 4. Title (with parentheses) (Exercise (may nest))

The exercise is the last balanced parenthesised group on the line; everything
before it is the title. Progress is keyed by step number, so editing a title
keeps every member's progress.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.domain.errors import UserError

# Every pattern runs in time linear in the line's length, whatever the line: plan files are uploaded by server
# admins and progress files by members. (`.+?` followed by `\s*$` was quadratic in a run of spaces, and
# `.+?\s*#*\s*$` cubic: one heading line of 8,000 spaces took 16 minutes.) `(?=\S)` lets the body start only
# at a non-space, `.*\S` ends it at the last non-space; a line with nothing after the prefix does not match.
STEP_LINE = re.compile(r"^\s*[-*]\s*\[(?P<mark>[ xX])\]\s*(?P<number>\d+)\.\s+(?=\S)(?P<body>.*\S)\s*$")
TITLE_LINE = re.compile(r"^\s*#\s+(?=\S)(?P<name>.*\S)\s*$")
_PHASE_START = re.compile(r"\s*##\s+(?=\S)")
DEFAULT_PHASE_SIZE = 10
MAX_NUMBER_DIGITS = 6  # a step number longer than this is a typo (and int() refuses 4,300 digits)


def phase_heading(line: str) -> str | None:
    """The name of a `## Phase name ##` heading line (an optional closing run of `#` dropped), or None."""
    match = _PHASE_START.match(line)
    if match is None:
        return None
    rest = line[match.end():].rstrip()
    return rest.rstrip("#").rstrip() or rest[0]  # '## ###' is a phase named '#', as the old pattern read it


class PlanError(ValueError):
    """A plan file that cannot be used; `problems` lists (line number, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {line}: {msg}" if line else msg for line, msg in problems))


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    title: str
    exercise: str
    phase: int  # 1-based phase number


@dataclass(frozen=True, slots=True)
class Phase:
    number: int  # 1-based
    name: str
    steps: tuple[int, ...]  # step numbers, ascending

    @property
    def first(self) -> int:
        return self.steps[0]

    @property
    def last(self) -> int:
        return self.steps[-1]

    @property
    def range_label(self) -> str:
        return f"{self.first}–{self.last}" if self.first != self.last else str(self.first)


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...]
    phases: tuple[Phase, ...]
    _by_number: dict[int, Step] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_number.update({s.number: s for s in self.steps})

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def first_number(self) -> int:
        return self.steps[0].number

    @property
    def last_number(self) -> int:
        return self.steps[-1].number

    def __contains__(self, number: object) -> bool:
        return number in self._by_number

    def step(self, number: int) -> Step:
        """The step with this number; KeyError when there is none."""
        return self._by_number[number]

    def get(self, number: int) -> Step | None:
        return self._by_number.get(number)

    def require(self, number: int) -> Step:
        """The step with this number, or a UserError naming the valid range."""
        step = self._by_number.get(number)
        if step is None:
            raise UserError(f"There is no step {number}: steps go from {self.first_number} to {self.last_number}.")
        return step

    def phase_of(self, number: int) -> Phase:
        return self.phases[self._by_number[number].phase - 1]

    def phase(self, number: int) -> Phase:
        """Phase by its 1-based number; KeyError when there is none."""
        if not 1 <= number <= len(self.phases):
            raise KeyError(number)
        return self.phases[number - 1]

    def after(self, number: int) -> Step | None:
        """The step following `number` in plan order, or None at the end."""
        for step in self.steps:
            if step.number > number:
                return step
        return None

    def before(self, number: int) -> Step | None:
        previous = None
        for step in self.steps:
            if step.number >= number:
                return previous
            previous = step
        return previous

    def search(self, query: str) -> list[Step]:
        """Steps whose title or exercise contain every word of `query`, case-insensitive."""
        words = query.casefold().split()
        if not words:
            return []
        return [s for s in self.steps if all(w in f"{s.title} {s.exercise}".casefold() for w in words)]


def split_title_exercise(body: str) -> tuple[str, str] | None:
    """Split 'Title (maybe (nested)) (Exercise)' into its title and exercise.

    The exercise is the last balanced parenthesised group, which must end the
    line. Returns None when the line has no such group or no title before it.
    """
    body = body.rstrip()
    if not body.endswith(")"):
        return None
    depth = 0
    for index in range(len(body) - 1, -1, -1):
        char = body[index]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                title = body[:index].rstrip()
                exercise = body[index + 1 : -1].strip()
                if not title or not exercise:
                    return None
                return title, exercise
    return None


@dataclass(frozen=True, slots=True)
class StepLine:
    """One step line of a plan file, as written (before the file is checked as a whole)."""

    line: int  # 1-based line number in the file
    number: int
    title: str
    exercise: str
    heading: int | None  # index into PlanSource.headings of the heading above it; None before any


@dataclass(frozen=True, slots=True)
class HeadingLine:
    line: int
    name: str


@dataclass(frozen=True)
class PlanSource:
    """What a plan file says line by line, with line numbers, and every problem of its structure.

    `parse_plan` is `scan_plan(text).plan()`; validation of uploads reads the line numbers to report limits.
    """

    title: str
    title_line: int | None  # the line of the `# Title` that counts (the last one), None for the default title
    headings: tuple[HeadingLine, ...]
    steps: tuple[StepLine, ...]  # the readable step lines, duplicates left out, in file order
    step_lines: int  # every line that looked like a step line (readable or not, duplicates included)
    problems: tuple[tuple[int, str], ...]

    def plan(self) -> Plan:
        """The plan, or PlanError listing every problem."""
        if self.problems:
            raise PlanError(list(self.problems))
        steps: list[Step] = []
        phases: list[Phase] = []
        if self.headings:
            members: dict[int, list[int]] = {}
            for raw in self.steps:
                members.setdefault(raw.heading or 0, []).append(raw.number)
            for index, heading in enumerate(self.headings):
                phases.append(Phase(index + 1, heading.name, tuple(members[index])))
            steps = [Step(raw.number, raw.title, raw.exercise, (raw.heading or 0) + 1) for raw in self.steps]
        else:
            steps = [Step(raw.number, raw.title, raw.exercise, index // DEFAULT_PHASE_SIZE + 1)
                     for index, raw in enumerate(self.steps)]
            for start in range(0, len(steps), DEFAULT_PHASE_SIZE):
                block = steps[start : start + DEFAULT_PHASE_SIZE]
                phases.append(Phase(start // DEFAULT_PHASE_SIZE + 1, f"Steps {block[0].number}–{block[-1].number}",
                                    tuple(s.number for s in block)))
        return Plan(title=self.title, steps=tuple(steps), phases=tuple(phases))


def scan_plan(text: str) -> PlanSource:
    """Read a plan file's text line by line; never raises. Problems are listed in `problems`."""
    problems: list[tuple[int, str]] = []
    title, title_line = "Learning plan", None
    raw_steps: list[StepLine] = []
    headings: list[HeadingLine] = []
    seen: dict[int, int] = {}
    step_lines = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if (name := phase_heading(line)) is not None:
            headings.append(HeadingLine(line_no, name))
            continue
        if match := TITLE_LINE.match(line):
            title, title_line = match["name"], line_no
            continue
        match = STEP_LINE.match(line)
        if not match:
            problems.append((line_no, f"not a step line (expected '- [ ] N. Title (Exercise)'): {line.strip()[:60]}"))
            continue
        step_lines += 1
        digits = match["number"].lstrip("0") or "0"
        if len(digits) > MAX_NUMBER_DIGITS:
            problems.append((line_no, f"step number {digits[:MAX_NUMBER_DIGITS]}… is too large"))
            continue
        number = int(digits)
        parts = split_title_exercise(match["body"])
        if parts is None:
            problems.append((line_no, f"step {number} has no '(Exercise)' in parentheses at the end"))
            continue
        if number in seen:
            problems.append((line_no, f"step {number} is a duplicate (first on line {seen[number]})"))
            continue
        seen[number] = line_no
        raw_steps.append(StepLine(line_no, number, parts[0], parts[1], len(headings) - 1 if headings else None))

    if not raw_steps and not problems:
        problems.append((0, "the plan has no steps"))
    expected = 1
    for raw in raw_steps:
        number = raw.number
        if number != expected:
            if number > expected:
                missing = f"{expected}" if number == expected + 1 else f"{expected}–{number - 1}"
                problems.append((raw.line, f"step {number} follows step {expected - 1}: step {missing} is missing"))
            else:
                problems.append((raw.line, f"step {number} is out of order (expected {expected})"))
        expected = max(expected, number + 1)
    if headings and raw_steps and raw_steps[0].heading is None:
        problems.append((raw_steps[0].line, "steps appear before the first '## Phase' heading"))
    if headings and raw_steps:
        used = {raw.heading for raw in raw_steps if raw.heading is not None}
        problems.extend((heading.line, f"phase '{heading.name}' has no steps")
                        for index, heading in enumerate(headings) if index not in used)
    return PlanSource(title=title, title_line=title_line, headings=tuple(headings), steps=tuple(raw_steps),
                      step_lines=step_lines, problems=tuple(problems))


def parse_plan(text: str) -> Plan:
    """Parse a plan file's text; raise PlanError naming every bad line."""
    return scan_plan(text).plan()


def bundled_plan_path() -> Path:
    return Path(str(resources.files("bot") / "data" / "backend-learning-plan.md"))


def load_plan(path: Path | None = None) -> Plan:
    """Read and parse a plan file (the bundled plan by default).

    Raises PlanError for a malformed file and OSError for an unreadable one.
    """
    target = path or bundled_plan_path()
    return parse_plan(target.read_text(encoding="utf-8"))

"""A member's progress as a Markdown checklist in the plan's own format, and reading it back. Pure Python.

The file is the plan itself, one step a line, ticked where done; what a tick
cannot say sits in indented lines under the step::

    - [x] 12. Title (Exercise)
      - done: 2026-01-03T10:00:00Z
      - note: https://github.com/me/exercise-12
    - [ ] 13. Title (Exercise)
      - status: skipped

Reading it back checks every line against the plan, so a file for another
plan (other numbers or titles), or no checklist at all, is refused with the
lines that are wrong; nothing is applied from a file with any problem.

The header names the plan: its title as the heading, and a marker line with the
format version, the plan's id in its server (0: the bundled plan) and the plan's
version (format 2)::

    # Frontend Track
    <!-- stepwise progress export v2 plan=3 version=2 -->
    <!-- plan “Frontend Track”, version 2, track “Frontend” -->

A format 1 file (`<!-- stepwise progress export v1 -->`, from before tracks) is
the bundled plan's, plan 0; a file without a marker (a checklist typed by hand)
claims no plan and is checked line by line against the member's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.errors import UserError
from bot.domain.marking import MAX_NOTE
from bot.domain.plan import STEP_LINE, Plan
from bot.domain.progress import Status, StepState

MAX_FILE_BYTES = 256 * 1024
MAX_PROBLEMS_SHOWN = 5
DETAIL_LINE = re.compile(r"^\s+[-*]\s+(?P<key>[a-z ]+?)\s*:\s?(?P<value>.*)$")
HEADING_LINE = re.compile(r"^\s*#")
COMMENT_LINE = re.compile(r"^\s*<!--.*-->\s*$")
STATUS_NAMES = {"skipped": Status.SKIPPED, "in progress": Status.IN_PROGRESS, "done": Status.DONE}
FORMAT_VERSION = 2
MARKER_LINE = re.compile(r"^\s*<!--\s*stepwise progress export v(?P<format>\d+)"
                         r"(?:\s+plan=(?P<plan>\d+))?(?:\s+version=(?P<version>\d+))?\s*-->\s*$")
EARLIEST_DONE = datetime(2000, 1, 1, tzinfo=UTC)  # done dates before this are refused
FUTURE_SLACK = timedelta(days=1)  # done dates up to a day ahead of now pass (a date typed in a zone ahead of UTC)


@dataclass(frozen=True, slots=True)
class ImportedStep:
    step: int
    status: Status | None  # None: not started
    note: str | None
    done_at: datetime | None  # for DONE; None: "when imported"


def format_instant(instant: datetime) -> str:
    """UTC ISO 8601 with a Z, seconds precision unless the instant has microseconds."""
    utc = instant.astimezone(UTC)
    spec = "seconds" if utc.microsecond == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _in_comment(text: str) -> str:
    """Text inside an HTML comment on one line: no line breaks, no `--` (which would end it early)."""
    return " ".join(text.split()).replace("--", "- -")


def marker(plan_id: int, version: int) -> str:
    return f"<!-- stepwise progress export v{FORMAT_VERSION} plan={plan_id} version={version} -->"


def format_export(plan: Plan, states: Mapping[int, StepState], who: str, where: str, now: datetime, *,
                  plan_id: int = 0, version: int = 1, track: str | None = None) -> str:
    """The member's progress as a Markdown checklist of the whole plan (`plan_id` and `version`: the plan's in
    the server, named in the header; `track`: the track's name)."""
    done = sum(1 for s in states.values() if s.status is Status.DONE)
    named = f", track “{_in_comment(track)}”" if track and track.casefold() != plan.title.casefold() else ""
    lines = [
        f"# {plan.title}",
        "",
        marker(plan_id, version),
        f"<!-- plan “{_in_comment(plan.title)}”, version {version}{named} -->",
        f"<!-- {_in_comment(who)} in {_in_comment(where)}: {done}/{plan.total} steps done, "
        f"exported {format_instant(now)} -->",
    ]
    for phase in plan.phases:
        lines += ["", f"## {phase.name}", ""]
        for number in phase.steps:
            step = plan.step(number)
            state = states.get(number)
            mark = "x" if state and state.status is Status.DONE else " "
            lines.append(f"- [{mark}] {step.number}. {step.title} ({step.exercise})")
            if state is None:
                continue
            if state.status is Status.DONE and state.done_at:
                lines.append(f"  - done: {format_instant(state.done_at)}")
            elif state.status is not Status.DONE:
                lines.append(f"  - status: {state.status.value.replace('_', ' ')}")
            if state.note:
                lines.append(f"  - note: {' '.join(state.note.split())}")
    return "\n".join(lines) + "\n"


def parse_instant(text: str) -> datetime:
    """'2026-01-03', '2026-01-03T10:00Z' or any ISO 8601 with an offset -> aware UTC.

    ValueError otherwise, also for an instant with no UTC equivalent on the calendar (`0001-01-01T00:00+01:00`).
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a bare date or time is read as UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the calendar in UTC") from None


def decode(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"That file is {len(data) // 1024} KB; a progress export is a few KB "
                        f"(at most {MAX_FILE_BYTES // 1024} KB). Attach the file `/data export` gave you.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("That file is not UTF-8 text. Attach the Markdown file `/data export` gave you "
                        "(a `.md` file), not a document or an image.") from None


@dataclass(frozen=True, slots=True)
class ExportOrigin:
    """Which plan a progress file says it is from (its header)."""

    format: int
    plan_id: int  # 0: the bundled plan (every format 1 file)
    version: int | None  # the plan's version when exported (format 2)
    title: str | None  # the plan's title, from the file's heading


MAX_NUMBER_DIGITS = 9  # a step, plan or version number longer than this is refused before int()


def export_origin(data: bytes) -> ExportOrigin | None:
    """The plan a progress file names in its header, or None for a file without a marker (typed by hand).
    UserError for a file that is too big or not UTF-8 text, as `parse_export`."""
    title = None
    for line in decode(data).splitlines():
        if title is None and (heading := re.match(r"^#\s+(?P<title>\S.*?)\s*$", line)):
            title = heading["title"]
        if (match := MARKER_LINE.match(line)) and all(len(v or "") <= MAX_NUMBER_DIGITS for v in match.groups()):
            plan_id = int(match["plan"]) if match["plan"] else 0
            version = int(match["version"]) if match["version"] else None
            return ExportOrigin(int(match["format"]), plan_id, version, title)
        if STEP_LINE.match(line):
            return None  # the marker comes before the checklist
    return None


def parse_export(plan: Plan, data: bytes, now: datetime) -> list[ImportedStep]:
    """Read a progress file for `plan`. UserError listing the first problems (with line numbers) otherwise."""
    text = decode(data)
    problems: list[str] = []
    found: dict[int, dict[str, object]] = {}
    order: list[int] = []
    ticks: dict[int, tuple[bool, int]] = {}
    current: int | None = None
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or HEADING_LINE.match(line) or COMMENT_LINE.match(line):
            continue
        if match := STEP_LINE.match(line):
            current = None
            if len(match["number"]) > MAX_NUMBER_DIGITS:  # int() of thousands of digits raises (and is slow)
                problems.append(f"line {line_no}: the step number {match['number'][:12]}… is too long")
                continue
            number = int(match["number"])
            step = plan.get(number)
            if step is None:
                problems.append(f"line {line_no}: there is no step {number} in this plan "
                                f"(steps go from {plan.first_number} to {plan.last_number})")
                continue
            if number in found:
                problems.append(f"line {line_no}: step {number} appears twice")
                continue
            expected = f"{step.title} ({step.exercise})"
            if " ".join(match["body"].split()) != " ".join(expected.split()):
                problems.append(f"line {line_no}: step {number} is “{step.title}” in this plan, "
                                f"not “{_short(match['body'])}”")
                continue
            current = number
            order.append(number)
            found[number] = {}
            ticks[number] = (match["mark"] in "xX", line_no)
            continue
        if (match := DETAIL_LINE.match(line)) and current is not None:
            _read_detail(found[current], match["key"].strip().casefold(), match["value"].strip(), line_no,
                         problems, now=now)
            continue
        problems.append(f"line {line_no}: not part of a progress checklist: “{_short(line.strip())}”")
    if not found and not problems:
        problems.append("there is no step line like `- [x] 1. Title (Exercise)` in it")
    steps = [] if problems else [_imported(n, *ticks[n], found[n], problems) for n in order]
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        raise UserError(
            "That file is not a progress checklist for this plan, so nothing was imported:\n"
            + "\n".join(f"• {p}" for p in shown)
            + (f"\n… and {more} more problem{'s' if more != 1 else ''}" if more else "")
            + "\nUse the file `/data export` gives you (you may tick boxes and edit notes in it)."
        )
    return steps


def _read_detail(entry: dict[str, object], key: str, value: str, line_no: int, problems: list[str],
                 *, now: datetime) -> None:
    if key in entry:
        problems.append(f"line {line_no}: `{key}:` given twice for one step")
    elif key == "note":
        if len(value) > MAX_NOTE:
            problems.append(f"line {line_no}: the note is {len(value)} characters; at most {MAX_NOTE}")
        entry["note"] = value or None
    elif key == "done":
        try:
            instant = parse_instant(value)
        except ValueError:
            problems.append(f"line {line_no}: `{_short(value)}` is not a date (use 2026-01-31 or 2026-01-31T18:00Z)")
            return
        if instant < EARLIEST_DONE:
            problems.append(f"line {line_no}: the done date {_short(value)} is before "
                            f"{EARLIEST_DONE.date().isoformat()}; use the day you did the step")
        elif instant > now + FUTURE_SLACK:
            problems.append(f"line {line_no}: the done date {_short(value)} is in the future")
        entry["done_at"] = instant
    elif key == "status":
        status = STATUS_NAMES.get(value.casefold())
        if status is None:
            problems.append(f"line {line_no}: status `{_short(value)}` is not one of: skipped, in progress, done")
        entry["status"] = status
    else:
        problems.append(f"line {line_no}: `{_short(key)}:` is not something a step can have "
                        "(only done, status, note)")


def _imported(number: int, ticked: bool, line: int, entry: dict[str, object],
              problems: list[str]) -> ImportedStep:
    stated = entry.get("status")
    status: Status | None = Status.DONE if ticked else (stated if isinstance(stated, Status) else None)
    if ticked and stated not in (None, Status.DONE):
        problems.append(f"line {line}: step {number} is ticked but has status {stated}")
    if stated is Status.DONE and not ticked:
        status = Status.DONE
    done_at = entry.get("done_at")
    if done_at is not None and status is not Status.DONE:
        problems.append(f"line {line}: step {number} has a done date but is not ticked")
    note = entry.get("note")
    if note is not None and status is None:
        problems.append(f"line {line}: step {number} has a note but is not started "
                        "(add `- status: in progress` or tick it)")
    return ImportedStep(number, status, note if isinstance(note, str) else None,
                        done_at if isinstance(done_at, datetime) else None)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What importing would change, by the kind of change."""

    done: tuple[int, ...]
    skipped: tuple[int, ...]
    in_progress: tuple[int, ...]
    cleared: tuple[int, ...]  # steps the file lists as not started that have a state now
    notes: tuple[int, ...]  # steps whose status stays but whose note or done date changes
    unchanged: int
    # Exactly what the preview shows, to apply on confirm (never the whole file), and the state each of those
    # steps had when previewed: the confirm applies `items` only while `still_current` holds.
    items: tuple[ImportedStep, ...] = ()
    previewed: tuple[tuple[int, StepState | None], ...] = ()

    @property
    def changes(self) -> int:
        return len(self.done) + len(self.skipped) + len(self.in_progress) + len(self.cleared) + len(self.notes)

    def still_current(self, current: Mapping[int, StepState]) -> bool:
        """Whether every previewed step is still as it was when the preview was made."""
        return all(current.get(step) == state for step, state in self.previewed)


def plan_import(current: Mapping[int, StepState], imported: list[ImportedStep]) -> ImportPlan:
    """What importing `imported` over `current` would change: the preview, and the only changes a confirm applies."""
    buckets: dict[str, list[int]] = {"done": [], "skipped": [], "in_progress": [], "cleared": [], "notes": []}
    unchanged = 0
    items: list[ImportedStep] = []
    for item in imported:
        old = current.get(item.step)
        if old is None and item.status is None:
            unchanged += 1
            continue
        if item.status is None:
            buckets["cleared"].append(item.step)
        elif old is None or old.status is not item.status:
            buckets[item.status.value].append(item.step)
        elif old.note != item.note or (item.done_at is not None and old.done_at != item.done_at):
            buckets["notes"].append(item.step)
        else:
            unchanged += 1
            continue
        items.append(item)
    return ImportPlan(done=tuple(buckets["done"]), skipped=tuple(buckets["skipped"]),
                      in_progress=tuple(buckets["in_progress"]), cleared=tuple(buckets["cleared"]),
                      notes=tuple(buckets["notes"]), unchanged=unchanged, items=tuple(items),
                      previewed=tuple((i.step, current.get(i.step)) for i in items))

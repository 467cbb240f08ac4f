"""Plans that server admins upload: the limits, the checks, plan names, and what an update changes. Pure Python.

An uploaded plan is a file in the format `bot.domain.plan` reads. `validate_upload` checks the bytes as
received (size, encoding, file name) and then the text exactly as `python -m bot check-plan` does: both call
`validate_upload`, so an admin can run the command on the file and see the same list of problems. Every
problem comes with its line number (0: the whole file), all of them at once.

Progress is keyed by step number, so an update keeps every member's progress on the steps it keeps;
`diff_plans` says which steps an update adds, removes or changes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import UserError
from bot.domain.plan import Plan, PlanError, PlanSource, Step, scan_plan

MAX_BYTES = 256 * 1024  # the uploaded file, before decoding
MAX_STEPS = 500
MAX_PLANS = 10  # uploaded plans per server (the store's caller enforces it)
MAX_TITLE = 200  # a step title: "Step 500 · <title>" fits an embed title or field name (256)
MAX_EXERCISE = 1000  # an exercise fits a field value (1024) with room for a label
MAX_PHASE_NAME = 100
MAX_PLAN_TITLE = 200
MAX_NAME = 50  # the name admins give a plan, shown in autocomplete
EXTENSIONS = (".md", ".markdown", ".txt")

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _size(count: int) -> str:
    """'262,145 bytes (256.0 KB)': the exact count, as a file that is a byte too big must not read '256 KB'."""
    rounded = f"{count / 1024:.1f} KB" if count < 1024 * 1024 else f"{count / (1024 * 1024):.1f} MB"
    return f"{count:,} bytes ({rounded})"


def _control(text: str) -> str | None:
    """The first control character in text, as 'U+001B', or None. Tabs are fine."""
    for char in text:
        if char != "\t" and unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


def _length_problem(line: int, what: str, text: str, limit: int) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    if len(text) > limit:
        problems.append((line, f"{what} is {len(text)} characters; at most {limit}"))
    if (char := _control(text)) is not None:
        problems.append((line, f"{what} contains a control character ({char})"))
    return problems


def check_limits(source: PlanSource) -> list[tuple[int, str]]:
    """The problems of a scanned plan file beyond its structure: too many steps, texts too long for Discord."""
    problems: list[tuple[int, str]] = []
    if source.title_line is not None:
        problems += _length_problem(source.title_line, "the plan title", source.title, MAX_PLAN_TITLE)
    for heading in source.headings:
        problems += _length_problem(heading.line, f"the name of phase '{heading.name[:40]}'", heading.name,
                                    MAX_PHASE_NAME)
    for raw in source.steps:
        problems += _length_problem(raw.line, f"the title of step {raw.number}", raw.title, MAX_TITLE)
        problems += _length_problem(raw.line, f"the exercise of step {raw.number}", raw.exercise, MAX_EXERCISE)
    if len(source.steps) > MAX_STEPS:
        extra = source.steps[MAX_STEPS]
        problems.append((extra.line, f"a plan has at most {MAX_STEPS} steps; this file has {len(source.steps)} "
                                     f"(step {extra.number} is the first one too many)"))
    return problems


def _in_order(problems: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """Whole-file problems first, then by line; problems on one line keep their order."""
    return sorted(problems, key=lambda problem: problem[0])


def validate_text(text: str) -> Plan:
    """The plan in this text, or PlanError listing every problem: its structure and the limits."""
    source = scan_plan(text)
    problems = [*source.problems, *check_limits(source)]
    if problems:
        raise PlanError(_in_order(problems))
    return source.plan()


def decode_plan(data: bytes) -> tuple[str, list[tuple[int, str]]]:
    """The text of a plan file and the encoding problems (one per line with bytes that are not UTF-8).

    A UTF-8 byte-order mark is dropped. Bytes that are not UTF-8 read as U+FFFD, so the rest of the file can
    still be checked. Raises PlanError when the file is not text at all (UTF-16, or NUL bytes).
    """
    if data.startswith(_UTF16_BOMS):
        raise PlanError([(0, "the file is UTF-16 text; save it as UTF-8 (most editors: Save as… → Encoding)")])
    bom = len(_BOM) if data.startswith(_BOM) else 0
    if (nul := data.find(b"\x00")) >= 0:
        before = data[bom:nul].decode("utf-8", "replace")
        raise PlanError([(len((before + "x").splitlines()),
                          f"this is not a text file (a NUL byte at offset {nul}); upload the Markdown file itself, "
                          "not a document or an archive")])
    try:
        return data[bom:].decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    escaped = data[bom:].decode("utf-8", "surrogateescape")  # each bad byte -> one lone surrogate U+DC80-DCFF
    problems: list[tuple[int, str]] = []
    offset = bom
    for line_no, text in enumerate(escaped.splitlines(keepends=True), start=1):
        if bad := _ESCAPED_BYTE.search(text):
            at = offset + len(text[: bad.start()].encode("utf-8", "surrogateescape"))
            problems.append((line_no, f"not UTF-8 text: byte 0x{ord(bad[0]) - 0xDC00:02X} at offset {at} is not "
                                      "valid UTF-8; save the file as UTF-8"))
        offset += len(text.encode("utf-8", "surrogateescape"))
    return data[bom:].decode("utf-8", "replace"), problems


def check_filename(filename: str | None) -> list[tuple[int, str]]:
    if filename is None or filename.casefold().endswith(EXTENSIONS):
        return []
    return [(0, f"'{filename[:80]}' is not a Markdown file: the name should end in "
                f"{', '.join(EXTENSIONS[:-1])} or {EXTENSIONS[-1]}")]


def validate_upload(data: bytes, filename: str | None) -> Plan:
    """The plan in an uploaded file, or PlanError listing every problem with its line (0: the whole file).

    Checked in this order, all reported together: the size (first, before decoding: a file too big is not
    read further), the file name's extension (when there is a name), the encoding, the structure
    (`bot.domain.plan`), and the limits (`check_limits`).
    """
    problems = check_filename(filename)
    if len(data) > MAX_BYTES:
        raise PlanError([(0, f"the file is {_size(len(data))}; a plan file is at most {_size(MAX_BYTES)}"),
                         *problems])
    try:
        text, encoding = decode_plan(data)
    except PlanError as error:
        raise PlanError([*problems, *error.problems]) from None
    problems += encoding
    try:
        plan = validate_text(text)
    except PlanError as error:
        problems += error.problems
    if problems:
        raise PlanError(_in_order(problems))
    return plan


_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(text: str) -> str:
    """`text` without format characters (Cf: zero-width spaces and joiners, word joiners, byte-order marks):
    invisible, they would make two names that look the same different."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def validate_name(name: str) -> str:
    """The name an admin gave a plan, cleaned (trimmed, runs of spaces as one, invisible format characters
    dropped), or UserError saying why not."""
    if any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in name.strip()):
        raise UserError("A plan name is one line of text: no line breaks, tabs or control characters.")
    if any(char in _BIDI_CONTROLS for char in name):
        raise UserError("A plan name may not contain right-to-left or left-to-right override characters: they "
                        "make a name display as another one.")
    cleaned = " ".join(_visible(name).split())
    if not any(unicodedata.category(char)[0] not in {"Z", "C"} for char in cleaned):
        raise UserError(f"Give the plan a name: 1 to {MAX_NAME} characters, for example `Frontend`.")
    if len(cleaned) > MAX_NAME:
        raise UserError(f"That name is {len(cleaned)} characters; a plan name has at most {MAX_NAME}.")
    return cleaned


def name_key(name: str) -> str:
    """What makes two plan names the same: whitespace collapsed, NFKC-normalised, case-folded.

    'Front  End', 'front end', 'ＦＲＯＮＴ END' (full-width) and 'Front\u200b End' (a zero-width space) share a
    key, and so do a precomposed 'é' and an 'e' with a combining accent. Store this beside the name to keep
    names unique per server.
    """
    collapsed = " ".join(_visible(name).split())
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", collapsed).casefold())


@dataclass(frozen=True, slots=True)
class StepChange:
    """A step number in both versions whose title or exercise differ."""

    number: int
    old_title: str
    new_title: str
    old_exercise: str
    new_exercise: str

    @property
    def title_changed(self) -> bool:
        return self.old_title != self.new_title

    @property
    def exercise_changed(self) -> bool:
        return self.old_exercise != self.new_exercise

    @property
    def what(self) -> str:
        """'title', 'exercise' or 'title and exercise'."""
        if self.title_changed and self.exercise_changed:
            return "title and exercise"
        return "title" if self.title_changed else "exercise"


@dataclass(frozen=True, slots=True)
class PhaseRename:
    number: int  # 1-based, the same position in both versions
    old_name: str
    new_name: str


@dataclass(frozen=True)
class PlanDiff:
    """What replacing `old` by `new` changes. Progress is keyed by step number: a member keeps progress on
    every step number in both versions; progress on removed numbers is the caller's to archive."""

    old_title: str
    new_title: str
    added: tuple[int, ...]  # step numbers only in the new version
    removed: tuple[int, ...]  # step numbers only in the old version
    changed: tuple[StepChange, ...]  # numbers in both whose title or exercise differ
    renamed_phases: tuple[PhaseRename, ...]  # phase positions in both whose names differ
    regrouped_phases: tuple[int, ...]  # phase positions in both that hold other step numbers
    old_phase_count: int
    new_phase_count: int
    kept: int  # step numbers in both versions

    @property
    def retitled(self) -> tuple[StepChange, ...]:
        return tuple(change for change in self.changed if change.title_changed)

    @property
    def title_changed(self) -> bool:
        return self.old_title != self.new_title

    @property
    def phases_changed(self) -> bool:
        return bool(self.renamed_phases or self.regrouped_phases or self.old_phase_count != self.new_phase_count)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed or self.phases_changed or self.title_changed)


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    old_numbers = {step.number for step in old.steps}
    new_numbers = {step.number for step in new.steps}
    changed = []
    for step in new.steps:
        before = old.get(step.number)
        if before is not None and (before.title, before.exercise) != (step.title, step.exercise):
            changed.append(StepChange(step.number, before.title, step.title, before.exercise, step.exercise))
    shared = range(min(len(old.phases), len(new.phases)))
    return PlanDiff(
        old_title=old.title,
        new_title=new.title,
        added=tuple(sorted(new_numbers - old_numbers)),
        removed=tuple(sorted(old_numbers - new_numbers)),
        changed=tuple(changed),
        renamed_phases=tuple(PhaseRename(i + 1, old.phases[i].name, new.phases[i].name)
                             for i in shared if old.phases[i].name != new.phases[i].name),
        regrouped_phases=tuple(i + 1 for i in shared if old.phases[i].steps != new.phases[i].steps),
        old_phase_count=len(old.phases),
        new_phase_count=len(new.phases),
        kept=len(old_numbers & new_numbers),
    )


@dataclass(frozen=True, slots=True)
class PhaseSummary:
    number: int
    name: str
    first: int
    last: int
    count: int

    @property
    def range_label(self) -> str:
        return f"{self.first}–{self.last}" if self.first != self.last else str(self.first)


@dataclass(frozen=True)
class PlanSummary:
    title: str
    steps: int
    phases: tuple[PhaseSummary, ...]
    first: Step
    last: Step


def preview(plan: Plan) -> PlanSummary:
    """What an admin sees before confirming a new plan."""
    phases = tuple(PhaseSummary(p.number, p.name, p.first, p.last, len(p.steps)) for p in plan.phases)
    return PlanSummary(plan.title, plan.total, phases, plan.steps[0], plan.steps[-1])


@dataclass(frozen=True, slots=True)
class PlanListing:
    """One row of a server's plan list, as the store's caller assembles it."""

    name: str
    version: int | None  # the current version; None for the bundled plan
    steps: int
    members: int  # members with progress on this plan
    is_default: bool
    uploaded_at: datetime | None  # aware; None for the bundled plan
    bundled: bool
    unreadable: bool = False  # its stored Markdown no longer parses: members on it can't use it until repaired

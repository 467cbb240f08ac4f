"""bot.export: the progress checklist file, written and read back, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.errors import UserError
from bot.domain.export import (
    MAX_FILE_BYTES,
    ExportOrigin,
    ImportedStep,
    export_origin,
    format_export,
    format_instant,
    parse_export,
    parse_instant,
    plan_import,
)
from bot.domain.plan import load_plan
from bot.domain.progress import Status, StepState

PLAN = load_plan()
NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
T2 = datetime(2026, 1, 6, 22, 15, 1, 123456, tzinfo=UTC)


def line(n: int, mark: str = " ") -> str:
    step = PLAN.step(n)
    return f"- [{mark}] {n}. {step.title} ({step.exercise})"


STATES = {
    1: StepState(1, Status.DONE, "https://example.com/*my* repo", T1, T1),
    2: StepState(2, Status.DONE, None, T2, T2),
    3: StepState(3, Status.SKIPPED, None, T1),
    4: StepState(4, Status.IN_PROGRESS, "halfway: (nested) notes", T1),
    80: StepState(80, Status.SKIPPED, "not for me", T1),
}


def test_export_is_the_plan_checklist_with_details() -> None:
    text = format_export(PLAN, STATES, "alice", "Study Hall", NOW)
    lines = text.splitlines()
    assert lines[0] == f"# {PLAN.title}"
    assert line(1, "x") in lines
    assert line(3) in lines
    assert sum(1 for entry in lines if entry.startswith("- [")) == PLAN.total
    index = lines.index(line(1, "x"))
    assert lines[index + 1: index + 3] == ["  - done: 2026-01-05T09:30:00Z", "  - note: https://example.com/*my* repo"]
    assert lines[lines.index(line(3)) + 1] == "  - status: skipped"
    assert lines[lines.index(line(4)) + 1: lines.index(line(4)) + 3] == [
        "  - status: in progress", "  - note: halfway: (nested) notes"]
    assert "alice in Study Hall: 2/80 steps done" in text
    assert f"## {PLAN.phases[0].name}" in lines


def test_round_trip_keeps_statuses_notes_and_done_dates() -> None:
    text = format_export(PLAN, STATES, "alice", "Study Hall", NOW)
    imported = {i.step: i for i in parse_export(PLAN, text.encode(), NOW)}
    assert len(imported) == PLAN.total
    for number, state in STATES.items():
        got = imported[number]
        assert (got.status, got.note) == (state.status, state.note)
        assert got.done_at == state.done_at
    assert imported[5] == ImportedStep(5, None, None, None)


@pytest.mark.parametrize(("instant", "text"), [
    (T1, "2026-01-05T09:30:00Z"),
    (T2, "2026-01-06T22:15:01.123456Z"),
])
def test_format_instant(instant: datetime, text: str) -> None:
    assert format_instant(instant) == text
    assert parse_instant(text) == instant


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
    ("2026-01-05T10:00+01:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    ("2026-01-05 09:30", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
])
def test_parse_instant_accepts_dates_and_offsets(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


def test_a_partial_hand_written_file_is_accepted() -> None:
    text = "\n".join([line(2, "X"), "  * done: 2026-01-10", line(7), "  - status: In Progress"])
    assert parse_export(PLAN, text.encode("utf-8-sig"), NOW) == [
        ImportedStep(2, Status.DONE, None, datetime(2026, 1, 10, tzinfo=UTC)),
        ImportedStep(7, Status.IN_PROGRESS, None, None),
    ]


def bad(*lines: str) -> bytes:
    return "\n".join(lines).encode()


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "no step line"),
    (b"\xff\xfe\x00garbage\x89PNG", "not UTF-8"),
    (b"x" * (MAX_FILE_BYTES + 1), "at most 256 KB"),
    (bad("hello world", "this is a shopping list"), "line 1: not part of a progress checklist"),
    (bad("- [x] 81. Something (Exercise)"), "line 1: there is no step 81"),
    (bad("- [x] 0. Something (Exercise)"), "there is no step 0"),
    (bad("- [x] 1. Learn Cobol (Write a compiler)"), "step 1 is “Understand what backend"),
    (bad(line(1, "x"), line(1, "x")), "line 2: step 1 appears twice"),
    (bad(line(1, "x"), "  - colour: blue"), "`colour:` is not something a step can have"),
    (bad(line(1, "x"), "  - done: yesterday"), "`yesterday` is not a date"),
    (bad(line(1, "x"), "  - done: 2027-01-01"), "in the future"),
    (bad(line(1), "  - status: finished-ish"), "status `finished-ish` is not one of"),
    (bad(line(1, "x"), "  - status: skipped"), "ticked but has status skipped"),
    (bad(line(1), "  - done: 2026-01-01"), "has a done date but is not ticked"),
    (bad(line(1), "  - note: hello"), "has a note but is not started"),
    (bad(line(1, "x"), "  - note: " + "x" * 501), "the note is 501 characters; at most 500"),
    (bad(line(1, "x"), "  - note: a", "  - note: b"), "`note:` given twice"),
    (bad("  - note: orphan"), "line 1: not part of a progress checklist"),
    (bad(*[f"- [x] {n}. Wrong (Title)" for n in range(1, 11)]), "… and 5 more problems"),
], ids=["empty", "binary", "too-big", "prose", "number-too-high", "number-zero", "wrong-title", "duplicate",
        "unknown-key", "bad-date", "future-date", "bad-status", "tick-and-skip", "date-unticked", "note-unstarted",
        "note-too-long", "note-twice", "orphan-detail", "many-problems"])
def test_files_that_are_not_a_checklist_for_this_plan_are_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_export(PLAN, data, NOW)
    assert fragment in caught.value.message
    assert len(caught.value.message) < 2000


def test_plan_import_sorts_changes() -> None:
    current = {
        1: StepState(1, Status.DONE, None, T1, T1),
        2: StepState(2, Status.SKIPPED, None, T1),
        3: StepState(3, Status.DONE, "old", T1, T1),
        4: StepState(4, Status.DONE, None, T1, T1),
    }
    imported = [
        ImportedStep(1, Status.DONE, None, None),  # same (no date in the file keeps the stored one)
        ImportedStep(2, None, None, None),  # cleared
        ImportedStep(3, Status.DONE, "new", None),  # note changes
        ImportedStep(4, Status.DONE, None, T2),  # done date changes
        ImportedStep(5, Status.SKIPPED, None, None),
        ImportedStep(6, Status.IN_PROGRESS, None, None),
        ImportedStep(7, Status.DONE, None, None),
        ImportedStep(8, None, None, None),  # unchanged: not started either way
    ]
    summary = plan_import(current, imported)
    assert (summary.done, summary.skipped, summary.in_progress) == ((7,), (5,), (6,))
    assert (summary.cleared, summary.notes, summary.unchanged) == ((2,), (3, 4), 2)
    assert summary.changes == 6
    # What a confirm applies is exactly the previewed difference, never the unchanged lines of the file.
    assert [i.step for i in summary.items] == [2, 3, 4, 5, 6, 7]
    assert summary.still_current(current)
    assert summary.still_current({**current, 8: StepState(8, Status.DONE, None, T2, T2)})  # not previewed
    assert not summary.still_current({**current, 7: StepState(7, Status.DONE, None, T2, T2)})
    assert not summary.still_current({k: v for k, v in current.items() if k != 3})


@pytest.mark.parametrize(("value", "fragment"), [
    ("0001-01-01T00:00:00+01:00", "line 2: `0001-01-01T00:00:00+01:00` is not a date"),
    ("9999-12-31T23:59:59-12:00", "line 2: `9999-12-31T23:59:59-12:00` is not a date"),
    ("0001-01-01", "line 2: the done date 0001-01-01 is before 2000-01-01"),
    ("1999-12-31T23:59:59Z", "line 2: the done date 1999-12-31T23:59:59Z is before 2000-01-01"),
    ("2000-01-01T05:00:00+06:00", "is before 2000-01-01"),  # 1999-12-31T23:00Z
    ("9999-12-31", "line 2: the done date 9999-12-31 is in the future"),
    ("2026-02-02T12:00:01Z", "line 2: the done date 2026-02-02T12:00:01Z is in the future"),  # now + 1 day + 1 s
])
def test_done_dates_outside_2000_to_a_day_ahead_are_refused_with_their_line(value: str, fragment: str) -> None:
    """Before: the first two raised OverflowError (an internal error), and 0001-01-01 was imported."""
    with pytest.raises(UserError) as caught:
        parse_export(PLAN, bad(line(1, "x"), f"  - done: {value}"), NOW)
    assert fragment in caught.value.message
    assert "nothing was imported" in caught.value.message


@pytest.mark.parametrize("value", ["2000-01-01", "2000-01-01T00:00:00Z", "2026-02-02T12:00:00Z",
                                   "2026-02-02T23:00:00+11:00"])
def test_done_dates_from_2000_to_a_day_ahead_are_accepted(value: str) -> None:
    [step] = parse_export(PLAN, bad(line(1, "x"), f"  - done: {value}"), NOW)
    assert step.done_at == parse_instant(value)


# ---------------------------------------------------------------- the header names the plan (format 2)

def test_the_header_names_the_plan_its_id_and_version() -> None:
    text = format_export(PLAN, STATES, "alice", "Study Hall", NOW, plan_id=3, version=2, track="Back--end")
    assert text.splitlines()[2:4] == [
        "<!-- stepwise progress export v2 plan=3 version=2 -->",
        f"<!-- plan “{PLAN.title}”, version 2, track “Back- -end” -->",  # `--` would end the comment
    ]
    assert export_origin(text.encode()) == ExportOrigin(2, 3, 2, PLAN.title)
    assert len(parse_export(PLAN, text.encode(), NOW)) == PLAN.total  # the header is not a problem


def test_a_format_1_file_is_the_bundled_plans_and_a_hand_made_one_claims_none() -> None:
    text = format_export(PLAN, STATES, "alice", "Study Hall", NOW).replace(
        "<!-- stepwise progress export v2 plan=0 version=1 -->", "<!-- stepwise progress export v1 -->")
    assert export_origin(text.encode()) == ExportOrigin(1, 0, None, PLAN.title)
    assert len(parse_export(PLAN, text.encode(), NOW)) == PLAN.total
    assert export_origin(f"{line(1, 'x')}\n<!-- stepwise progress export v2 plan=4 version=1 -->".encode()) is None
    assert export_origin(b"") is None
    with pytest.raises(UserError, match="not UTF-8"):
        export_origin(b"\xff\xfe\x00")


def test_a_step_number_of_thousands_of_digits_is_a_clear_problem() -> None:
    data = ("- [x] " + "9" * 5000 + ". Huge (x)\n").encode()
    with pytest.raises(UserError, match="line 1: the step number 999999999999… is too long"):
        parse_export(PLAN, data, NOW)
    marker = ("<!-- stepwise progress export v2 plan=" + "7" * 5000 + " version=1 -->\n").encode()
    assert export_origin(marker) is None  # an unreadable marker claims no plan

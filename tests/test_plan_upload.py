"""Uploaded plans: every limit at its boundary, encodings, line numbers, all problems at once, plan names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.domain.errors import UserError
from bot.domain.plan import PlanError, bundled_plan_path, load_plan
from bot.domain.plan_upload import (
    MAX_BYTES,
    MAX_EXERCISE,
    MAX_NAME,
    MAX_PHASE_NAME,
    MAX_PLAN_TITLE,
    MAX_STEPS,
    MAX_TITLE,
    name_key,
    preview,
    validate_name,
    validate_text,
    validate_upload,
)

TOO_BIG = "the file is 262,145 bytes (256.0 KB); a plan file is at most 262,144 bytes (256.0 KB)"
BAD = b"\xe9"  # Latin-1 é, not UTF-8
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example-plan.md"


def plan_text(steps: int = 3, *, title: str = "Plan", phase: str | None = None, step_title: str = "Topic",
              exercise: str = "Do it") -> str:
    lines = [f"# {title}"] if title else []
    if phase is not None:
        lines.append(f"## {phase}")
    lines += [f"- [ ] {n}. {step_title} {n} ({exercise})" for n in range(1, steps + 1)]
    return "\n".join(lines) + "\n"


def problems_of(data: bytes | str, filename: str | None = "plan.md") -> list[tuple[int, str]]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(PlanError) as caught:
        validate_upload(raw, filename)
    return caught.value.problems


def test_the_bundled_plan_and_the_example_plan_pass() -> None:
    bundled = validate_upload(bundled_plan_path().read_bytes(), "backend-learning-plan.md")
    assert bundled == load_plan()
    example = validate_upload(EXAMPLE.read_bytes(), EXAMPLE.name)
    assert 18 <= example.total <= 24
    assert 3 <= len(example.phases) <= 4
    assert example.title == "Frontend Learning Plan"
    assert all(not phase.name.startswith("Steps ") for phase in example.phases)


def test_a_preview_names_phases_ranges_counts_and_the_first_and_last_steps() -> None:
    summary = preview(validate_upload(EXAMPLE.read_bytes(), EXAMPLE.name))
    assert summary.steps == 21
    assert [(p.number, p.range_label, p.count) for p in summary.phases] == [
        (1, "1–6", 6), (2, "7–10", 4), (3, "11–15", 5), (4, "16–21", 6)]
    assert summary.phases[0].name == "HTML and CSS foundations"
    assert (summary.first.number, summary.last.number) == (1, 21)
    assert summary.last.title.startswith("Final project")


# --- limits, at the boundary and one past it -------------------------------------------------------------

def test_max_steps_passes_and_one_more_is_reported_on_its_line() -> None:
    assert validate_text(plan_text(MAX_STEPS)).total == MAX_STEPS
    problems = problems_of(plan_text(MAX_STEPS + 1))
    assert problems == [(MAX_STEPS + 2, f"a plan has at most {MAX_STEPS} steps; this file has {MAX_STEPS + 1} "
                                        f"(step {MAX_STEPS + 1} is the first one too many)")]


def _padded_to(size: int) -> bytes:
    """A valid plan of exactly `size` bytes (blank lines are skipped by the parser)."""
    data = plan_text(3).encode("utf-8")
    return data + b"\n" * (size - len(data))


def test_max_bytes_passes_and_one_byte_more_is_refused_before_decoding() -> None:
    assert validate_upload(_padded_to(MAX_BYTES), "plan.md").total == 3
    assert problems_of(_padded_to(MAX_BYTES + 1)) == [(0, TOO_BIG)]
    # Not decoded: bytes that are not UTF-8 in a file too big go unreported, and so does a bad structure.
    too_big = b"\xff" + b"nonsense\n" * (MAX_BYTES // 9) + b"n" * (MAX_BYTES % 9)
    assert problems_of(too_big, "plan.pdf") == [
        (0, TOO_BIG),
        (0, "'plan.pdf' is not a Markdown file: the name should end in .md, .markdown or .txt"),
    ]


@pytest.mark.parametrize(
    ("limit", "make", "line", "what"),
    [
        (MAX_TITLE, lambda n: f"# P\n\n- [ ] 1. {'t' * n} (e)\n", 3, "the title of step 1"),
        (MAX_EXERCISE, lambda n: f"# P\n- [ ] 1. T ({'e' * n})\n", 2, "the exercise of step 1"),
        (MAX_PHASE_NAME, lambda n: f"# P\n## {'p' * n}\n- [ ] 1. T (e)\n", 2,
         f"the name of phase '{'p' * 40}'"),
        (MAX_PLAN_TITLE, lambda n: f"\n# {'t' * n}\n- [ ] 1. T (e)\n", 2, "the plan title"),
    ],
    ids=["step title", "exercise", "phase name", "plan title"],
)
def test_text_limits_at_the_boundary_and_one_past(limit: int, make: Callable[[int], str], line: int,
                                                  what: str) -> None:
    plan = validate_upload(make(limit).encode("utf-8"), "plan.md")
    assert plan.total == 1
    assert problems_of(make(limit + 1)) == [(line, f"{what} is {limit + 1} characters; at most {limit}")]


def test_lengths_count_characters_not_bytes() -> None:
    title = "é" * MAX_TITLE  # 400 bytes in UTF-8
    assert validate_upload(f"- [ ] 1. {title} (e)".encode(), "plan.md").step(1).title == title


def test_a_control_character_in_a_title_is_reported() -> None:
    assert problems_of("- [ ] 1. Bell\x07 here (e)\n- [ ] 2. Tab\tis fine (e)") == [
        (1, "the title of step 1 contains a control character (U+0007)")]


# --- encodings ---------------------------------------------------------------------------------------------

def test_bytes_that_are_not_utf8_are_named_by_line_and_offset_and_the_rest_is_still_checked() -> None:
    data = b"# Plan\n- [ ] 1. A (a)\n" + b"- [ ] 2. Caf\xe9 (b)\n" + b"- [ ] 2. Again (c)\n"
    assert problems_of(data) == [
        (3, f"not UTF-8 text: byte 0xE9 at offset {data.index(BAD)} is not valid UTF-8; save the file as UTF-8"),
        (4, "step 2 is a duplicate (first on line 3)"),
    ]


def test_one_problem_per_line_with_bad_bytes_at_the_first_bad_byte() -> None:
    data = b"- [ ] 1. \xff\xfe (a)\n- [ ] 2. ok (b)\n- [ ] 3. x\x80 (c)\n"
    assert [(line, message.split(" at ")[0]) for line, message in problems_of(data)] == [
        (1, "not UTF-8 text: byte 0xFF"), (3, "not UTF-8 text: byte 0x80")]


def test_a_utf8_bom_is_fine_and_counted_in_offsets() -> None:
    bom = b"\xef\xbb\xbf"
    assert validate_upload(bom + plan_text(2).encode(), "plan.md").title == "Plan"
    problems = problems_of(bom + b"- [ ] 1. \xe9 (a)")
    assert problems == [(1, "not UTF-8 text: byte 0xE9 at offset 12 is not valid UTF-8; save the file as UTF-8")]


def test_utf16_and_binary_files_are_one_problem() -> None:
    assert problems_of(plan_text(2).encode("utf-16")) == [
        (0, "the file is UTF-16 text; save it as UTF-8 (most editors: Save as… → Encoding)")]
    assert problems_of(b"# Plan\n- [ ] 1. A (a)\n\x00\x01\x02PK") == [
        (3, "this is not a text file (a NUL byte at offset 22); upload the Markdown file itself, not a document "
            "or an archive")]


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf", b"# Just a title\n"])
def test_a_file_without_steps(data: bytes) -> None:
    assert problems_of(data) == [(0, "the plan has no steps")]


# --- file names ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["plan.md", "PLAN.MD", "frontend.markdown", "notes.txt", None])
def test_accepted_file_names(filename: str | None) -> None:
    assert validate_upload(plan_text(1).encode(), filename).total == 1


@pytest.mark.parametrize("filename", ["plan.pdf", "plan", "plan.md.exe", ".md.docx"])
def test_other_file_names_are_a_whole_file_problem(filename: str) -> None:
    assert problems_of(plan_text(1), filename) == [
        (0, f"'{filename}' is not a Markdown file: the name should end in .md, .markdown or .txt")]


# --- structure, with line numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- [ ] 1. A (a)\n- [ ] 1. B (b)\n", [(2, "step 1 is a duplicate (first on line 1)")]),
        ("- [ ] 1. A (a)\n\n- [ ] 4. D (d)\n", [(3, "step 4 follows step 1: step 2–3 is missing")]),
        ("- [ ] 1. A (a)\n- [ ] 3. C (c)\n- [ ] 2. B (b)\n",
         [(2, "step 3 follows step 1: step 2 is missing"), (3, "step 2 is out of order (expected 4)")]),
        ("- [ ] 2. B (b)\n", [(1, "step 2 follows step 0: step 1 is missing")]),
        ("- [ ] 1. A\n", [(1, "step 1 has no '(Exercise)' in parentheses at the end")]),
        ("- [ ] 1. A (a)\nprose\n", [(2, "not a step line (expected '- [ ] N. Title (Exercise)'): prose")]),
        ("## One\n- [ ] 1. A (a)\n## Two\n## Three\n- [ ] 2. B (b)\n", [(3, "phase 'Two' has no steps")]),
    ],
    ids=["duplicate", "missing", "out of order", "not from 1", "no exercise", "prose", "empty phase"],
)
def test_structure_problems_carry_their_line(text: str, expected: list[tuple[int, str]]) -> None:
    assert problems_of(text) == expected


def test_every_problem_is_reported_together_in_line_order() -> None:
    text = ("# Plan\n"
            "- [ ] 1. A (a)\n"
            "nonsense\n"
            f"- [ ] 2. {'x' * (MAX_TITLE + 1)} (b)\n"
            "- [ ] 2. Again (c)\n"
            "## Empty\n"
            "## Full\n"
            "- [ ] 4. D (d)\n")
    data = text.encode() + b"- [ ] 5. \xe9 (e)\n"
    assert problems_of(data, "plan.doc") == [
        (0, "'plan.doc' is not a Markdown file: the name should end in .md, .markdown or .txt"),
        (2, "steps appear before the first '## Phase' heading"),
        (3, "not a step line (expected '- [ ] N. Title (Exercise)'): nonsense"),
        (4, f"the title of step 2 is {MAX_TITLE + 1} characters; at most {MAX_TITLE}"),
        (5, "step 2 is a duplicate (first on line 4)"),
        (6, "phase 'Empty' has no steps"),
        (8, "step 4 follows step 2: step 3 is missing"),
        (9, f"not UTF-8 text: byte 0xE9 at offset {data.index(BAD)} is not valid UTF-8; save the file as UTF-8"),
    ]


def test_a_step_number_with_thousands_of_digits_is_a_problem_not_a_crash() -> None:
    assert problems_of(f"- [ ] 1. A (a)\n- [ ] {'9' * 5000}. B (b)\n") == [(2, "step number 999999… is too large")]
    assert validate_text("- [ ] 001. A (a)\n").step(1).title == "A"


def test_lines_of_spaces_are_read_in_linear_time() -> None:
    """Each of these lines took minutes to hours with the earlier patterns (quadratic and cubic backtracking)."""
    spaces = " " * 50_000
    text = f"# T{spaces}x\n## P{spaces}x ##\n- [ ] 1. A{spaces}b (e{spaces}f)\n"
    length = len(spaces) + 2
    assert problems_of(text) == [
        (1, f"the plan title is {length} characters; at most {MAX_PLAN_TITLE}"),
        (2, f"the name of phase 'P{spaces[:39]}' is {length} characters; at most {MAX_PHASE_NAME}"),
        (3, f"the title of step 1 is {length} characters; at most {MAX_TITLE}"),
        (3, f"the exercise of step 1 is {length} characters; at most {MAX_EXERCISE}"),
    ]


# --- the CLI reports what validate_upload reports ----------------------------------------------------------

def _cli_problems(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines()[1:]]


def test_check_plan_and_validate_upload_agree_on_a_bad_file(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.markdown"
    bad.write_bytes(f"# {'T' * (MAX_PLAN_TITLE + 1)}\n- [ ] 1. A (a)\n- [ ] 3. C\n- [ ] 3. D ({'e' * 1001})\n"
                    .encode() + b"- [ ] 4. \xe9 (x)\n")
    assert main(["check-plan", str(bad)]) == 1
    err = capsys.readouterr().err
    expected = problems_of(bad.read_bytes(), bad.name)
    assert err.splitlines()[0] == f"{bad}: {len(expected)} problem(s)"
    assert _cli_problems(err) == [f"line {line}: {message}" if line else message for line, message in expected]
    assert len(expected) == 5


def test_check_plan_refuses_a_file_name_uploads_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(plan_text(2), encoding="utf-8")
    assert main(["check-plan", str(bad)]) == 1
    assert _cli_problems(capsys.readouterr().err) == [problems_of(plan_text(2), "plan.json")[0][1]]


def test_check_plan_accepts_the_example_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-plan", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.startswith("Frontend Learning Plan: 21 steps in 4 phases")


# --- plan names --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "expected"),
    [("Frontend", "Frontend"), ("  Front   end  ", "Front end"), ("x", "x"), ("é" * MAX_NAME, "é" * MAX_NAME),
     ("**Bold** @everyone", "**Bold** @everyone")],
)
def test_valid_names_come_back_clean(name: str, expected: str) -> None:
    assert validate_name(name) == expected


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "Give the plan a name"),
        ("   ", "Give the plan a name"),
        ("\u200b\u200b", "Give the plan a name"),
        ("a" * (MAX_NAME + 1), f"That name is {MAX_NAME + 1} characters; a plan name has at most {MAX_NAME}"),
        (" " + "a" * MAX_NAME + " ", None),
        ("two\nlines", "one line of text"),
        ("tab\there", "one line of text"),
        ("bell\x07", "one line of text"),
        ("para\u2029graph", "one line of text"),
    ],
)
def test_invalid_names(name: str, fragment: str | None) -> None:
    if fragment is None:
        assert validate_name(name) == "a" * MAX_NAME
        return
    with pytest.raises(UserError) as caught:
        validate_name(name)
    assert fragment in caught.value.message


def test_name_keys_ignore_case_spacing_and_unicode_forms() -> None:
    assert name_key("Frontend") == name_key("FRONTEND") == name_key("  frontend ")
    assert name_key("Front  End") == name_key("front end")
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("Café") == name_key("Cafe\u0301")
    assert name_key("ＦＲＯＮＴ") == name_key("front")
    assert name_key("Frontend") != name_key("Front end")
    assert name_key(validate_name("  Back   End ")) == name_key("back end")

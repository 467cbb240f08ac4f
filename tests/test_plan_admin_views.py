"""The embeds of uploaded plans: within Discord's limits for the biggest plans and longest lists, text escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest

from bot.domain.plan import Plan, PlanError
from bot.domain.plan_upload import (
    MAX_EXERCISE,
    MAX_NAME,
    MAX_PHASE_NAME,
    MAX_PLAN_TITLE,
    MAX_PLANS,
    MAX_STEPS,
    MAX_TITLE,
    PlanListing,
    diff_plans,
    validate_text,
    validate_upload,
)
from bot.ui.plan_admin_views import (
    EMBED_DESCRIPTION,
    EMBED_FIELDS,
    EMBED_TITLE,
    EMBED_TOTAL,
    FIELD_NAME,
    FIELD_VALUE,
    clip,
    number_ranges,
    plans_list_embed,
    upload_preview_embed,
    upload_problems_embed,
)
from bot.ui.plan_views import escape

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example-plan.md"
HOSTILE = "**bold** @everyone"


def assert_within_limits(embed: discord.Embed) -> None:
    assert embed.title is None or 0 < len(embed.title) <= EMBED_TITLE
    assert embed.description is None or len(embed.description) <= EMBED_DESCRIPTION
    assert len(embed.fields) <= EMBED_FIELDS
    for field in embed.fields:
        assert field.name
        assert field.value
        assert len(field.name) <= FIELD_NAME
        assert len(field.value) <= FIELD_VALUE
    assert embed.footer.text is None or len(embed.footer.text) <= 2048
    assert len(embed) <= EMBED_TOTAL


def biggest_plan(char: str = "*", *, headings: bool = True, steps: int = MAX_STEPS) -> Plan:
    """A plan at every limit, of a character Markdown escaping doubles: a phase per step when `headings`."""
    lines = [f"# {char * MAX_PLAN_TITLE}"]
    for number in range(1, steps + 1):
        if headings:
            lines.append(f"## {char * (MAX_PHASE_NAME - 4)}{number:04d}")
        lines.append(f"- [ ] {number}. {char * MAX_TITLE} ({char * MAX_EXERCISE})")
    return validate_text("\n".join(lines))


@pytest.mark.parametrize("headings", [True, False], ids=["500 phases", "phases of ten"])
def test_a_new_plan_of_500_steps_fits(headings: bool) -> None:
    plan = biggest_plan(headings=headings)
    embed = upload_preview_embed(plan, "*" * MAX_NAME, version=1, diff=None, affected_members=None)
    assert_within_limits(embed)
    names = [field.name for field in embed.fields]
    assert names[0] == "Phases"
    assert names[-2:] == ["First step", "Last step"]
    phases_text = "\n".join(field.value for field in embed.fields if field.name.startswith("Phases"))
    assert phases_text.splitlines()[-1].startswith("… and ")
    assert phases_text.splitlines()[-1].endswith(" more phases")
    assert "500 steps" in (embed.description or "")


def test_an_update_of_500_steps_all_changed_fits() -> None:
    old = biggest_plan("*", headings=True)
    new = biggest_plan("_", headings=False)
    diff = diff_plans(old, new)
    embed = upload_preview_embed(new, "_" * MAX_NAME, version=12, diff=diff, affected_members=10**6)
    assert_within_limits(embed)
    changed = next(field for field in embed.fields if field.name.startswith("Changed: 500 steps"))
    assert changed.value.splitlines()[-1].startswith("… and ")


def test_an_update_removing_250_steps_fits_and_says_progress_is_archived() -> None:
    old = biggest_plan("*")
    new = biggest_plan("_", steps=250)
    embed = upload_preview_embed(new, "x", version=2, diff=diff_plans(old, new), affected_members=37)
    assert_within_limits(embed)
    removed = next(field for field in embed.fields if field.name == "Removed: 250 steps")
    assert removed.value.startswith("Steps 251–500\n")
    assert "37 members have progress on them" in removed.value
    assert "archived, not deleted" in removed.value
    assert "comes back" in removed.value
    assert embed.colour == discord.Colour(0xFAA61A)


def test_a_new_plan_preview_lists_phases_steps_and_the_first_and_last_step() -> None:
    plan = validate_upload(EXAMPLE.read_bytes(), EXAMPLE.name)
    embed = upload_preview_embed(plan, "Frontend", version=1, diff=None, affected_members=None)
    assert_within_limits(embed)
    assert embed.title == "Add the plan “Frontend”?"
    assert "**Frontend Learning Plan**: 21 steps in 4 phases." in (embed.description or "")
    assert "version 1" in (embed.description or "")
    fields = {field.name: field.value for field in embed.fields}
    assert fields["Phases"].splitlines() == [
        "**1.** HTML and CSS foundations · steps 1–6 (6)",
        "**2.** Responsive and accessible pages · steps 7–10 (4)",
        "**3.** JavaScript in the browser · steps 11–15 (5)",
        "**4.** Frameworks, tests and shipping · steps 16–21 (6)",
    ]
    assert fields["First step"].startswith("**1.** How a browser turns HTML, CSS and JavaScript into a page\n")
    assert fields["Last step"].startswith("**21.** Final project: a small app from design to deployment\n")


def test_an_update_preview_says_what_changes() -> None:
    old = validate_upload(EXAMPLE.read_bytes(), EXAMPLE.name)
    text = EXAMPLE.read_text(encoding="utf-8")
    last = next(line for line in text.splitlines() if line.startswith("- [ ] 21."))
    new = validate_text(text.replace(last + "\n", "").replace("5. Flexbox (", "5. Flexbox layouts (")
                        .replace("## Frameworks, tests and shipping", "## Frameworks and shipping"))
    embed = upload_preview_embed(new, "Frontend", version=2, diff=diff_plans(old, new), affected_members=1)
    assert_within_limits(embed)
    assert embed.title == "Update “Frontend” to version 2?"
    assert "removes 1 step and changes 1 step" in (embed.description or "")
    fields = {field.name: field.value for field in embed.fields}
    assert fields["Removed: 1 step"].startswith("Step 21\n1 member has progress on them. It is archived")
    assert fields["Changed: 1 step"] == "**5.** Flexbox → Flexbox layouts"
    assert fields["Phases"].splitlines() == ["Phase 4: Frameworks, tests and shipping → Frameworks and shipping",
                                             "Phase 4 now has steps 16–20"]

    back = upload_preview_embed(old, "Frontend", version=3, diff=diff_plans(new, old), affected_members=None)
    fields = {field.name: field.value for field in back.fields}
    assert fields["Added: 1 step"].startswith("Step 21\n")
    assert "comes back" in fields["Added: 1 step"]
    assert back.colour == discord.Colour(0x5B8DEF)


def test_an_exercise_change_and_a_removal_nobody_started() -> None:
    old = validate_text("- [ ] 1. A (a)\n- [ ] 2. B (b)\n- [ ] 3. C (c)\n")
    new = validate_text("- [ ] 1. A (a, again)\n- [ ] 2. B2 (b2)\n")
    embed = upload_preview_embed(new, "n", version=2, diff=diff_plans(old, new), affected_members=0)
    fields = {field.name: field.value for field in embed.fields}
    assert fields["Removed: 1 step"] == "Step 3\nNo member has progress on them."
    assert fields["Changed: 2 steps (1 retitled)"].splitlines() == ["**1.** A: new exercise",
                                                                   "**2.** B → B2 (and its exercise)"]
    assert embed.colour == discord.Colour(0x5B8DEF)  # nobody loses anything


def test_an_identical_file_says_there_is_nothing_to_update() -> None:
    plan = validate_upload(EXAMPLE.read_bytes(), EXAMPLE.name)
    embed = upload_preview_embed(plan, "Frontend", version=2, diff=diff_plans(plan, plan), affected_members=0)
    assert "nothing to update" in (embed.description or "")
    assert embed.fields == []


def test_300_problems_fit_with_the_rest_counted() -> None:
    problems = [(line, "not a step line (expected '- [ ] N. Title (Exercise)'): " + "*" * 60)
                for line in range(1, 301)]
    embed = upload_problems_embed("*" * 300 + ".md", problems)
    assert_within_limits(embed)
    lines = (embed.description or "").splitlines()
    assert lines[0].startswith("line 1: not a step line")
    assert lines[-1] == f"… and {300 - (len(lines) - 1)} more"
    assert all(line.startswith(f"line {n}: ") for n, line in enumerate(lines[:-1], start=1))
    assert "300 problems" in (embed.title or "")


def test_problems_of_a_real_file_are_listed_with_their_lines() -> None:
    with pytest.raises(PlanError) as caught:
        validate_upload(b"- [ ] 1. A (a)\n- [ ] 1. B (b)\n@everyone **hi**\n", "plan.txt.pdf")
    embed = upload_problems_embed("plan.txt.pdf", caught.value.problems)
    assert_within_limits(embed)
    assert (embed.description or "").splitlines() == [
        "'plan.txt.pdf' is not a Markdown file: the name should end in .md, .markdown or .txt",
        "line 2: step 1 is a duplicate (first on line 1)",
        "line 3: not a step line (expected '- \\[ ] N. Title (Exercise)'): @\u200beveryone \\*\\*hi\\*\\*",
    ]
    assert embed.title == "plan.txt.pdf cannot be used: 3 problems"


def test_names_and_titles_are_shown_as_text() -> None:
    plan = validate_text(f"# {HOSTILE}\n## {HOSTILE}\n- [ ] 1. {HOSTILE} ({HOSTILE})\n")
    embed = upload_preview_embed(plan, HOSTILE, version=1, diff=None, affected_members=None)
    shown = "\\*\\*bold\\*\\* @\u200beveryone"
    assert embed.title == f"Add the plan “{shown}”?"
    assert (embed.description or "").startswith(f"**{shown}**: 1 step in 1 phase.")
    everything = "\n".join([embed.title or "", embed.description or "",
                            *(f"{f.name}\n{f.value}" for f in embed.fields)])
    assert "**bold**" not in everything
    assert "@everyone" not in everything
    assert everything.count(shown) == 6  # title, description twice, the phase, the step's title and exercise


def test_markdown_inside_brackets_is_escaped_too() -> None:
    """discord.utils.escape_markdown alone left `**x**` live between `[` and `](…)`."""
    assert escape("[ **x** [a](b)") == "\\[ \\*\\*x\\*\\* \\[a](b)"
    assert escape("[a](https://example.com)") == "\\[a](https://example.com)"


def test_the_plan_list_shows_versions_members_and_relative_upload_times() -> None:
    uploaded = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    entries = [PlanListing("Backend Learning Plan", None, 80, 40, False, None, True),
               PlanListing(HOSTILE, 3, 21, 12, True, uploaded, False),
               PlanListing("Data", 1, 1, 1, False, uploaded, False)]
    embed = plans_list_embed(entries)
    assert_within_limits(embed)
    shown = "\\*\\*bold\\*\\* @\u200beveryone"
    assert (embed.description or "").startswith(f"Default plan: **{shown}**.\n2 of {MAX_PLANS} uploaded plans.")
    assert [(field.name, field.value) for field in embed.fields] == [
        ("Backend Learning Plan", "Built in · 80 steps · 40 members with progress"),
        (f"⭐ {shown} (default)",
         f"Version 3 · 21 steps · 12 members with progress · uploaded <t:{int(uploaded.timestamp())}:R>"),
        ("Data", f"Version 1 · 1 step · 1 member with progress · uploaded <t:{int(uploaded.timestamp())}:R>"),
    ]


def test_a_full_plan_list_fits() -> None:
    uploaded = datetime(2025, 3, 1, tzinfo=UTC)
    entries = [PlanListing("Backend Learning Plan", None, 80, 10**6, False, None, True)]
    entries += [PlanListing("*" * MAX_NAME, 10**6, MAX_STEPS, 10**6, n == 3, uploaded, False)
                for n in range(MAX_PLANS)]
    assert_within_limits(plans_list_embed(entries))
    assert_within_limits(plans_list_embed([]))


def test_clip_and_number_ranges() -> None:
    assert clip("abcdef", 6) == "abcdef"
    assert clip("abcdef", 4) == "abc…"
    assert clip("ab\\*cd", 4) == "ab…"  # never ends on the backslash that escapes the cut character
    assert number_ranges([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7, 8"
    assert number_ranges(list(range(1, 200, 2)), limit=3) == "1, 3, 5 … (+97 more)"

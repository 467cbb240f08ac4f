"""What a new version of a plan changes: steps added, removed, retitled or given a new exercise; phases."""

from __future__ import annotations

from bot.domain.plan import load_plan, parse_plan
from bot.domain.plan_upload import PhaseRename, StepChange, diff_plans

OLD_TEXT = """# Frontend
## Basics
- [ ] 1. HTML (Write a page)
- [ ] 2. CSS (Style it)
## JavaScript
- [ ] 3. DOM (Add a button)
- [ ] 4. Fetch (Call an API)
"""
OLD = parse_plan(OLD_TEXT)


def test_the_same_plan_is_unchanged() -> None:
    diff = diff_plans(OLD, parse_plan(OLD_TEXT.replace("\n", "\n\n")))  # blank lines change nothing
    assert diff.unchanged
    assert (diff.added, diff.removed, diff.changed, diff.renamed_phases, diff.regrouped_phases) == ((),) * 5
    assert diff.kept == 4
    assert diff_plans(load_plan(), load_plan()).unchanged


def test_added_and_removed_steps_by_number() -> None:
    shorter = parse_plan("# Frontend\n## Basics\n- [ ] 1. HTML (Write a page)\n- [ ] 2. CSS (Style it)\n")
    diff = diff_plans(OLD, shorter)
    assert (diff.added, diff.removed, diff.kept) == ((), (3, 4), 2)
    assert not diff.unchanged
    assert diff.phases_changed  # 2 -> 1 phases
    assert (diff.old_phase_count, diff.new_phase_count) == (2, 1)

    longer = diff_plans(shorter, OLD)
    assert (longer.added, longer.removed) == ((3, 4), ())


def test_a_new_title_an_exercise_change_and_both_are_told_apart() -> None:
    new = parse_plan("""# Frontend
## Basics
- [ ] 1. HTML5 (Write a page)
- [ ] 2. CSS (Style it with Flexbox)
## JavaScript
- [ ] 3. The DOM (Add two buttons)
- [ ] 4. Fetch (Call an API)
""")
    diff = diff_plans(OLD, new)
    assert diff.changed == (
        StepChange(1, "HTML", "HTML5", "Write a page", "Write a page"),
        StepChange(2, "CSS", "CSS", "Style it", "Style it with Flexbox"),
        StepChange(3, "DOM", "The DOM", "Add a button", "Add two buttons"),
    )
    assert [change.what for change in diff.changed] == ["title", "exercise", "title and exercise"]
    assert [change.number for change in diff.retitled] == [1, 3]
    assert (diff.added, diff.removed) == ((), ())
    assert not diff.phases_changed
    assert not diff.unchanged


def test_renamed_and_regrouped_phases_and_the_plan_title() -> None:
    new = parse_plan("""# Frontend track
## HTML and CSS
- [ ] 1. HTML (Write a page)
- [ ] 2. CSS (Style it)
- [ ] 3. DOM (Add a button)
## JavaScript
- [ ] 4. Fetch (Call an API)
""")
    diff = diff_plans(OLD, new)
    assert diff.renamed_phases == (PhaseRename(1, "Basics", "HTML and CSS"),)
    assert diff.regrouped_phases == (1, 2)
    assert diff.title_changed
    assert (diff.old_title, diff.new_title) == ("Frontend", "Frontend track")
    assert diff.changed == ()
    assert diff.phases_changed
    assert not diff.unchanged


def test_only_the_title_changed_is_a_change() -> None:
    retitled = parse_plan("# Web\n## Basics\n- [ ] 1. HTML (Write a page)\n- [ ] 2. CSS (Style it)\n"
                          "## JavaScript\n- [ ] 3. DOM (Add a button)\n- [ ] 4. Fetch (Call an API)\n")
    diff = diff_plans(OLD, retitled)
    assert diff.title_changed
    assert not diff.phases_changed
    assert not diff.unchanged


def test_phases_without_headings_follow_the_steps() -> None:
    ten = parse_plan("\n".join(f"- [ ] {n}. S{n} (E{n})" for n in range(1, 11)))
    twelve = parse_plan("\n".join(f"- [ ] {n}. S{n} (E{n})" for n in range(1, 13)))
    diff = diff_plans(ten, twelve)
    assert diff.added == (11, 12)
    assert (diff.old_phase_count, diff.new_phase_count) == (1, 2)
    assert diff.renamed_phases == ()  # "Steps 1–10" both times


def test_progress_is_keyed_by_number_so_a_renumbered_step_is_removed_and_added() -> None:
    """Moving 'Fetch' from 4 to 5 (a new step 4 before it) changes step 4 and adds step 5: progress on
    number 4 stays with number 4, whatever its title now is."""
    new = parse_plan("# Frontend\n## Basics\n- [ ] 1. HTML (Write a page)\n- [ ] 2. CSS (Style it)\n"
                     "## JavaScript\n- [ ] 3. DOM (Add a button)\n- [ ] 4. Events (Handle a click)\n"
                     "- [ ] 5. Fetch (Call an API)\n")
    diff = diff_plans(OLD, new)
    assert diff.added == (5,)
    assert diff.removed == ()
    assert [(c.number, c.old_title, c.new_title, c.what) for c in diff.changed] == [
        (4, "Fetch", "Events", "title and exercise")]
    assert diff.regrouped_phases == (2,)

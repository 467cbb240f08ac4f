"""Embeds for the server's own plans: the upload preview, the problems of a rejected file, the plan list.

Everything here is text an admin wrote (plan names, titles, phase names, file names): it is shown escaped,
as text. Every embed stays within Discord's limits whatever the plan (see the EMBED_* constants).
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.plan import Plan, Step
from bot.domain.plan_upload import MAX_PLANS, PlanDiff, PlanListing, StepChange, preview
from bot.ui.data_views import DANGER
from bot.ui.plan_views import BRAND, escape
from bot.ui.reminders import PAUSED as WARNING

EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
EMBED_TOTAL = 6000
PHASE_FIELDS = 2  # the preview lists phases in at most this many fields, then "… and N more phases"
MAX_LISTED_NUMBERS = 40
RETURNING = "Progress archived when a version removed these step numbers comes back."


def clip(text: str, limit: int) -> str:
    """text cut to at most `limit` characters, ending in '…' when cut (never on a lone escaping backslash)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + "…"


def number_ranges(numbers: Sequence[int], limit: int = MAX_LISTED_NUMBERS) -> str:
    """Ascending step numbers as '1–4, 7, 9–12', at most `limit` ranges, then '… (+N more)'."""
    ranges: list[tuple[int, int]] = []
    for number in numbers:
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    shown = ", ".join(f"{a}–{b}" if b > a + 1 else (f"{a}, {b}" if b == a + 1 else str(a)) for a, b in ranges[:limit])
    hidden = sum(b - a + 1 for a, b in ranges[limit:])
    return shown + (f" … (+{hidden} more)" if hidden else "")


def steps_label(numbers: Sequence[int]) -> str:
    """'Step 4' or 'Steps 3–5, 9'."""
    return f"Step{'s' if len(numbers) != 1 else ''} {number_ranges(numbers)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _fitting(lines: Sequence[str], limit: int) -> int:
    """How many of the first lines, joined by newlines, fit in `limit` (at least one)."""
    used, count = -1, 0
    for line in lines:
        used += len(line) + 1
        if used > limit and count:
            break
        count += 1
    return count


def _lines_within(lines: Sequence[str], limit: int, more: str = "… and {n} more") -> str:
    """Whole lines joined by newlines within `limit`: as many as fit beside a last line '… and N more'."""
    joined = "\n".join(lines)
    if len(joined) <= limit:
        return joined
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        after = len(lines) - index - 1  # lines hidden if this one is the last shown
        candidate = used + (1 if kept else 0) + len(line)
        if candidate + (1 + len(more.format(n=after)) if after else 0) > limit:
            break
        kept.append(line)
        used = candidate
    return "\n".join([*kept, more.format(n=len(lines) - len(kept))])


def _step_value(step: Step) -> str:
    return clip(f"**{step.number}.** {escape(step.title)}\nExercise: {escape(step.exercise)}", FIELD_VALUE)


def _phase_fields(embed: discord.Embed, plan: Plan) -> None:
    lines = [clip(f"**{p.number}.** {escape(p.name)} · steps {p.range_label} ({p.count})", 300)
             for p in preview(plan).phases]
    for index in range(PHASE_FIELDS):
        if not lines:
            return
        if index == PHASE_FIELDS - 1:
            value, lines = _lines_within(lines, FIELD_VALUE, "… and {n} more phases"), []
        else:
            count = _fitting(lines, FIELD_VALUE)
            value, lines = "\n".join(lines[:count]), lines[count:]
        embed.add_field(name="Phases" if index == 0 else "Phases (continued)", value=value, inline=False)


def _change_line(change: StepChange) -> str:
    if change.title_changed:
        line = f"**{change.number}.** {escape(change.old_title)} → {escape(change.new_title)}"
        line = clip(line, 250)
        return line + (" (and its exercise)" if change.exercise_changed else "")
    return clip(f"**{change.number}.** {escape(change.new_title)}: new exercise", 250)


def _removed_value(diff: PlanDiff, affected_members: int | None) -> str:
    if affected_members == 0:
        note = "No member has progress on them."
    else:
        who = ("Members' progress on them" if affected_members is None else
               f"{_plural(affected_members, 'member')} {'has' if affected_members == 1 else 'have'} progress on "
               "them. It")
        note = f"{who} is archived, not deleted, and comes back if a later version has the step numbers again."
    return clip(steps_label(diff.removed), FIELD_VALUE - len(note) - 1) + "\n" + note


def upload_preview_embed(plan: Plan, name: str, *, version: int, diff: PlanDiff | None,
                         affected_members: int | None, repairs: bool = False) -> discord.Embed:
    """The preview under the Confirm button: a new plan's outline, or what an update changes.

    `version` is the version this upload would become; `diff` is None for a new plan; `affected_members` is
    how many members have progress on `diff.removed` (None when not counted). `repairs`: the upload replaces a
    stored version that can't be read (`diff` None; `affected_members`: progress on steps beyond this file's).
    """
    shown = escape(name)
    outline = f"**{escape(plan.title)}**: {_plural(plan.total, 'step')} in {_plural(len(plan.phases), 'phase')}."
    if repairs:
        embed = discord.Embed(
            title=clip(f"Repair “{shown}” with version {version}?", EMBED_TITLE),
            description=clip(f"{outline}\nThe stored version of “{shown}” can't be read, so its members can't use "
                             "it; this file replaces it. Members keep their progress by step number"
                             + (f"; {_plural(affected_members, 'member')} with progress on steps beyond "
                                f"{plan.last_number} keep it archived" if affected_members else "")
                             + ". Nothing is saved until you press **Confirm**.", EMBED_DESCRIPTION),
            colour=WARNING,
        )
        _phase_fields(embed, plan)
        return embed
    if diff is None:
        embed = discord.Embed(
            title=clip(f"Add the plan “{shown}”?", EMBED_TITLE),
            description=clip(f"{outline}\nIt becomes version {version} of “{shown}”. Nothing is saved until "
                             "you press **Confirm**.", EMBED_DESCRIPTION),
            colour=BRAND,
        )
        _phase_fields(embed, plan)
        embed.add_field(name="First step", value=_step_value(plan.steps[0]), inline=False)
        if plan.total > 1:
            embed.add_field(name="Last step", value=_step_value(plan.steps[-1]), inline=False)
        embed.set_footer(text="Upload a changed file under the same name later: it becomes a new version, and "
                              "members keep their progress by step number.")
        return embed

    colour = WARNING if diff.removed and affected_members != 0 else BRAND
    embed = discord.Embed(title=clip(f"Update “{shown}” to version {version}?", EMBED_TITLE), colour=colour)
    if diff.unchanged:
        embed.description = clip(f"{outline}\nThis file has the same title, steps, exercises and phases as the "
                                 "current version: there is nothing to update.", EMBED_DESCRIPTION)
        return embed
    counts = [part for part, count in (
        (f"adds {_plural(len(diff.added), 'step')}", len(diff.added)),
        (f"removes {_plural(len(diff.removed), 'step')}", len(diff.removed)),
        (f"changes {_plural(len(diff.changed), 'step')}", len(diff.changed)),
    ) if count]
    what = (", ".join(counts[:-1]) + " and " + counts[-1] if len(counts) > 1 else counts[0]) if counts else \
        "keeps every step as it is"
    embed.description = clip(
        f"{outline}\nThis version {what}. Members keep their progress on the {_plural(diff.kept, 'step')} "
        "whose numbers stay. Nothing is saved until you press **Confirm**.", EMBED_DESCRIPTION)
    if diff.added:
        embed.add_field(name=f"Added: {_plural(len(diff.added), 'step')}",
                        value=clip(steps_label(diff.added), FIELD_VALUE - len(RETURNING) - 1) + "\n" + RETURNING,
                        inline=False)
    if diff.removed:
        embed.add_field(name=f"Removed: {_plural(len(diff.removed), 'step')}",
                        value=_removed_value(diff, affected_members), inline=False)
    if diff.changed:
        retitled = len(diff.retitled)
        label = f"Changed: {_plural(len(diff.changed), 'step')}"
        if retitled and retitled != len(diff.changed):
            label += f" ({retitled} retitled)"
        embed.add_field(name=label, value=_lines_within([_change_line(c) for c in diff.changed], FIELD_VALUE),
                        inline=False)
    if diff.phases_changed or diff.title_changed:
        lines = []
        if diff.title_changed:
            lines.append(clip(f"Title: {escape(diff.old_title)} → {escape(diff.new_title)}", 450))
        if diff.old_phase_count != diff.new_phase_count:
            lines.append(f"{diff.old_phase_count} → {_plural(diff.new_phase_count, 'phase')}")
        lines += [clip(f"Phase {r.number}: {escape(r.old_name)} → {escape(r.new_name)}", 250)
                  for r in diff.renamed_phases]
        lines += [f"Phase {number} now has steps {plan.phase(number).range_label}"
                  for number in diff.regrouped_phases]
        embed.add_field(name="Title and phases" if diff.title_changed else "Phases",
                        value=_lines_within(lines, FIELD_VALUE), inline=False)
    embed.set_footer(text="Progress is kept by step number: a step keeps its progress when its title changes.")
    return embed


def problem_line(line: int, message: str) -> str:
    return escape(f"line {line}: {message}" if line else message)


def upload_problems_embed(filename: str | None, problems: Sequence[tuple[int, str]]) -> discord.Embed:
    """Why a file was refused: every problem 'line N: …', as many as fit, then '… and N more'."""
    what = clip(escape(filename), 120) if filename else "This file"
    lines = [clip(problem_line(line, message), 400) for line, message in problems]
    embed = discord.Embed(
        title=clip(f"{what} cannot be used: {_plural(len(problems), 'problem')}", EMBED_TITLE),
        description=_lines_within(lines, EMBED_DESCRIPTION) or "No problem was named.",
        colour=DANGER,
    )
    embed.set_footer(text="Fix the file and upload it again. `python -m bot check-plan FILE` lists the same "
                          "problems on your computer.")
    return embed


def plans_list_embed(entries: Sequence[PlanListing]) -> discord.Embed:
    """The server's plans: the bundled one and those uploaded, the default marked."""
    uploaded = sum(1 for entry in entries if not entry.bundled)
    default = next((entry for entry in entries if entry.is_default), None)
    lines = [f"Default plan: **{escape(default.name)}**." if default else "No default plan is set."]
    lines.append(f"{uploaded} of {MAX_PLANS} uploaded plans. `/config plan upload` adds one or a new version "
                 "of one (same name).")
    embed = discord.Embed(title="Plans in this server", description="\n".join(lines), colour=BRAND)
    for entry in entries[:EMBED_FIELDS]:
        parts = ["Built in" if entry.bundled or entry.version is None else f"Version {entry.version}",
                 _plural(entry.steps, "step"),
                 f"{_plural(entry.members, 'member')} with progress"]
        if entry.uploaded_at is not None:
            parts.append(f"uploaded {discord.utils.format_dt(entry.uploaded_at, 'R')}")
        if entry.unreadable:
            parts.append("⚠️ **its stored plan can't be read**: members on it can't use it. Upload the file again "
                         "under this name to repair it, or remove it")
        label = f"⭐ {escape(entry.name)} (default)" if entry.is_default else escape(entry.name)
        embed.add_field(name=clip(label, FIELD_NAME), value=" · ".join(parts), inline=False)
    if len(entries) > EMBED_FIELDS:
        embed.set_footer(text=f"… and {len(entries) - EMBED_FIELDS} more")
    return embed

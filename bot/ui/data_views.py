"""Replies of /data: export, import summary, forget, privacy."""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from bot.domain.export import ExportOrigin, ImportPlan
from bot.domain.plan import Plan
from bot.domain.progress import MemberProgress
from bot.domain.tracks import Track
from bot.ui.plan_views import BRAND, SUCCESS, escape
from bot.ui.progress_views import total_line

DANGER = discord.Colour(0xED4245)


def _slug(text: str, fallback: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40].strip("-") or fallback


def export_filename(where: str, track: str | None = None) -> str:
    """`stepwise-progress-<server>.md`, with `-<track>` when the server offers tracks of its own."""
    suffix = f"-{_slug(track, 'track')}" if track else ""
    return f"stepwise-progress-{_slug(where, 'server')}{suffix}.md"


def other_plan_message(origin: ExportOrigin, source: Track | None, track: Track) -> str:
    """/data import of a file made on another track: which plan the file is from, which track the member is on."""
    if source is not None:
        came = f"the **{escape(source.name)}** track"
    elif origin.title:
        came = f"another plan (“{escape(origin.title[:80])}”), which this server does not offer"
    else:
        came = "another plan, which this server does not offer"
    hint = (f"Switch to **{escape(source.name)}** with `/track switch` and import it there, or export from "
            "this track to get a file for it." if source is not None else
            "Export from this track with `/data export` to get a file for it.")
    return (f"That file is from {came}, and you are on the **{escape(track.name)}** track, so nothing was "
            f"imported. {hint}")


def older_version_line(origin: ExportOrigin, track: Track) -> str:
    return (f"(The file was exported from version {origin.version} of this plan; it is at version {track.version} "
            "now, so some steps may have changed.)")


def export_message(plan: Plan, member: MemberProgress) -> str:
    return (f"Here is your progress in {escape(plan.title)}: {member.done_count}/{plan.total} steps done, "
            f"{len(member.skipped)} skipped, notes and done dates included. It is a plain Markdown checklist: "
            "keep it anywhere, and `/data import` reads it back.")


def _steps(numbers: Sequence[int], limit: int = 12) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" … (+{len(numbers) - limit})" if len(numbers) > limit else "")


def import_summary_embed(plan: Plan, summary: ImportPlan, filename: str) -> discord.Embed:
    embed = discord.Embed(
        title=f"Import {escape(filename)}?"[:256],
        description=f"This file would change **{summary.changes}** of your steps "
                    f"({summary.unchanged} already match). Nothing changes until you press **Import**; "
                    "`/undo` takes the whole import back afterwards.",
        colour=BRAND,
    )
    for label, numbers in (("Marked done", summary.done), ("Skipped", summary.skipped),
                           ("In progress", summary.in_progress), ("Back to not started", summary.cleared),
                           ("Note or done date updated", summary.notes)):
        if numbers:
            embed.add_field(name=f"{label}: {len(numbers)}", value=f"Steps {_steps(numbers)}", inline=False)
    embed.set_footer(text=f"{plan.title} · the buttons expire after 5 minutes")
    return embed


IMPORT_CHANGED = ("Your progress changed since this preview, so nothing was imported yet. "
                  "Here is what the file would change now:")


def import_moot_message(steps: int) -> str:
    return (f"Your progress changed since the preview and now matches that file ({steps} steps): "
            "nothing to import.")


def imported_embed(plan: Plan, result_after_done: int, changed: int) -> discord.Embed:
    return discord.Embed(
        title=f"✅ Imported: {changed} step{'s' if changed != 1 else ''} updated",
        description=f"{total_line(plan, result_after_done)}\n`/progress` shows your card; `/undo` takes the "
                    "whole import back.",
        colour=SUCCESS,
    )


def forget_embed(plan: Plan, member: MemberProgress) -> discord.Embed:
    return discord.Embed(
        title="Delete everything Stepwise stores about you in this server?",
        description=f"Your {len(member.states)} marked steps ({member.done_count}/{plan.total} done), notes, "
                    "undo history, leaderboard entries and settings here will be deleted for good; this cannot "
                    "be undone. Other servers are not touched. Tip: `/data export` first keeps a copy.",
        colour=DANGER,
    )


def forgotten_message(steps: int) -> str:
    return (f"Done: everything about you in this server is deleted ({steps} marked step{'s' if steps != 1 else ''}). "
            "You can start again any time with `/done`.")


def privacy_message(visible: bool, changed: bool) -> str:
    already = "" if changed else "That was already your choice. "
    if visible:
        return (f"{already}You are **visible**: you appear on leaderboards and members can see your `/progress`.")
    return (f"{already}You are **hidden**: you are left off leaderboards, and only you can see your `/progress` "
            "(replies that show your progress, such as `/done` and `/plan step`, are shown only to you). "
            "`/data privacy visible:True` shows you again.")

"""Replies of /track (join, switch, list), track autocomplete, and the plan id that paged lists carry.

Track names are text admins typed: they are shown escaped (no Markdown, no mentions) everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from bot.domain.progress import MemberProgress
from bot.domain.tracks import BUNDLED, Track, TrackStanding
from bot.ui.plan_views import BRAND, MAX_CHOICES, SUCCESS, bar, escape
from bot.ui.progress_views import next_line, total_line

_TAGGED = re.compile(r"@(?P<plan>\d+):(?P<rest>.*)", re.DOTALL)


def tag_arg(plan_id: int, rest: str = "") -> str:
    """A pager argument that names its track: `rest` alone for the bundled plan (what buttons made before tracks
    carry), `@<plan id>:<rest>` otherwise (and for a bundled-plan `rest` that itself starts with `@`)."""
    if plan_id == BUNDLED and not rest.startswith("@"):
        return rest
    return f"@{plan_id}:{rest}"


def untag_arg(arg: str) -> tuple[int, str]:
    """(plan id, rest) of a pager argument made by `tag_arg`."""
    match = _TAGGED.fullmatch(arg)
    if match is None:
        return BUNDLED, arg
    return int(match["plan"]), match["rest"]


def name_of(track: Track | None) -> str:
    return escape(track.name) if track is not None else "a track that was removed"


def stale_message(made_for: Track | None, current: Track, command: str) -> str:
    """A button made on another track than the member's current one: say so, change nothing."""
    return (f"This was for another track ({name_of(made_for)}); you are on **{escape(current.name)}** now, so "
            f"nothing was shown. Run `{command}` again to see your track.")


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def track_choices(tracks: Sequence[Track], current: str) -> list[discord.app_commands.Choice[str]]:
    """Autocomplete for a track name: the tracks whose name contains what was typed (names starting with it
    first), each shown with its step count."""
    typed = _folded(current)
    matches = [t for t in tracks if typed in _folded(t.name)]
    matches.sort(key=lambda t: not _folded(t.name).startswith(typed))
    return [discord.app_commands.Choice(name=f"{t.name} · {t.plan.total} steps"[:100], value=t.name[:100])
            for t in matches[:MAX_CHOICES]]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def track_list_embed(standings: Sequence[TrackStanding], *, problem: str | None = None) -> discord.Embed:
    """/track list: every track, how far the member is on each, how many follow it, which is theirs.
    `problem`: why the member's own track cannot be used (it is then not among `standings`)."""
    mine = next((s.track for s in standings if s.current), None)
    embed = discord.Embed(
        title="Tracks in this server",
        description=(f"⚠️ {problem}\n\n" if problem else "")
        + (f"You are on **{escape(mine.name)}**. " if mine else "")
        + "Change with `/track switch`: your progress on every track is kept.",
        colour=BRAND,
    )
    for standing in standings[:25]:
        track = standing.track
        mark = "➡️ " if standing.current else ""
        title = f" · {escape(track.plan.title)}" if track.plan.title.casefold() != track.name.casefold() else ""
        embed.add_field(
            name=f"{mark}{escape(track.name)}"[:256],
            value=(f"**{standing.done}/{track.plan.total}** steps done ({standing.percent}%) "
                   f"{bar(standing.done, track.plan.total)}\n"
                   f"{_plural(standing.members, 'member')} on it{title}"
                   + (" · **your track**" if standing.current else ""))[:1024],
            inline=False,
        )
    embed.set_footer(text="Join one with /track join · each track has its own leaderboard")
    return embed


def switched_embed(track: Track, previous: tuple[int, str], member: MemberProgress, *,
                   first: bool) -> discord.Embed:
    """After /track join or switch: the new track, where the member is on it, and that nothing was lost.
    `previous`: the plan id and name of the track they were on."""
    verb = "joined" if first else "switched to"
    lines = [total_line(track.plan, sum(1 for n in member.done if n in track.plan)), next_line(track.plan, member)]
    if previous[0] != track.plan_id:
        lines += ["", f"Your progress on **{escape(previous[1])}** is kept: `/track switch` back to it any time "
                      "and it is all there."]
    return discord.Embed(title=f"You {verb} {escape(track.name)}"[:256],
                         description="\n".join(lines), colour=SUCCESS)


def already_on_message(track: Track, member: MemberProgress) -> str:
    return (f"You are on **{escape(track.name)}** already; nothing changed. "
            f"{next_line(track.plan, member)}\n`/track list` shows the other tracks.")

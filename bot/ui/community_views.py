"""Embeds for the community side: leaderboards, study buddies, scheduled posts, milestones, /config show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import discord

from bot.domain.community import Buddy, Cohort, OwnStanding, Ranked
from bot.domain.plan import Phase, Plan, Step
from bot.domain.timeutil import Period, period_start
from bot.ui.names import names_for_mentions, unknown_label
from bot.ui.pager import Page
from bot.ui.plan_admin_views import number_ranges
from bot.ui.plan_views import BRAND, SUCCESS, escape

BOARD_TITLE = "🏆 Leaderboard"  # the scheduled post's title: how a retry recognises a post already made
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
FAILURE_TITLES = {
    "leaderboard_post": "Leaderboard post",
    "milestone_post": "Milestone announcement",
    "milestone_role": "Milestone role",
}


def missing_send(channel: discord.abc.GuildChannel, me: discord.Member) -> list[str]:
    """The permissions I lack to post an embed in `channel` (empty when I can)."""
    perms = channel.permissions_for(me)
    for name, ok in (("View Channel", perms.view_channel), ("Send Messages", perms.send_messages)):
        if not ok:  # without these, discord.py reports every dependent permission missing too
            return [name]
    return [] if perms.embed_links else ["Embed Links"]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def period_title(period: Period, now: datetime, tz: ZoneInfo) -> str:
    """'All time', 'This week (from Mon 5 Jan)', 'This month (January 2026)' in the server's time zone."""
    start = period_start(now, tz, period)
    if start is None:
        return "All time"
    local = start.astimezone(tz)
    if period == "week":
        return f"This week (since Mon {local.day} {local:%b})"
    return f"This month ({local:%B %Y})"


def ranked_line(row: Ranked, me: int | None = None, name: str | None = None) -> str:
    """One rank; `name` is the member's escaped name (see bot.ui.names), a mention when not given."""
    badge = MEDALS.get(row.rank, f"`#{row.rank}`")
    you = " ← you" if row.user_id == me else ""
    who = name if name is not None else f"<@{row.user_id}>"
    return f"{badge} {who} · **{row.done}** step{'' if row.done == 1 else 's'}{you}"


def standing_text(own: OwnStanding, period: Period, elsewhere: str | None = None) -> str:
    """The caller's line under a board; `elsewhere`: the caller's own track when the board is another's."""
    if own.hidden:
        return "You are hidden from leaderboards, so you are not ranked. `/data privacy` changes that."
    if own.rank is None and elsewhere is not None:
        return (f"You follow **{escape(elsewhere)}**, so you are not on this board. `/leaderboard` shows your "
                "track's.")
    if own.rank is None:
        when = {"all": "yet", "week": "this week", "month": "this month"}[period]
        return f"You have no steps done {when}. Mark one with `/done` to join the board."
    return f"You are **#{own.rank:,}** of {own.total:,} with **{_plural(own.done, 'step')}**."


def leaderboard_page(period: Period, rows: Sequence[Ranked], own: OwnStanding, *, owner: int, index: int,
                     count: int, now: datetime, tz: ZoneInfo, names: Mapping[int, str], track: str | None = None,
                     elsewhere: str | None = None) -> Page:
    """/leaderboard of one track. `track`: its name, given when the server offers more than the bundled plan;
    `elsewhere`: the caller's own track when this board is another's."""
    on = f" · {escape(track)}" if track else ""
    title = f"🏆 Leaderboard{on} · {period_title(period, now, tz)}"
    if not rows:
        when = {"all": "yet", "week": "this week", "month": "this month"}[period]
        embed = discord.Embed(title=title[:256], colour=BRAND,
                              description=f"Nobody has finished a step {when}. Be the first: `/plan next` "
                                          "shows where to start, `/done` marks it.")
    else:
        lines = [ranked_line(r, owner, names.get(r.user_id) or unknown_label(r.user_id)) for r in rows]
        embed = discord.Embed(title=title[:256], colour=BRAND, description="\n".join(lines))
    embed.add_field(name="You", value=standing_text(own, period, elsewhere), inline=False)
    zone = f" · {period.capitalize()}s follow the server's time zone ({tz.key})" if period != "all" else ""
    other = " · other tracks: /leaderboard track: or scope:all" if track else ""
    embed.set_footer(text=f"Skipped steps don't count · ties go to whoever got there first{zone}{other}")
    return Page(embed, index, count)


SHARE_TITLE = "🏆 Leaderboard · All tracks · by share done"


class ShareRow(Protocol):
    """A row of the scope:all board (db.track_reads.ShareRanked)."""

    @property
    def rank(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def plan_id(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def percent(self) -> int: ...


class ShareOwn(Protocol):
    """The caller on the scope:all board (db.track_reads.ShareStanding)."""

    @property
    def rank(self) -> int | None: ...
    @property
    def plan_id(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def hidden(self) -> bool: ...
    @property
    def ranked(self) -> int: ...


def share_line(row: ShareRow, me: int, name: str, track: str) -> str:
    badge = MEDALS.get(row.rank, f"`#{row.rank}`")
    you = " ← you" if row.user_id == me else ""
    return f"{badge} {name} · **{row.percent}%** ({row.done}/{row.total}) · {escape(track)}{you}"


def share_page(rows: Sequence[ShareRow], own: ShareOwn, *, owner: int, index: int, count: int,
               names: Mapping[int, str], tracks: Mapping[int, str]) -> Page:
    """/leaderboard scope:all: every track's members ranked by the share of their own track done."""
    if not rows:
        embed = discord.Embed(title=SHARE_TITLE, colour=BRAND,
                              description="Nobody has finished a step yet. Be the first: `/plan next` shows where "
                                          "to start, `/done` marks it.")
    else:
        lines = [share_line(r, owner, names.get(r.user_id) or unknown_label(r.user_id),
                            tracks.get(r.plan_id, "?")) for r in rows]
        embed = discord.Embed(title=SHARE_TITLE, colour=BRAND, description="\n".join(lines))
    if own.hidden:
        you = "You are hidden from leaderboards, so you are not ranked. `/data privacy` changes that."
    elif own.rank is None:
        you = "You have no steps done yet. Mark one with `/done` to join the board."
    else:
        percent = round(100 * own.done / own.total) if own.total else 0
        you = (f"You are **#{own.rank:,}** of {own.ranked:,} with **{percent}%** ({own.done}/{own.total}) of "
               f"{escape(tracks.get(own.plan_id, '?'))}.")
    embed.add_field(name="You", value=you, inline=False)
    embed.set_footer(text="Each member ranked by the share of their own track done · ties go to whoever got there "
                          "first · one track's board: /leaderboard track:")
    return Page(embed, index, count)


def buddies_embed(step: Step, buddies: Sequence[Buddy], total: int, nearby: Mapping[int, int], *,
                  own: bool, names: Mapping[int, str]) -> discord.Embed:
    title = f"Study buddies on step {step.number}: {escape(step.title)}"[:256]
    if not buddies:
        where = "your step" if own else f"step {step.number}"
        lines = [f"No one else is on {where} yet."]
        if nearby:
            close = ", ".join(f"step {n} ({c})" for n, c in sorted(nearby.items()))
            lines.append(f"Members on nearby steps: {close}. Try `/buddies step:` with one of those.")
        else:
            lines.append("Nobody is within a few steps either: post in the channel and invite someone to join you.")
        return discord.Embed(title=title, description="\n".join(lines), colour=BRAND)
    shown = [f"{names.get(b.user_id) or unknown_label(b.user_id)} · {'🔄 working on it' if b.working else '⏭️ up next'}"
             for b in buddies]
    if total > len(buddies):
        shown.append(f"…and {total - len(buddies):,} more.")
    embed = discord.Embed(title=title, description="\n".join(shown), colour=BRAND)
    embed.set_footer(text=f"{_plural(total, 'member')} on this step · say hi and pair up on the exercise")
    return embed


def scheduled_post_embed(rows: Sequence[Ranked], movers: Sequence[Ranked], movers_label: str, *,
                         cohort_line: str | None, slot: datetime, late: bool,
                         names: Mapping[int, str] | None = None, track: str | None = None) -> discord.Embed:
    """The scheduled post. `names`: escaped display names (bot.ui.names); in an embed a mention of a member the
    reader's client has not loaded shows as "@unknown-user", so names are what a big server can read."""
    shown = names or {}
    embed = discord.Embed(title=BOARD_TITLE, colour=BRAND, timestamp=slot)
    embed.description = ("\n".join(ranked_line(r, name=shown.get(r.user_id)) for r in rows) if rows
                         else "Nobody has finished a step yet. `/plan next` shows where to start.")
    if track:  # the server has tracks: this first board is the bundled plan's, the tracks' follow
        embed.description = f"**{escape(track)}**\n{embed.description}"
    if movers:
        embed.add_field(name=f"🚀 Moved most {movers_label}",
                        value="\n".join(f"{shown.get(r.user_id, f'<@{r.user_id}>')} · +{r.done}" for r in movers),
                        inline=False)
    if cohort_line:
        embed.add_field(name="📅 Cohort", value=cohort_line, inline=False)
    footer = "Your own rank: /leaderboard"
    if late:
        footer += f" · posted late: due {slot:%H:%M} UTC, I was offline"
    embed.set_footer(text=footer)
    return embed


def track_post_embed(name: str, total: int, rows: Sequence[Ranked], movers: Sequence[Ranked], movers_label: str,
                     *, names: Mapping[int, str] | None = None) -> discord.Embed:
    """One track's board under the scheduled post (the first embed keeps the post's title and slot)."""
    shown = names or {}
    embed = discord.Embed(title=f"Track: {escape(name)}"[:256], colour=BRAND)
    embed.description = "\n".join(ranked_line(r, name=shown.get(r.user_id)) for r in rows)[:4000] + \
        f"\n-# out of {total} steps · `/leaderboard track:` for the whole board"
    if movers:
        embed.add_field(name=f"🚀 Moved most {movers_label}",
                        value="\n".join(f"{shown.get(r.user_id, f'<@{r.user_id}>')} · +{r.done}"
                                        for r in movers)[:1024], inline=False)
    return embed


POST_EMBEDS = 10  # Discord: at most 10 embeds in a message
POST_TOTAL = 6000  # and at most 6,000 characters across all of them
TRACK_ROWS = (10, 5, 3, 1)  # the rows each track board tries to show, fewer until the post fits


def scheduled_post_embeds(first: discord.Embed, tracks: Sequence[tuple[str, int, Sequence[Ranked], Sequence[Ranked],
                                                                       str]],
                          *, names: Mapping[int, str] | None = None) -> list[discord.Embed]:
    """The scheduled post's embeds: `first` (the bundled plan's board), then a board per track (name, steps, rows,
    movers, movers label), each with fewer rows until the whole post fits Discord's limits (10 embeds, 6,000
    characters in all); boards that still do not fit are left out, the last embed says how many."""
    room = POST_TOTAL - len(first)
    boards: list[discord.Embed] = []
    for rows in TRACK_ROWS:
        boards = [track_post_embed(name, total, ranked[:rows], movers[:rows], label, names=names)
                  for name, total, ranked, movers, label in tracks[:POST_EMBEDS - 1]]
        if sum(len(b) for b in boards) <= room:
            break
    while boards and sum(len(b) for b in boards) > room - 80:  # room for the note below
        boards.pop()
    left_out = len(tracks) - len(boards)
    embeds = [first, *boards]
    if left_out:
        last = embeds[-1]
        note = f"{_plural(left_out, 'more track')} not shown here: /leaderboard track: shows each board"
        last.set_footer(text=f"{last.footer.text} · {note}" if last.footer.text else note)
    return embeds


MILESTONE_NUMBERS = 600  # characters of phase numbers listed one by one in an announcement


def milestone_text(user_id: int, phases: Sequence[Phase], plan: Plan, finished: bool, *,
                   track: str | None = None) -> str:
    """The announcement; `track` names the track when the server offers several (the phases are its own)."""
    of = f" of **{escape(track)}**" if track else ""
    if len(phases) > 3:  # an import can complete many at once: one line keeps the message short
        # An uploaded plan may have 500 phases: past a few dozen, their numbers as ranges ("1–500"), so the
        # message stays within Discord's 2,000 characters (the announcement was refused).
        numbers = ", ".join(str(p.number) for p in phases)
        if len(numbers) > MILESTONE_NUMBERS:
            numbers = number_ranges([p.number for p in phases], limit=60)
        lines = [f"🎉 <@{user_id}> completed {len(phases)} phases{of} at once: {numbers}!"]
    else:
        lines = [f"🎉 <@{user_id}> completed phase {p.number}{of}: **{escape(p.name)}** (steps {p.range_label})!"
                 for p in phases]
    if finished:
        lines.append(f"🏁 <@{user_id}> finished the whole plan, all {plan.total} steps of **{escape(plan.title)}**!")
    return "\n".join(lines)


def getting_started_embed(plan: Plan) -> discord.Embed:
    embed = discord.Embed(
        title="👋 Stepwise is here",
        description=(f"I walk this server through **{plan.title}**: {plan.total} steps, each a topic and a "
                     "hands-on exercise. Members mark progress, get reminders, and see each other move."),
        colour=SUCCESS,
    )
    embed.add_field(name="Members: start here", inline=False, value=(
        "`/plan next` your next step · `/done` mark it done · `/progress` how far you are\n"
        "`/leaderboard` who is ahead · `/buddies` who is on your step · `/help` everything\n"
        "`/track list` the tracks this server offers · `/track join` follow another one"))
    embed.add_field(name="Admins (Manage Server)", inline=False, value=(
        "`/config timezone` the server's time zone · `/config leaderboard` a daily or weekly post\n"
        "`/config milestones` where completed phases are announced · `/config milestone-role` roles for phases\n"
        "`/config cohort` a shared pace · `/config show` every setting\n"
        "`/config plan upload` your own plan as a track (a Markdown checklist) · `/insights` where members stall"))
    return embed


def config_embed(*, tz: ZoneInfo, plan: Plan, leaderboard_channel: int | None, schedule: str,
                 next_slot: datetime | None, last_slot: datetime | None, posted_at: datetime | None,
                 milestones_channel: int | None, roles: Mapping[int, int], cohort: Cohort | None,
                 cohort_expected: int | None, failures: Mapping[str, tuple[datetime, str]],
                 names: Mapping[int, str] | None = None,
                 role_labels: Mapping[int, str] | None = None) -> discord.Embed:
    """Every setting; members named in failure messages show by name (`names`, see bot.ui.names)."""
    embed = discord.Embed(title="⚙️ Stepwise settings", colour=BRAND)
    embed.add_field(name="Time zone", value=f"`{tz.key}` · `/config timezone`", inline=False)
    where = f"<#{leaderboard_channel}>" if leaderboard_channel else "no channel"
    lines = [f"{where} · {schedule} (server time)"]
    if next_slot:
        lines.append(f"Next post: {discord.utils.format_dt(next_slot, 'F')}")
    if posted_at:
        lines.append(f"Last posted: {discord.utils.format_dt(posted_at, 'R')}")
    elif last_slot:
        lines.append(f"Last slot handled: {discord.utils.format_dt(last_slot, 'R')}")
    embed.add_field(name="Leaderboard posts", value="\n".join(lines) + "\n`/config leaderboard`", inline=False)
    milestone = f"<#{milestones_channel}>" if milestones_channel else "not announced (no channel)"
    embed.add_field(name="Milestones", value=f"{milestone} · `/config milestones`", inline=False)
    if roles:
        labels = role_labels or {}
        role_lines = [f"{labels.get(phase) or ('Whole plan' if phase == 0 else f'Phase {phase}')}: <@&{role}>"
                      for phase, role in roles.items()]
    else:
        role_lines = ["none"]
    embed.add_field(name="Milestone roles", value="\n".join(role_lines) + "\n`/config milestone-role`", inline=False)
    if cohort:
        end = cohort.end(plan.total)
        due = (f"the plan is due by {end.isoformat()}." if end else
               "at that pace the plan is never done: set a faster pace with `/config cohort`.")
        value = f"Started {cohort.start.isoformat()} at {cohort.pace:g} steps a week; {due}"
        if cohort_expected is not None:
            value += f"\nExpected by today: {_plural(cohort_expected, 'step')}."
    else:
        value = "none"
    embed.add_field(name="Cohort", value=value + "\n`/config cohort`", inline=False)
    problems = [f"**{FAILURE_TITLES.get(kind, kind)}** {discord.utils.format_dt(at, 'R')}: "
                f"{names_for_mentions(message, names or {})}"
                for kind, (at, message) in sorted(failures.items())]
    embed.add_field(name="Last failures", value="\n".join(problems)[:1024] if problems else "none 🎉", inline=False)
    return embed

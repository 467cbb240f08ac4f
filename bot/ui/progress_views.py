"""Replies for marking steps, the progress card, undo/redo, and the confirm buttons of /data."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import discord

from bot.domain.marking import STATUS_WORDS, StepDiff, describe_diffs
from bot.domain.plan import Plan, Step
from bot.domain.progress import Completion, MemberProgress, Status, Streak, current_step, phase_done_counts
from bot.domain.stats import Summary
from bot.tree import send_ephemeral
from bot.ui.components import AnsweredButton, AnsweredView
from bot.ui.plan_views import BRAND, SUCCESS, bar, escape

log = logging.getLogger(__name__)

GOLD = discord.Colour(0xF1C40F)
PHASE_NAME_WIDTH = 24


def total_line(plan: Plan, done: int) -> str:
    return f"**{done}/{plan.total}** steps done ({done * 100 // plan.total}%) {bar(done, plan.total)}"


def next_line(plan: Plan, member: MemberProgress) -> str:
    step = current_step(plan, member.states)
    if step is None:
        return "Nothing left: every step is done or skipped."
    return f"Next: **{step.number}. {escape(step.title)}** · {escape(step.exercise)}"


def celebration_lines(plan: Plan, completion: Completion) -> list[str]:
    lines = [f"🎉 Phase {p.number} complete: **{escape(p.name)}** ({len(p.steps)} steps)!" for p in completion.phases]
    if completion.plan:
        lines.append(f"🏆 You finished the whole plan, all {plan.total} steps. Amazing work!")
    return lines


def done_embed(plan: Plan, step: Step, member: MemberProgress, completion: Completion) -> discord.Embed:
    celebrate = celebration_lines(plan, completion)
    embed = discord.Embed(
        title=f"✅ Step {step.number} done: {escape(step.title)}"[:256],
        description="\n".join([*celebrate, total_line(plan, member.done_count), next_line(plan, member)]),
        colour=GOLD if celebrate else SUCCESS,
    )
    state = member.states.get(step.number)
    if state and state.note:
        embed.add_field(name="Your note", value=escape(state.note)[:1024], inline=False)
    embed.set_footer(text="Marked the wrong step? /undo takes it back.")
    return embed


def already_message(step: Step, status: Status, since: datetime | None) -> str:
    when = f" (since {discord.utils.format_dt(since, 'D')})" if since else ""
    return (f"Step {step.number}. {escape(step.title)} is already {STATUS_WORDS[status]}{when}; nothing changed. "
            "`/progress` shows where you are.")


def start_embed(plan: Plan, step: Step, member: MemberProgress, was: Status | None) -> discord.Embed:
    reopened = f"It was {STATUS_WORDS[was]}; it is back in progress. " if was else ""
    embed = discord.Embed(
        title=f"🔄 Step {step.number} in progress: {escape(step.title)}"[:256],
        description=f"{reopened}Exercise: {escape(step.exercise)}\n{total_line(plan, member.done_count)}\n"
                    "Mark it with `/done` when you have finished.",
        colour=BRAND,
    )
    embed.set_footer(text="Changed your mind? /undo takes it back.")
    return embed


def skip_embed(plan: Plan, step: Step, member: MemberProgress, was: Status | None) -> discord.Embed:
    was_text = f" (it was {STATUS_WORDS[was]})" if was else ""
    embed = discord.Embed(
        title=f"⏭️ Step {step.number} skipped: {escape(step.title)}"[:256],
        description=f"Skipped steps never count as done{was_text}.\n{total_line(plan, member.done_count)}\n"
                    f"{next_line(plan, member)}",
        colour=BRAND,
    )
    embed.set_footer(text="Changed your mind? /undo, or /done step:" + str(step.number))
    return embed


def history_embed(plan: Plan, diffs: Sequence[StepDiff], member: MemberProgress, *, undo: bool,
                  left: int) -> discord.Embed:
    """After /undo or /redo: what moved, the new total, and how many more can move that way."""
    count = f"{len(diffs)} steps" if len(diffs) != 1 else "1 step"
    title = f"↩️ Undid your last change ({count})" if undo else f"↪️ Redid a change you undid ({count})"
    embed = discord.Embed(
        title=title,
        description="\n".join([*(escape(line) for line in describe_diffs(plan, diffs)), "",
                               total_line(plan, member.done_count)]),
        colour=BRAND,
    )
    verb, other = ("undone", "/redo puts it back") if undo else ("redone", "/undo takes it back again")
    more = f"{left} more can be {verb}" if left else f"nothing more can be {verb}"
    embed.set_footer(text=f"{more} · {other}")
    return embed


def phase_block(plan: Plan, member: MemberProgress) -> str:
    """One line per phase in a code block: a mark, the name, done/size and a small bar (fits 1024 chars)."""
    lines = []
    for phase, done in phase_done_counts(plan, member.done):
        size = len(phase.steps)
        mark = "✓" if done == size else ("·" if done == 0 else "›")
        name = phase.name if len(phase.name) <= PHASE_NAME_WIDTH else phase.name[: PHASE_NAME_WIDTH - 1] + "…"
        lines.append(f"{mark} {phase.number:>2} {name:<{PHASE_NAME_WIDTH}} {done:>2}/{size:<2} {bar(done, size, 6)}")
    block = "\n".join(lines).replace("`", "'")
    while len(block) > 1016:  # plans with many phases: keep whole lines within the field limit
        lines.pop()
        block = "\n".join([*lines[:-1], "…"])
    return f"```\n{block}\n```"


def _day(day: date) -> str:
    return discord.utils.format_dt(datetime.combine(day, time(12), tzinfo=UTC), "D")


def _on_track(track: str | None) -> str:
    """' · <track>' after a card's title when the server has its own plans (the track name escaped)."""
    return f" · {escape(track)}" if track else ""


def progress_embed(plan: Plan, who: str, member: MemberProgress, summary: Summary, streak: Streak, *,
                   avatar: str | None = None, track: str | None = None) -> discord.Embed:
    """The progress card; `track`: the track's name, given when the server offers more than the bundled plan."""
    embed = discord.Embed(
        title=f"{who}'s progress{_on_track(track)}"[:256],
        description=f"{total_line(plan, summary.done)}\n" + (f"{summary.skipped} skipped · " if summary.skipped else "")
        + f"{summary.remaining} to go",
        colour=GOLD if summary.remaining == 0 else BRAND,
    )
    if avatar:
        embed.set_thumbnail(url=avatar)
    step = current_step(plan, member.states)
    status = member.status_of(step.number) if step else None
    embed.add_field(name="Current step",
                    value=(f"**{step.number}. {escape(step.title)}**" + (" (in progress)" if status else ""))
                    if step else "🏆 All done!", inline=False)
    embed.add_field(name="Streak", value=f"🔥 {streak.current} day{'s' if streak.current != 1 else ''} "
                                         f"· best {streak.longest}")
    embed.add_field(name="Pace", value=f"{summary.pace:.1f} steps/week" if summary.pace else "–")
    if summary.remaining == 0:
        forecast = "Finished 🎉"
    elif summary.forecast is None:
        forecast = "Not enough activity yet: mark a step done to get a forecast."
    else:
        forecast = f"{_day(summary.forecast)} at this pace"
    embed.add_field(name="Forecast finish", value=forecast)
    embed.add_field(name="Phases", value=phase_block(plan, member), inline=False)
    embed.set_footer(text="Pace: steps done per week over the last 4 weeks · streaks count local days")
    return embed


def empty_progress_embed(plan: Plan, who: str, yourself: bool, *, track: str | None = None) -> discord.Embed:
    start = (f"Start with `/plan next` to see step {plan.first_number}, then `/done` when you have finished it."
             if yourself else "When they mark a step with `/done`, it will show here.")
    return discord.Embed(title=f"{who}'s progress{_on_track(track)}"[:256],
                         description=f"No steps marked yet: 0/{plan.total}. {start}", colour=BRAND)


class ConfirmView(AnsweredView):
    """Confirm / Cancel for a destructive or bulk action; only `owner` may press; expires after `timeout`.

    It lives in this process only (the action is a closure). Its custom ids name the bot's session
    (`sw:cf:<session>:<token>:y|n`), so a press after a restart reaches `LostConfirmation`, which says so,
    instead of Discord's "This interaction failed"."""

    session = "0"  # the running bot's session: set at start-up by bot.ui.registry.register_components

    def __init__(self, owner: int, on_confirm: Callable[[discord.Interaction], Awaitable[None]], *,
                 confirm_label: str, danger: bool = False, timeout: float = 300) -> None:
        super().__init__(timeout=timeout)
        self.owner = owner
        self.on_confirm = on_confirm
        self.original: discord.Interaction | None = None
        self._busy = False
        token = secrets.token_hex(6)
        self.confirm.custom_id = f"sw:cf:{ConfirmView.session}:{token}:y"
        self.cancel.custom_id = f"sw:cf:{ConfirmView.session}:{token}:n"
        self.confirm.label = confirm_label
        self.confirm.style = discord.ButtonStyle.danger if danger else discord.ButtonStyle.success

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner:
            await send_ephemeral(interaction, "These buttons belong to whoever ran the command.")
            return False
        return True

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        # Stopped only once the action succeeded: after a failure (the database refused the write, a UserError)
        # the buttons stay and work, so pressing again retries; a second press while one runs is answered.
        if self._busy:
            await send_ephemeral(interaction, "Already on it: one moment.")
            return
        self._busy = True
        try:
            await self.on_confirm(interaction)
        finally:
            self._busy = False
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Cancelled: nothing changed.", embed=None, view=None)

    async def on_timeout(self) -> None:
        if self.original is None:
            return
        try:
            await self.original.edit_original_response(
                content="This confirmation expired: nothing changed. Run the command again if you still want to.",
                embed=None, view=None)
        except discord.HTTPException:
            log.info("could not mark an expired confirmation for user %s", self.owner)


class LostConfirmation(AnsweredButton, template=r"sw:cf:(?P<session>[0-9a-f]+):(?P<token>[0-9a-f]+):(?P<which>[yn])"):
    """A Confirm or Cancel pressed after the bot restarted: the action it would have run is gone with the old
    process, so nothing is done and the buttons are taken away. A view of this session answers by itself."""

    def __init__(self, session: str, token: str, which: str) -> None:
        super().__init__(discord.ui.Button(custom_id=f"sw:cf:{session}:{token}:{which}", label="Confirm"))
        self.session = session

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> LostConfirmation:
        return cls(match["session"], match["token"], match["which"])

    async def allowed(self, interaction: discord.Interaction, /) -> bool:
        return self.session != ConfirmView.session

    async def clicked(self, interaction: discord.Interaction, /) -> None:
        await interaction.response.edit_message(content=LOST_CONFIRMATION, embed=None, view=None)


LOST_CONFIRMATION = ("This confirmation was lost when I restarted, so nothing changed. Run the command again if you "
                     "still want to.")

"""/done, /start, /skip, /undo, /redo and /progress: a member's own way through the plan."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.community import cohort_status, describe_cohort
from bot.domain.errors import UserError
from bot.domain.marking import clean_note, done_target, start_target
from bot.domain.plan import Plan, Step
from bot.domain.progress import MemberProgress, Status, completions, streaks
from bot.domain.stats import activity_grid, daily_series, expected_by_day, summarize
from bot.domain.timeutil import local_date
from bot.domain.tracks import Track, TrackUnavailable
from bot.ui import progress_views as views
from bot.ui.charts import activity_calendar, progress_chart
from bot.ui.plan_views import escape, step_choices
from db.community import get_cohort
from db.progress import ChangeResult, StepChange, history_depth, load_member, redo, undo
from db.settings import get_guild_timezone, member_timezone
from db.track_reads import change_on_track

DecideStep = Callable[[MemberProgress], tuple[Step, list[StepChange]]]
RenderMark = Callable[[Plan, Step, MemberProgress, Status | None], discord.Embed]


class Progress(commands.Cog):
    """Mark your steps and see how far you have come."""

    help_title = "Your progress"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        self.render_charts = True  # the benchmark turns this off to time the card alone

    # ------------------------------------------------------------------ helpers

    async def _track(self, interaction: discord.Interaction) -> Track:
        return await self.bot.tracks.current(interaction.guild_id, interaction.user.id)

    async def _change(self, interaction: discord.Interaction, track: Track,
                      decide: DecideStep) -> tuple[Step, ChangeResult]:
        """Run `decide` on the member's progress in one transaction, while they are still on `track`;
        dispatch progress_changed if it wrote."""
        guild_id = interaction.guild_id or 0
        chosen: list[Step] = []

        def pick(member: MemberProgress) -> Sequence[StepChange]:
            target, changes = decide(member)
            chosen.append(target)
            return changes

        result = await change_on_track(self.bot.db, guild_id, interaction.user.id, pick, self.bot.clock(),
                                       plan_id=track.plan_id, default_tz=self.bot.settings.tz)
        if result.changed:
            self.bot.dispatch("progress_changed", guild_id, interaction.user.id, result)
        return chosen[0], result

    async def _mark(self, interaction: discord.Interaction, track: Track, pick: Callable[[MemberProgress], Step],
                    status: Status, render: RenderMark) -> None:
        """Set the picked step to `status` (keeping its note) and answer; say so if it already was."""

        def decide(member: MemberProgress) -> tuple[Step, list[StepChange]]:
            target = pick(member)
            old = member.states.get(target.number)
            if old and old.status is status:
                return target, []
            return target, [StepChange(target.number, status, old.note if old else None)]

        target, result = await self._change(interaction, track, decide)
        if not result.changed:
            await self._already(interaction, target, result)
            return
        was = result.before.status_of(target.number)
        await interaction.response.send_message(embed=render(track.plan, target, result.after, was),
                                                ephemeral=not result.after.visible)

    async def _already(self, interaction: discord.Interaction, step: Step, result: ChangeResult) -> None:
        state = result.before.states[step.number]
        since = state.done_at if state.status is Status.DONE else state.updated_at
        await interaction.response.send_message(views.already_message(step, state.status, since), ephemeral=True)

    async def step_autocomplete(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[int]]:
        return step_choices((await self._track(interaction)).plan, current)

    # ------------------------------------------------------------------ marking

    @app_commands.command(name="done", description="Mark a step done (your current step if you name none)")
    @app_commands.describe(step="The step number (type words of its title to search)",
                           note="Your evidence: a link to your exercise, or a line of what you learned (≤ 500)")
    @app_commands.guild_only()
    async def done(self, interaction: discord.Interaction, step: int | None = None, note: str | None = None) -> None:
        text = clean_note(note)
        track = await self._track(interaction)
        plan = track.plan

        def decide(member: MemberProgress) -> tuple[Step, list[StepChange]]:
            target = done_target(plan, member.states, step)
            old = member.states.get(target.number)
            if old and old.status is Status.DONE:
                return target, []
            return target, [StepChange(target.number, Status.DONE, text if text is not None else
                                       (old.note if old else None))]

        target, result = await self._change(interaction, track, decide)
        if not result.changed:
            await self._already(interaction, target, result)
            return
        completion = completions(plan, result.before.done, result.after.done)
        await interaction.response.send_message(embed=views.done_embed(plan, target, result.after, completion),
                                                ephemeral=not result.after.visible)

    @app_commands.command(name="start", description="Mark a step in progress (the next one if you name none)")
    @app_commands.describe(step="The step number (type words of its title to search)")
    @app_commands.guild_only()
    async def start(self, interaction: discord.Interaction, step: int | None = None) -> None:
        track = await self._track(interaction)
        await self._mark(interaction, track, lambda member: start_target(track.plan, member.states, step),
                         Status.IN_PROGRESS, views.start_embed)

    @app_commands.command(name="skip", description="Skip a step: it never counts as done, and /plan next passes it")
    @app_commands.describe(step="The step number (type words of its title to search)")
    @app_commands.guild_only()
    async def skip(self, interaction: discord.Interaction, step: int) -> None:
        track = await self._track(interaction)
        target = track.plan.require(step)
        await self._mark(interaction, track, lambda _member: target, Status.SKIPPED, views.skip_embed)

    done.autocomplete("step")(step_autocomplete)
    start.autocomplete("step")(step_autocomplete)
    skip.autocomplete("step")(step_autocomplete)

    # ------------------------------------------------------------------ history

    async def _history(self, interaction: discord.Interaction, *, back: bool) -> None:
        guild_id = interaction.guild_id or 0
        move = undo if back else redo
        moved = await move(self.bot.db, guild_id, interaction.user.id, self.bot.clock(),
                           default_tz=self.bot.settings.tz)
        if moved is None:
            message = ("Nothing to undo: you have not changed any step since your history began (or you undid "
                       "everything already)." if back else
                       "Nothing to redo: `/redo` puts back what `/undo` took, until you make a new change.")
            await interaction.response.send_message(message, ephemeral=True)
            return
        result, diffs = moved
        self.bot.dispatch("progress_changed", guild_id, interaction.user.id, result)
        can_undo, can_redo = await history_depth(self.bot.db, guild_id, interaction.user.id)
        track = await self._track(interaction)
        embed = views.history_embed(track.plan, diffs, result.after, undo=back,
                                    left=can_undo if back else can_redo)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="undo", description="Take back your most recent progress change")
    @app_commands.guild_only()
    async def undo(self, interaction: discord.Interaction) -> None:
        await self._history(interaction, back=True)

    @app_commands.command(name="redo", description="Put back the change you last undid")
    @app_commands.guild_only()
    async def redo(self, interaction: discord.Interaction) -> None:
        await self._history(interaction, back=False)

    # ------------------------------------------------------------------ the card

    @app_commands.command(name="progress", description="Your progress card (or another member's): totals, "
                                                       "phases, streak, pace, charts")
    @app_commands.describe(member="Whose progress to show (default: yours)")
    @app_commands.guild_only()
    async def progress(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        target = member or interaction.user
        yourself = target.id == interaction.user.id
        if target.bot:
            raise UserError(f"{escape(target.display_name)} is a bot and does not study. Pick a member.")
        guild_id = interaction.guild_id or 0
        data = await load_member(self.bot.db, guild_id, target.id)
        if not data.visible and not yourself:
            raise UserError(f"{escape(target.display_name)} keeps their progress private. "
                            "Members choose this with `/data privacy`.")
        name = escape(target.display_name)
        try:
            track = await self.bot.tracks.current(guild_id, target.id)
        except TrackUnavailable as error:
            if yourself:
                raise
            raise UserError(f"{name}'s track **{escape(error.name)}** can't be read right now, so I can't show "
                            "their progress on it.") from None
        plan = track.plan
        track_name = track.name if await self.bot.tracks.has_own(guild_id) else None
        if not data.states:
            await interaction.response.send_message(
                embed=views.empty_progress_embed(plan, name, yourself, track=track_name), ephemeral=yourself)
            return
        now = self.bot.clock()
        tz = await member_timezone(self.bot.db, guild_id, target.id, self.bot.settings.tz)
        today = local_date(now, tz)
        done_times = data.done_times()
        summary = summarize(plan.total, (s.status for s in data.states.values()), done_times, now, today)
        embed = views.progress_embed(plan, name, data, summary, streaks(done_times, tz, today),
                                     avatar=target.display_avatar.url, track=track_name)
        cohort = await get_cohort(self.bot.db, guild_id, plan_id=track.plan_id)  # the track's own cohort
        if cohort:
            server_tz = await get_guild_timezone(self.bot.db, guild_id, self.bot.settings.tz)
            status = cohort_status(cohort, data.done_count, local_date(now, server_tz), plan.total)
            embed.add_field(name="Cohort pace", value=describe_cohort(status), inline=False)
        private = not data.visible  # a hidden member looking at themselves: only they see it
        if not (self.render_charts and done_times):
            if self.render_charts:
                whose = "your" if yourself else "their"
                embed.add_field(name="Charts", value=f"A chart of {whose} steps per day and {whose} activity "
                                f"calendar appear here after {whose} first `/done`.", inline=False)
            await interaction.response.send_message(embed=embed, ephemeral=private)
            return
        await interaction.response.defer(ephemeral=private, thinking=True)
        series = daily_series(done_times, tz, today)
        pace = expected_by_day(series.days, cohort.expected, plan.total) if cohort else None
        chart, calendar = await asyncio.gather(
            asyncio.to_thread(progress_chart, series, plan.total, pace, "Steps done", tz.key),
            asyncio.to_thread(activity_calendar, activity_grid(done_times, tz, today), "Activity",
                              tz.key))
        embed.set_image(url="attachment://progress.png")
        activity = discord.Embed(colour=embed.colour).set_image(url="attachment://activity.png")
        await interaction.followup.send(embeds=[embed, activity],
                                        files=[discord.File(io.BytesIO(chart), "progress.png"),
                                               discord.File(io.BytesIO(calendar), "activity.png")],
                                        ephemeral=private)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Progress(bot))

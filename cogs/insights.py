"""/insights: where a track's members stall (Manage Server), ephemeral, with a chart and a Nudge button."""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.errors import UserError
from bot.domain.tracks import Track
from bot.services import insights as service
from bot.services.membership import member_left
from bot.ui.components import AnsweredView
from bot.ui.insights_views import CHART_FILENAME, chart_wanted, insights_chart, insights_embed
from bot.ui.names import LEFT, member_names
from bot.ui.track_views import track_choices
from db.settings import get_guild_timezone

log = logging.getLogger(__name__)

DMS_CLOSED = 50007
NUDGE_VIEW_SECONDS = 600


class ChartProcess:
    """Draws insights charts in a worker process. In a thread, matplotlib's drawing holds the GIL for long
    stretches: the event loop woke up to ~100 ms late while a chart was drawn (bench/bench_insights.py); in
    another process it is not stalled at all. The process starts on first use (or at start-up with `warm`) and
    stops with the cog; if it breaks, the chart is drawn in a thread instead."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def draw(self, insights: Any, track_name: str) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), insights_chart, insights, track_name)
        except BrokenProcessPool:
            log.warning("the chart process stopped; drawing in a thread", exc_info=True)
            self.close()
            return await asyncio.to_thread(insights_chart, insights, track_name)

    def warm(self) -> None:
        """Start the process and its imports now (the long-running bot), not on an organiser's first /insights."""
        self._executor().submit(_warm_up)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _warm_up() -> None:
    from bot.ui import insights_views  # noqa: F401 - the imports matplotlib needs, in the worker process


class DiscordNudger:
    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot

    async def send_nudge(self, user_id: int, text: str, nonce: str) -> int:
        channel = await self.bot.create_dm(discord.Object(user_id))
        try:
            message = await channel.send(text, nonce=nonce)  # discord.py: enforce_nonce
        except discord.Forbidden as error:
            if error.code == DMS_CLOSED:
                raise service.DmsClosed(str(error)) from error
            raise
        return message.id


def nudge_summary(result: service.NudgeResult) -> str:
    parts = [f"📨 Nudged **{result.sent}** member{'' if result.sent == 1 else 's'}."]
    if result.recent:
        parts.append(f"{result.recent} had a nudge within the last week, so I left them alone.")
    if result.closed:
        parts.append(f"{result.closed} don't accept DMs from me.")
    if result.failed:
        parts.append(f"{result.failed} could not be reached right now (logged).")
    if result.left_for_later:
        parts.append(f"{result.left_for_later} more are stalled: press again later for them.")
    return " ".join(parts)


class NudgeView(AnsweredView):
    """The Nudge button under /insights: only the organiser who ran it, and only while they may manage the server."""

    def __init__(self, cog: Insights, owner: int, guild_id: int, track: Track, report: service.Report) -> None:
        super().__init__(timeout=NUDGE_VIEW_SECONDS)
        self.cog, self.owner, self.guild_id, self.track, self.report = cog, owner, guild_id, track, report
        count = len(report.nudgeable)
        self.nudge.label = f"Nudge {count} stalled member{'' if count == 1 else 's'}"

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner:
            await interaction.response.send_message("This button belongs to whoever ran `/insights`.",
                                                    ephemeral=True)
            return False
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message("Nudging members needs the Manage Server permission.",
                                                    ephemeral=True)
            return False
        return True

    @discord.ui.button(label="Nudge", emoji="📨", style=discord.ButtonStyle.primary)
    async def nudge(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        button.disabled = True
        self.stop()
        await interaction.response.edit_message(view=self)
        result = await self.cog.nudge(self.guild_id, self.track, self.report, by=interaction.user.id)
        await interaction.followup.send(nudge_summary(result), ephemeral=True)


class Insights(commands.Cog):
    """Organisers: where members of a track get stuck."""

    help_title = "Insights (Manage Server)"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        self.nudger = DiscordNudger(bot)
        self.charts = ChartProcess()

    async def cog_load(self) -> None:
        if self.bot.freeze_heap:  # the long-running bot (`make run`): start the chart process with the bot
            self.charts.warm()

    async def cog_unload(self) -> None:
        self.charts.close()

    @app_commands.command(name="insights", description="Where members stall: funnel, slow steps, weekly activity")
    @app_commands.describe(track="The track to look at (default: the server's default track)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def insights(self, interaction: discord.Interaction,
                       track: app_commands.Range[str, 1, 100] | None = None) -> None:
        guild = interaction.guild
        if guild is None:
            raise UserError("This command works in a server, not in DMs.")
        chosen = await self.bot.tracks.find(guild.id, track) if track else await self.bot.tracks.default(guild.id)
        await interaction.response.defer(ephemeral=True, thinking=True)  # the chart takes a moment
        now = self.bot.clock()
        tz = await get_guild_timezone(self.bot.db, guild.id, self.bot.settings.tz)
        report = await service.report(self.bot.db, guild.id, chosen, now, tz)
        shown = report.insights.stalled.shown
        names = await member_names(guild, [s.user_id for s in shown], escaped=False)
        gone = {user_id for user_id, name in names.items() if name == LEFT}
        if gone:  # Discord says they left (the bot hears no leaves without the members intent): off the
            for user_id in gone:  # boards and never nudged, as members who left are
                await member_left(self.bot.db, guild.id, user_id, now)
            report = replace(report, nudgeable=tuple(s for s in report.nudgeable if s.user_id not in gone))
        embed = insights_embed(report.insights, track_name=chosen.name, names=names,
                               with_chart=chart_wanted(report.insights))
        if report.hidden_stalled:
            embed.set_footer(text=f"{report.hidden_stalled} stalled member(s) hid themselves: counted, "
                                  "not named, never nudged.")
        files = []
        if chart_wanted(report.insights):
            png = await self.charts.draw(report.insights, chosen.name)
            files.append(discord.File(io.BytesIO(png), filename=CHART_FILENAME))
        view = NudgeView(self, interaction.user.id, guild.id, chosen, report) if report.nudgeable else None
        if view is not None:
            await interaction.followup.send(embed=embed, files=files, view=view, ephemeral=True)
        else:
            await interaction.followup.send(embed=embed, files=files, ephemeral=True)

    @insights.autocomplete("track")
    async def track_autocomplete(self, interaction: discord.Interaction,
                                 current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return track_choices(await self.bot.tracks.tracks(interaction.guild_id), current)

    async def nudge(self, guild_id: int, track: Track, report: service.Report, *, by: int) -> service.NudgeResult:
        tz = await get_guild_timezone(self.bot.db, guild_id, self.bot.settings.tz)
        now = self.bot.clock()
        current = await self.bot.tracks.get(guild_id, track.plan_id)  # updated or removed since the report?
        if current is None:
            raise UserError("That track was removed since: nobody was nudged.")
        stalled = await service.still_stalled(self.bot.db, guild_id, current, report.nudgeable, now=now, tz=tz)
        return await service.nudge(self.bot.db, self.nudger, guild_id, current, stalled, now=now, tz=tz, by=by)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Insights(bot))

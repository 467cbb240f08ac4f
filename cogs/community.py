"""/leaderboard and /buddies: see each other move, and find someone on the same step."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.community import PAGE_SIZE, parse_period
from bot.domain.errors import UserError
from bot.domain.progress import current_step
from bot.domain.timeutil import Period
from bot.domain.tracks import Track, TrackUnavailable
from bot.ui.community_views import buddies_embed, leaderboard_page, share_page
from bot.ui.names import member_names
from bot.ui.pager import Page, pager_view
from bot.ui.plan_views import step_choices
from bot.ui.track_views import tag_arg, track_choices, untag_arg
from db.community import board_page, buddies, nearby_steps
from db.progress import load_member
from db.track_reads import share_board

SHARE_ARG = "share"  # the pager argument of the scope:all board (no period is called that)


class Community(commands.Cog):
    """See who is ahead, and who is on your step."""

    help_title = "Community"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.page_sources["leaderboard"] = self._leaderboard_source

    async def cog_unload(self) -> None:
        self.bot.page_sources.pop("leaderboard", None)

    async def _leaderboard_source(self, interaction: discord.Interaction, owner: int, index: int, arg: str) -> Page:
        """A page of a board; `arg` names it: `share` (scope:all), else the period tagged with its track."""
        guild_id = interaction.guild_id or 0
        if arg == SHARE_ARG:
            return await self._share_board(interaction, owner, index)
        plan_id, rest = untag_arg(arg)
        track = await self.bot.tracks.get(guild_id, plan_id)
        if track is None:
            raise UserError("That track was removed from this server: run `/leaderboard` again.")
        return await self._board(interaction, owner, index, parse_period(rest), track)

    async def _board(self, interaction: discord.Interaction, owner: int, index: int, period: Period,
                     track: Track) -> Page:
        guild_id = interaction.guild_id or 0
        now = self.bot.clock()
        # One awaited database hop: the server's zone, the caller's standing and the page's rows.
        board = await board_page(self.bot.db, guild_id, owner, period, index, per_page=PAGE_SIZE,
                                  now=now, default_tz=self.bot.settings.tz, plan_id=track.plan_id)
        names = await member_names(interaction.guild, [r.user_id for r in board.rows],
                                   known=[interaction.user] if interaction.user.id == owner else [])
        shown = elsewhere = None  # a server with the bundled plan only: the board as it always was
        if await self.bot.tracks.has_own(guild_id):
            shown = track.name
            try:
                mine = await self.bot.tracks.current(guild_id, owner)
                elsewhere = None if mine.plan_id == track.plan_id else mine.name
            except TrackUnavailable as error:  # their own track cannot be read: this board still shows
                elsewhere = error.name
        return leaderboard_page(period, board.rows, board.own, owner=owner, index=board.index, count=board.count,
                                now=now, tz=board.tz, names=names, track=shown, elsewhere=elsewhere)

    async def _share_board(self, interaction: discord.Interaction, owner: int, index: int) -> Page:
        guild_id = interaction.guild_id or 0
        tracks = await self.bot.tracks.tracks(guild_id)
        board = await share_board(self.bot.db, guild_id, owner, {t.plan_id: t.plan.total for t in tracks}, index,
                                  per_page=PAGE_SIZE)
        names = await member_names(interaction.guild, [r.user_id for r in board.rows],
                                   known=[interaction.user] if interaction.user.id == owner else [])
        return share_page(board.rows, board.own, owner=owner, index=board.index, count=board.count, names=names,
                          tracks={t.plan_id: t.name for t in tracks})

    @app_commands.command(name="leaderboard", description="Members ranked by steps done: all time, this week or month")
    @app_commands.describe(period="all (default), this week, or this month in the server's time zone",
                           track="Another track's board (default: the track you follow)",
                           scope="track (default): one track's board; all: every track, by share of it done")
    @app_commands.guild_only()
    async def leaderboard(self, interaction: discord.Interaction,
                          period: Literal["all", "week", "month"] = "all",
                          track: app_commands.Range[str, 1, 100] | None = None,
                          scope: Literal["track", "all"] = "track") -> None:
        guild_id = interaction.guild_id or 0
        if scope == "all":
            if track is not None:
                raise UserError("`scope:all` ranks every track together: leave `track` out, or drop `scope:all` "
                                "to see one track's board.")
            if period != "all":
                raise UserError("`scope:all` ranks members by the share of their track done, all time: leave "
                                "`period` out, or drop `scope:all` for a track's week or month.")
            page = await self._share_board(interaction, interaction.user.id, 0)
            arg = SHARE_ARG
        else:
            chosen = (await self.bot.tracks.find(guild_id, track) if track is not None
                      else await self.bot.tracks.current(guild_id, interaction.user.id))
            page = await self._board(interaction, interaction.user.id, 0, period, chosen)
            arg = tag_arg(chosen.plan_id, period)
        view = pager_view("leaderboard", interaction.user.id, page, arg)
        await interaction.response.send_message(embed=page.embed, view=view)

    @leaderboard.autocomplete("track")
    async def track_autocomplete(self, interaction: discord.Interaction,
                                 current: str) -> list[app_commands.Choice[str]]:
        return track_choices(await self.bot.tracks.tracks(interaction.guild_id or 0), current)

    @app_commands.command(name="buddies", description="Members on the same step as you (or on a step you pick)")
    @app_commands.describe(step="A step number (default: the step you are on)")
    @app_commands.guild_only()
    async def buddies(self, interaction: discord.Interaction, step: int | None = None) -> None:
        guild_id = interaction.guild_id or 0
        track = await self.bot.tracks.current(guild_id, interaction.user.id)
        plan = track.plan
        private = False  # "buddies on your step" says which step you are on: private for a hidden member
        if step is not None:
            target = plan.require(step)
        else:
            member = await load_member(self.bot.db, guild_id, interaction.user.id)
            private = not member.visible
            found = current_step(plan, member.states)
            if found is None:
                await interaction.response.send_message(
                    f"🏁 You have finished all {plan.total} steps, so you are not on a step. "
                    "Pick one to help others with: `/buddies step:12`.", ephemeral=True)
                return
            target = found
        people, total = await buddies(self.bot.db, guild_id, target.number, interaction.user.id,
                                      plan_id=track.plan_id)
        nearby = {} if people else await nearby_steps(self.bot.db, guild_id, target.number, interaction.user.id,
                                                      plan_id=track.plan_id)
        names = await member_names(interaction.guild, [b.user_id for b in people])
        embed = buddies_embed(target, people, total, nearby, own=step is None, names=names)
        await interaction.response.send_message(embed=embed, ephemeral=private)

    @buddies.autocomplete("step")
    async def step_autocomplete(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[int]]:
        track = await self.bot.tracks.current(interaction.guild_id, interaction.user.id)
        return step_choices(track.plan, current)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Community(bot))

"""/leaderboard and /buddies: see each other move, and find someone on the same step."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.community import PAGE_SIZE, parse_period
from bot.domain.progress import current_step
from bot.ui.community_views import buddies_embed, leaderboard_page
from bot.ui.names import member_names
from bot.ui.pager import Page, pager_view
from bot.ui.plan_views import step_choices
from db.community import board_page, buddies, nearby_steps
from db.progress import load_member


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
        period = parse_period(arg)
        now = self.bot.clock()
        # One awaited database hop: the server's zone, the caller's standing and the page's rows.
        board = await board_page(self.bot.db, interaction.guild_id or 0, owner, period, index, per_page=PAGE_SIZE,
                                  now=now, default_tz=self.bot.settings.tz)
        names = await member_names(interaction.guild, [r.user_id for r in board.rows],
                                   known=[interaction.user] if interaction.user.id == owner else [])
        return leaderboard_page(period, board.rows, board.own, owner=owner, index=board.index, count=board.count,
                                now=now, tz=board.tz, names=names)

    @app_commands.command(name="leaderboard", description="Members ranked by steps done: all time, this week or month")
    @app_commands.describe(period="all (default), this week, or this month in the server's time zone")
    @app_commands.guild_only()
    async def leaderboard(self, interaction: discord.Interaction,
                          period: Literal["all", "week", "month"] = "all") -> None:
        page = await self._leaderboard_source(interaction, interaction.user.id, 0, period)
        view = pager_view("leaderboard", interaction.user.id, page, period)
        await interaction.response.send_message(embed=page.embed, view=view)

    @app_commands.command(name="buddies", description="Members on the same step as you (or on a step you pick)")
    @app_commands.describe(step="A step number (default: the step you are on)")
    @app_commands.guild_only()
    async def buddies(self, interaction: discord.Interaction, step: int | None = None) -> None:
        guild_id = interaction.guild_id or 0
        plan = self.bot.plan
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
        people, total = await buddies(self.bot.db, guild_id, target.number, interaction.user.id)
        nearby = {} if people else await nearby_steps(self.bot.db, guild_id, target.number, interaction.user.id)
        names = await member_names(interaction.guild, [b.user_id for b in people])
        embed = buddies_embed(target, people, total, nearby, own=step is None, names=names)
        await interaction.response.send_message(embed=embed, ephemeral=private)

    @buddies.autocomplete("step")
    async def step_autocomplete(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[int]]:
        return step_choices(self.bot.plan, current)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Community(bot))

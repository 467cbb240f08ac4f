"""/track join|switch|list: the plans a server offers, and moving between them with nothing lost."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.tracks import TrackUnavailable
from bot.ui import track_views
from db.progress import load_member


@app_commands.guild_only()
class Tracks(commands.GroupCog, group_name="track", group_description="The tracks (plans) this server offers"):
    """Follow one of the server's plans; your progress on each is kept."""

    help_title = "Tracks"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        super().__init__()

    async def _move(self, interaction: discord.Interaction, name: str, *, first: bool) -> None:
        guild_id = interaction.guild_id or 0
        track = await self.bot.tracks.find(guild_id, name)  # UserError listing the tracks when unknown
        try:
            mine = await self.bot.tracks.current(guild_id, interaction.user.id)
            previous = (mine.plan_id, mine.name)
        except TrackUnavailable as error:  # their track cannot be read or was removed: moving off it still works
            previous = (error.plan_id, error.name)
        moved = await self.bot.tracks.switch(guild_id, interaction.user.id, track, self.bot.clock(),
                                             default_tz=self.bot.settings.tz)
        member = await load_member(self.bot.db, guild_id, interaction.user.id)
        if not moved:
            await interaction.response.send_message(track_views.already_on_message(track, member), ephemeral=True)
            return
        await interaction.response.send_message(
            embed=track_views.switched_embed(track, previous, member, first=first), ephemeral=True)

    @app_commands.command(name="join", description="Follow one of the server's tracks (your progress is kept)")
    @app_commands.describe(name="The track to follow")
    async def join(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        await self._move(interaction, name, first=True)

    @app_commands.command(name="switch", description="Move to another track; your progress on this one is kept")
    @app_commands.describe(name="The track to move to")
    async def switch(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        await self._move(interaction, name, first=False)

    async def name_autocomplete(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[str]]:
        return track_views.track_choices(await self.bot.tracks.tracks(interaction.guild_id or 0), current)

    join.autocomplete("name")(name_autocomplete)
    switch.autocomplete("name")(name_autocomplete)

    @app_commands.command(name="list", description="The server's tracks, how far you are on each, who follows them")
    async def list_(self, interaction: discord.Interaction) -> None:
        standings, problem = await self.bot.tracks.standings(interaction.guild_id or 0, interaction.user.id)
        await interaction.response.send_message(
            embed=track_views.track_list_embed(standings, problem=problem.message if problem else None),
            ephemeral=True)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Tracks(bot))

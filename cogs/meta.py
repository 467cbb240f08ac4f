"""/help: what the bot does and every command."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.tracks import TrackUnavailable
from bot.ui.help import HelpSection, command_lines, help_embed


class Meta(commands.Cog):
    """Help and information about Stepwise."""

    help_title = "Help"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot

    def sections(self) -> list[HelpSection]:
        sections: list[HelpSection] = []
        for cog in self.bot.cogs.values():
            commands_ = cog.get_app_commands()
            if isinstance(cog, commands.GroupCog) and cog.app_command is not None:
                commands_ = [cog.app_command]
            lines = command_lines(commands_)
            if lines:
                sections.append(HelpSection(getattr(cog, "help_title", cog.qualified_name),
                                            cog.description or "", tuple(lines)))
        return sections

    @app_commands.command(name="help", description="What Stepwise does and every command")
    async def help(self, interaction: discord.Interaction) -> None:
        try:
            track = await self.bot.tracks.current(interaction.guild_id, interaction.user.id)  # what they follow
        except TrackUnavailable:  # help still answers; their track's own commands say what is wrong
            track = self.bot.tracks.bundled
        embed = help_embed(track.plan.title, track.plan.total, self.sections())
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Meta(bot))

"""A test-only extension: a command that fails the way a bug would, and one that echoes member text."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands


class Broken(commands.Cog):
    @app_commands.command(name="explode", description="Fails like a bug")
    async def explode(self, interaction: discord.Interaction) -> None:
        raise ZeroDivisionError("a bug")

    @app_commands.command(name="echo", description="Echoes member text")
    async def echo(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Broken())

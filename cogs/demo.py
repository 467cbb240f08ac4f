"""Demo-only commands (`python -m bot demo` loads this cog; the real bot never does).

`/demo advance hours:<n>` moves the simulated clock forward so reminders, scheduled leaderboard posts and
milestone announcements happen; `/demo dm` shows the member's latest DM from the bot, because the browser
preview shows one channel and cannot open a DM conversation.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.errors import UserError
from bot.ui.demo import dm_copy, latest_dm, machine_for


class Demo(commands.Cog):
    """Demo only: move the simulated clock and see your DMs."""

    demo = app_commands.Group(name="demo", description="Demo only: move the clock forward, see your DMs",
                              guild_only=True)

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot

    @demo.command(name="advance", description="Move the simulated clock forward; scheduled work happens on the way")
    @app_commands.describe(hours="How many hours to move forward (1-72)")
    async def advance(self, interaction: discord.Interaction, hours: app_commands.Range[int, 1, 72]) -> None:
        machine = machine_for(self.bot)  # attached by bot.demo once the simulated world runs
        if machine is None:
            raise UserError("The clock can only be moved in the demo (`make demo`).")
        # The harness moves the clock after this callback has returned (SimCord forbids bot code to move it),
        # then edits this deferred answer with what happened.
        await interaction.response.defer(ephemeral=True, thinking=True)
        machine.request_advance(interaction, hours)

    @demo.command(name="dm", description="Show your latest DM from Stepwise (the preview shows one channel)")
    async def dm(self, interaction: discord.Interaction) -> None:
        message = await latest_dm(self.bot, interaction.user)
        if message is None:
            raise UserError("No DM from me yet. Set a reminder with `/remind set time:09:00`, then move the "
                            "clock with `/demo advance hours:24`.")
        await interaction.response.send_message(ephemeral=True, **dm_copy(message))


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Demo(bot))

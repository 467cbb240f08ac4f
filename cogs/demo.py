"""Demo-only commands (`python -m bot demo` loads this cog; the real bot never does).

`/demo advance hours:<n>` moves the simulated clock forward so reminders, scheduled leaderboard posts and
milestone announcements happen; `/demo dm` shows the member's latest DM from the bot, because the browser
preview shows one channel and cannot open a DM conversation.
"""

from __future__ import annotations

from typing import Any, Protocol

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.errors import UserError

DM_HEADER = "📬 **Your DMs from Stepwise** (a copy: this page shows one channel; the buttons work as in the DM)"


class TimeMachine(Protocol):
    """What the demo harness offers the cog: it owns SimCord's clock, which bot code may not move."""

    def request_advance(self, interaction: discord.Interaction, hours: int) -> None: ...


async def latest_dm(bot: StepwiseBot, user: discord.abc.User) -> discord.Message | None:
    """The newest message the bot sent this user in DMs, or None."""
    channel = user.dm_channel or await bot.create_dm(user)
    async for message in channel.history(limit=10):
        if bot.user is not None and message.author.id == bot.user.id:
            return message
    return None


def dm_copy(message: discord.Message, *, header: str = DM_HEADER) -> dict[str, Any]:
    """The keyword arguments that show a copy of a DM (its text, embeds and buttons) in a reply."""
    sent = discord.utils.format_dt(message.created_at, "f")
    content = f"{header}\n-# sent {sent}\n{message.content}".strip()
    view = discord.ui.View.from_message(message, timeout=None)
    return {"content": content[:2000], "embeds": message.embeds[:10], "view": view}


class Demo(commands.Cog):
    """Demo only: move the simulated clock and see your DMs."""

    demo = app_commands.Group(name="demo", description="Demo only: move the clock forward, see your DMs",
                              guild_only=True)

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        self.machine: TimeMachine | None = None  # set by bot.demo once the simulated world runs

    @demo.command(name="advance", description="Move the simulated clock forward; scheduled work happens on the way")
    @app_commands.describe(hours="How many hours to move forward (1-72)")
    async def advance(self, interaction: discord.Interaction, hours: app_commands.Range[int, 1, 72]) -> None:
        if self.machine is None:
            raise UserError("The clock can only be moved in the demo (`make demo`).")
        # The harness moves the clock after this callback has returned (SimCord forbids bot code to move it),
        # then edits this deferred answer with what happened.
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.machine.request_advance(interaction, hours)

    @demo.command(name="dm", description="Show your latest DM from Stepwise (the preview shows one channel)")
    async def dm(self, interaction: discord.Interaction) -> None:
        message = await latest_dm(self.bot, interaction.user)
        if message is None:
            raise UserError("No DM from me yet. Set a reminder with `/remind set time:09:00`, then move the "
                            "clock with `/demo advance hours:24`.")
        await interaction.response.send_message(ephemeral=True, **dm_copy(message))


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Demo(bot))

"""What the demo-only cog (cogs/demo.py) shows, and how the demo harness (bot.demo) hands it the clock."""

from __future__ import annotations

import weakref
from typing import Any, Protocol

import discord

DM_HEADER = "📬 **Your DMs from Stepwise** (a copy: this page shows one channel; the buttons work as in the DM)"


class TimeMachine(Protocol):
    """What the demo harness offers the cog: it owns SimCord's clock, which bot code may not move."""

    def request_advance(self, interaction: discord.Interaction, hours: int) -> None: ...


_machines: weakref.WeakKeyDictionary[discord.Client, TimeMachine] = weakref.WeakKeyDictionary()


def attach_machine(bot: discord.Client, machine: TimeMachine) -> None:
    _machines[bot] = machine


def machine_for(bot: discord.Client) -> TimeMachine | None:
    return _machines.get(bot)


async def latest_dm(bot: discord.Client, user: discord.User | discord.Member) -> discord.Message | None:
    """The newest message the bot sent this user in DMs, or None."""
    channel = user.dm_channel or await user.create_dm()
    async for message in channel.history(limit=10):
        if bot.user is not None and message.author.id == bot.user.id:
            found: discord.Message = message
            return found
    return None


def dm_copy(message: discord.Message, *, header: str = DM_HEADER) -> dict[str, Any]:
    """The keyword arguments that show a copy of a DM (its text, embeds and buttons) in a reply."""
    sent = discord.utils.format_dt(message.created_at, "f")
    content = f"{header}\n-# sent {sent}\n{message.content}".strip()
    view = discord.ui.View.from_message(message, timeout=None)
    return {"content": content[:2000], "embeds": message.embeds[:10], "view": view}

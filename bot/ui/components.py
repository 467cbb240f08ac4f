"""Bases for every view and persistent button, so a failed click is answered like a failed command.

discord.py gives a `View` an `on_error(interaction, error, item)` hook, which `AnsweredView` points at
`bot.tree.answer_error`. A `DynamicItem` (a button that outlives restarts) gets no such hook: discord.py
builds a plain `View.from_message` around it and only logs what its `callback` raises, and treats an
exception from its `interaction_check` as "not allowed" (`ViewStore.schedule_dynamic_item_call`); either
way the member sees "This interaction failed". `AnsweredButton` therefore runs the subclass's `clicked`
and `allowed` itself and hands any exception to `answer_error`. Every subclass is registered once, at
start-up, by `bot.ui.registry.register_components`.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.tree import answer_error


class AnsweredView(discord.ui.View):
    """A view whose item errors get the same answer and log line as a failed slash command."""

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any],
                       /) -> None:
        await answer_error(interaction, error)


class AnsweredButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A persistent button. Subclasses give a `template` and implement `clicked` (and `allowed` if only some
    members may press it); they never override `callback` or `interaction_check`."""

    async def allowed(self, interaction: discord.Interaction, /) -> bool:
        return True

    async def clicked(self, interaction: discord.Interaction, /) -> None:
        raise NotImplementedError

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        try:
            return await self.allowed(interaction)
        except Exception as error:  # every failure gets an answer
            await answer_error(interaction, error)
            return False

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.clicked(interaction)
        except Exception as error:
            await answer_error(interaction, error)

"""The one error path: every failed slash command and every failed button or select gets the same answer.

`answer_error(interaction, error)` is used by `StepwiseTree.on_error` for commands and by the component
bases in `bot/ui/components.py` for views and dynamic items: a `UserError` becomes its message, other
known errors a clear sentence, anything else is logged with the interaction id and answered with that id.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.domain.errors import UserError
from bot.services.membership import member_returned

log = logging.getLogger(__name__)


async def send_ephemeral(interaction: discord.Interaction, content: str, **kwargs: Any) -> None:
    """Answer with an ephemeral message, as the first response or as a followup if already answered."""
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)


PERMISSION_NAMES = {"manage_guild": "Manage Server", "manage_roles": "Manage Roles",
                    "send_messages": "Send Messages", "embed_links": "Embed Links", "attach_files": "Attach Files"}


def permission_names(permissions: list[str]) -> str:
    return ", ".join(PERMISSION_NAMES.get(p, p.replace("_", " ").title()) for p in permissions)


def user_message(error: BaseException) -> str | None:
    """The message for an error the member caused, or None for one that is our fault."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserError):
        return original.message
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need the {permission_names(error.missing_permissions)} permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        return (f"I need the {permission_names(error.missing_permissions)} permission here to do that. "
                "Ask an admin to grant it.")
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server, not in DMs."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.TransformerError):
        return f"`{error.value}` is not a valid {error.type.name.replace('_', ' ')} here."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


def interaction_label(interaction: discord.Interaction) -> str:
    """'/plan step' for a command, 'component sw:step:1:2' for a button or select, for the log."""
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: Any = interaction.data or {}
    custom_id = data.get("custom_id")
    if custom_id is not None:
        return f"component {custom_id}"
    return f"interaction type {interaction.type.name}"


def generic_message(interaction: discord.Interaction) -> str:
    return (f"Something went wrong on my side and it has been logged. "
            f"If it keeps happening, tell an admin this id: `{interaction.id}`.")


async def answer_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer a failed command or component: ephemeral, once, whether or not it was answered already."""
    message = user_message(error)
    if message is None:
        original = getattr(error, "original", error)
        log.error("interaction %s (%s by user %s in guild %s) failed", interaction.id, interaction_label(interaction),
                  interaction.user.id, interaction.guild_id, exc_info=original)
        message = generic_message(interaction)
    try:
        await send_ephemeral(interaction, message)
    except discord.HTTPException:
        log.warning("could not answer interaction %s with its error message", interaction.id)


class StepwiseTree(app_commands.CommandTree[Any]):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Before every command in a server: whoever runs it is a member, so one marked away is back (issue 8)."""
        if interaction.guild_id is not None and interaction.type is discord.InteractionType.application_command:
            try:
                await member_returned(self.client.db, interaction.guild_id, interaction.user.id)
            except Exception:  # never let this bookkeeping stop the command itself
                log.exception("could not mark user %s present in guild %s", interaction.user.id,
                              interaction.guild_id)
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await answer_error(interaction, error)

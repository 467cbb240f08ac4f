"""The command tree: the one place where application-command errors are answered."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.errors import UserError
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


def user_message(error: app_commands.AppCommandError) -> str | None:
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
        message = user_message(error)
        if message is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            original = getattr(error, "original", error)
            log.error("interaction %s (/%s by user %s in guild %s) failed", interaction.id, command,
                      interaction.user.id, interaction.guild_id, exc_info=original)
            message = (f"Something went wrong on my side and it has been logged. "
                       f"If it keeps happening, tell an admin this id: `{interaction.id}`.")
        try:
            await send_ephemeral(interaction, message)
        except discord.HTTPException:
            log.warning("could not answer interaction %s with its error message", interaction.id)

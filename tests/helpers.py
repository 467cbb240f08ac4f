"""Assertions and small helpers shared by behaviour tests."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

import discord
import simcord

from bot.domain.errors import UserError

if TYPE_CHECKING:
    from bot.app import StepwiseBot


def assert_user_error(env: simcord.Env, result: simcord.InteractionResult, *fragments: str) -> str:
    """The member got one ephemeral message containing every fragment, and the error went through the tree."""
    assert result.response is not None, "the bot did not answer"
    assert result.ephemeral, f"error reply should be ephemeral: {result.response.content!r}"
    content = result.response.content
    for fragment in fragments:
        assert fragment in content, f"{fragment!r} not in {content!r}"
    simcord.assert_error(env, UserError)
    return content


def embed_text(result: simcord.InteractionResult | simcord.ResponseMessage) -> str:
    """Everything visible in a reply's embeds, as one string (titles, descriptions, fields, footers)."""
    message = result.response if isinstance(result, simcord.InteractionResult) else result
    assert message is not None
    parts: list[str] = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}\n{f.value}" for f in embed.fields]
        parts.append(embed.footer.text or "")
    return "\n".join(parts)


def button_labels(message: simcord.ResponseMessage) -> list[str]:
    return [c.get("label", "") for row in message.components for c in row.get("components", [])]


ORDERED_LIST_ITEM = re.compile(r"^\s*\d+\.\s")


def ordered_list_items(text: str) -> list[str]:
    """The lines of `text` that Discord's Markdown renders as an ordered list (renumbered from 1): `3. Title`."""
    return [line for line in text.splitlines() if ORDERED_LIST_ITEM.match(line)]


def ordered_list_lines(message: simcord.ResponseMessage | discord.Message) -> list[str]:
    """Such lines wherever Markdown applies: content, embed titles, descriptions, field names and values."""
    texts: list[str] = [message.content or ""]
    for embed in message.embeds:
        texts += [embed.title or "", embed.description or ""]
        texts += [part for f in embed.fields for part in (f.name or "", f.value or "")]
    return [line for text in texts for line in ordered_list_items(text)]


def bot_of(env: simcord.Env) -> StepwiseBot:
    return env.bot  # type: ignore[return-value]


async def tick(env: simcord.Env, now: datetime) -> None:
    """The bot's scheduled work at `now` (as the interval job would run it), then let the world settle."""
    await bot_of(env).run_scheduled(now)
    await env.settle()


def dms(member: simcord.MemberActor) -> list[discord.Message]:
    return member.user.dm_channel.history()


def message_text(message: discord.Message) -> str:
    """Everything visible in a sent message: content, embed titles, descriptions, fields and footers."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or "", embed.footer.text or ""]
        parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


def labels(message: discord.Message) -> list[str]:
    """The labels of a sent message's buttons."""
    return [getattr(c, "label", "") for row in message.components for c in getattr(row, "children", [])]

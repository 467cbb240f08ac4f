"""Assertions shared by behaviour tests."""

from __future__ import annotations

import simcord

from bot.errors import UserError


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

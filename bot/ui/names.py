"""Members shown by name in embeds, never as `<@id>`.

In an embed, Discord shows a user mention only when the reader's client already knows that member, and
"@unknown-user" otherwise, which is most members of a big server. So lists of members show display names,
Markdown-escaped (a name is text a member typed), which never ping.

The bot runs without the privileged members intent, so its guild cache holds few members. For the ids a
list needs and the cache lacks, one gateway request (REQUEST_GUILD_MEMBERS by user id, which needs no
privileged intent, at most 100 ids) fetches them all at once and caches them; no REST call per row. A member
the answer does not contain has left the server. If the request fails or is slow, a neutral label stands in.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping

import discord

from bot.ui.plan_views import escape

log = logging.getLogger(__name__)

LEFT = "a member who left"
QUERY_LIMIT = 100  # user ids Discord answers in one request
QUERY_TIMEOUT = 1.0  # seconds: a slow gateway costs labels, never the interaction's 3-second window
USER_MENTION = re.compile(r"<@!?(\d+)>")


def unknown_label(user_id: int) -> str:
    """A neutral stand-in when the name could not be looked up: 'member …7890'."""
    return f"member …{str(user_id)[-4:]}"


def shown_name(user: discord.abc.User) -> str:
    """The display name as text: no Markdown, no mentions."""
    return escape(user.display_name)


def _typed_name(user: discord.abc.User) -> str:
    return user.display_name


async def member_names(guild: discord.Guild | None, user_ids: Iterable[int], *,
                       known: Iterable[discord.abc.User] = (), escaped: bool = True) -> dict[int, str]:
    """Escaped display names for `user_ids`: from `known` (e.g. the member who ran the command), the guild
    cache, then one gateway request for the rest; 'a member who left' or 'member …7890' when not found.
    With `escaped=False`, the names as typed, for a renderer that escapes them itself (insights_embed)."""
    wanted = list(dict.fromkeys(user_ids))
    name_of = shown_name if escaped else _typed_name
    names = {user.id: name_of(user) for user in known}
    missing: list[int] = []
    for user_id in wanted:
        if user_id in names:
            continue
        member = guild.get_member(user_id) if guild is not None else None
        if member is not None:
            names[user_id] = name_of(member)
        else:
            missing.append(user_id)
    if guild is not None and missing:
        asked = missing[:QUERY_LIMIT]
        try:
            found = await asyncio.wait_for(guild.query_members(user_ids=asked, limit=len(asked), cache=True),
                                           QUERY_TIMEOUT)
        except (TimeoutError, RuntimeError, discord.ClientException) as error:
            log.info("could not look up %d member names in guild %s (%r): showing labels", len(asked), guild.id,
                     error)
        else:
            names |= {member.id: name_of(member) for member in found}
            names |= {user_id: LEFT for user_id in asked if user_id not in names}
    return {user_id: names.get(user_id) or unknown_label(user_id) for user_id in wanted}


def mentioned_ids(texts: Iterable[str]) -> list[int]:
    """The user ids mentioned as `<@id>` in `texts` (stored messages written before names were used)."""
    return [int(match[1]) for text in texts for match in USER_MENTION.finditer(text)]


def names_for_mentions(text: str, names: Mapping[int, str]) -> str:
    """`text` with every `<@id>` replaced by that member's name."""
    return USER_MENTION.sub(lambda m: names.get(int(m[1])) or unknown_label(int(m[1])), text)

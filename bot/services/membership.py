"""Membership: a member no longer in a server gets no reminders for it, cannot write there, and is off its boards.

Without the privileged members intent Discord does not tell the bot who left, so a reminder DM's button asks
(one REST lookup through a `MemberLookup`) before it acts. With the intent (setting MEMBERS_INTENT), the
member-remove and member-join events call `member_left` / `member_returned` at once. Any command a member runs
in the server also means they are back (`member_returned`, from the command tree). No Discord types here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum
from typing import Protocol

from db import membership as store
from db.database import Database

log = logging.getLogger(__name__)


class Membership(Enum):
    MEMBER = "member"
    LEFT = "left"  # Discord says the user is not a member of the server
    NO_SERVER = "no_server"  # the bot is not in that server (any more)
    UNKNOWN = "unknown"  # the lookup failed: nothing can be concluded


class MemberLookup(Protocol):
    async def membership(self, guild_id: int, user_id: int) -> Membership:
        """One lookup at Discord: is `user_id` a member of `guild_id`?"""
        ...


async def member_left(db: Database, guild_id: int, user_id: int, now: datetime) -> None:
    """Mark the member away (off the boards) and pause their reminder there with LEFT_SERVER."""
    if await store.mark_away(db, guild_id, user_id, now):
        log.info("user %s is no longer in guild %s: marked away, reminder paused", user_id, guild_id)


async def member_returned(db: Database, guild_id: int, user_id: int) -> None:
    """The member is in the server again: back on its boards (their reminder waits for `/remind set`)."""
    if await store.mark_present(db, guild_id, user_id):
        log.info("user %s is back in guild %s", user_id, guild_id)


async def check_member(db: Database, lookup: MemberLookup, guild_id: int, user_id: int, now: datetime) -> Membership:
    """Ask Discord once whether the user is still a member, and store what the answer means."""
    found = await lookup.membership(guild_id, user_id)
    if found is Membership.LEFT:
        await member_left(db, guild_id, user_id, now)
    elif found is Membership.MEMBER:
        await member_returned(db, guild_id, user_id)
    return found

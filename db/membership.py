"""Who is away: members the bot found no longer in a server (`members.left_at`, migration 0008).

An away member keeps every row; `members.visible` (derived by a trigger from their own choice and `left_at`:
SQLite's in 0008_membership.sql, PostgreSQL's in db/alembic/) takes them off the server's boards the way hiding
does, and their reminder there is paused with LEFT_SERVER.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Connection, bindparam, select, update

from bot.domain.reminders import PauseReason
from db.database import Database
from db.tables import members, reminders

_G = bindparam("g", type_=BigInteger)
_U = bindparam("u", type_=BigInteger)
_MEMBER = (members.c.guild_id == _G, members.c.user_id == _U)
_LEFT_AT = select(members.c.left_at).where(*_MEMBER)
_REASON = PauseReason.LEFT_SERVER.value


async def mark_away(db: Database, guild_id: int, user_id: int, now: datetime) -> bool:
    """The member is no longer in the server: off its boards, reminder there paused (settings kept).

    One transaction; nothing is created for someone the bot never stored. Returns whether anything changed.
    A reminder already off (`/remind off`) stays off rather than paused.
    """

    def write(conn: Connection) -> bool:
        away = conn.execute(update(members).where(*_MEMBER, members.c.left_at.is_(None)).values(left_at=now),
                            {"g": guild_id, "u": user_id}).rowcount
        paused = conn.execute(
            update(reminders)
            .where(reminders.c.guild_id == guild_id, reminders.c.user_id == user_id, reminders.c.enabled == 1,
                   reminders.c.paused_reason.is_distinct_from(_REASON))
            .values(paused_reason=_REASON, paused_at=now, pause_noticed=0, next_due_utc=None, updated_at=now)
        ).rowcount
        return away + paused > 0

    return await db.run_sync(write)


async def mark_present(db: Database, guild_id: int, user_id: int) -> bool:
    """The member is in the server (they used a command there, rejoined, or a lookup found them): back on its
    boards. Their reminder stays paused until `/remind set`. Returns whether they had been away.

    Costs one primary-key read when they were not away (it runs before every command in a server).
    """
    row = await db.fetchone(_LEFT_AT, {"g": guild_id, "u": user_id})
    if row is None or row[0] is None:
        return False

    def write(conn: Connection) -> bool:
        back = update(members).where(*_MEMBER, members.c.left_at.is_not(None)).values(left_at=None)
        return conn.execute(back, {"g": guild_id, "u": user_id}).rowcount > 0

    return await db.run_sync(write)


async def away_since(db: Database, guild_id: int, user_id: int) -> datetime | None:
    """When the member was found gone, or None while they are a member (or unknown)."""
    row = await db.fetchone(_LEFT_AT, {"g": guild_id, "u": user_id})
    return row[0] if row and row[0] else None

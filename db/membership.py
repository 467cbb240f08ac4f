"""Who is away: members the bot found no longer in a server (`members.left_at`, migration 0008).

An away member keeps every row; `members.visible` (derived by a trigger from their own choice and `left_at`)
takes them off the server's boards the way hiding does, and their reminder there is paused with LEFT_SERVER.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from bot.domain.reminders import PauseReason
from db.database import Database, to_db

_MARK_AWAY = "UPDATE members SET left_at = ? WHERE guild_id = ? AND user_id = ? AND left_at IS NULL"
_PAUSE = (
    "UPDATE reminders SET paused_reason = ?, paused_at = ?, pause_noticed = 0, next_due_utc = NULL, updated_at = ? "
    "WHERE guild_id = ? AND user_id = ? AND enabled = 1 AND paused_reason IS NOT ?"
)


async def mark_away(db: Database, guild_id: int, user_id: int, now: datetime) -> bool:
    """The member is no longer in the server: off its boards, reminder there paused (settings kept).

    One transaction; nothing is created for someone the bot never stored. Returns whether anything changed.
    A reminder already off (`/remind off`) stays off rather than paused.
    """
    stamp = to_db(now)
    reason = PauseReason.LEFT_SERVER.value

    def write(raw: sqlite3.Connection) -> bool:
        away = raw.execute(_MARK_AWAY, (stamp, guild_id, user_id)).rowcount
        paused = raw.execute(_PAUSE, (reason, stamp, stamp, guild_id, user_id, reason)).rowcount
        return away + paused > 0

    return await db.run_sync(write)


async def mark_present(db: Database, guild_id: int, user_id: int) -> bool:
    """The member is in the server (they used a command there, rejoined, or a lookup found them): back on its
    boards. Their reminder stays paused until `/remind set`. Returns whether they had been away.

    Costs one primary-key read when they were not away (it runs before every command in a server).
    """
    row = await db.fetchone("SELECT left_at FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
    if row is None or row[0] is None:
        return False
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE members SET left_at = NULL WHERE guild_id = ? AND user_id = ? AND left_at IS NOT NULL",
            (guild_id, user_id))
        return cursor.rowcount > 0


async def away_since(db: Database, guild_id: int, user_id: int) -> datetime | None:
    """When the member was found gone, or None while they are a member (or unknown)."""
    row = await db.fetchone("SELECT left_at FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
    return datetime.fromisoformat(row[0]) if row and row[0] else None

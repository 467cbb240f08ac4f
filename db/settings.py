"""Bot-wide key/value metadata and per-server settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from db.database import Database

COMMAND_HASH_KEY = "command_tree_hash"


async def get_meta(db: Database, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row[0])


async def set_meta(db: Database, key: str, value: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


async def get_guild_timezone(db: Database, guild_id: int, default: ZoneInfo) -> ZoneInfo:
    row = await db.fetchone("SELECT timezone FROM guild_settings WHERE guild_id = ?", (guild_id,))
    return ZoneInfo(row[0]) if row and row[0] else default


async def set_guild_timezone(db: Database, guild_id: int, timezone: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO guild_settings (guild_id, timezone) VALUES (?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET timezone = excluded.timezone",
            (guild_id, timezone),
        )


async def member_timezone(db: Database, guild_id: int, user_id: int, default: ZoneInfo) -> ZoneInfo:
    """The member's own zone if they set one (reminders), else the server's, else `default`."""
    row = await db.fetchone(
        "SELECT (SELECT timezone FROM members WHERE guild_id = ? AND user_id = ?), "
        "(SELECT timezone FROM guild_settings WHERE guild_id = ?)",
        (guild_id, user_id, guild_id),
    )
    name = (row[0] or row[1]) if row else None
    return ZoneInfo(name) if name else default

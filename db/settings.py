"""Bot-wide key/value metadata and per-server settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, bindparam, select

from db.database import Database
from db.dialects import upsert
from db.tables import guild_settings, members, meta

COMMAND_HASH_KEY = "command_tree_hash"

_G = bindparam("g", type_=BigInteger)


async def get_meta(db: Database, key: str) -> str | None:
    row = await db.fetchone(select(meta.c.value).where(meta.c.key == key))
    return None if row is None else str(row[0])


async def set_meta(db: Database, key: str, value: str) -> None:
    def write(conn: Connection) -> None:
        ins = upsert(meta).values(key=key, value=value)
        conn.execute(ins.on_conflict_do_update(index_elements=["key"], set_={"value": ins.excluded.value}))

    await db.run_sync(write)


_TIMEZONE = select(guild_settings.c.timezone).where(guild_settings.c.guild_id == _G)


async def get_guild_timezone(db: Database, guild_id: int, default: ZoneInfo) -> ZoneInfo:
    row = await db.fetchone(_TIMEZONE, {"g": guild_id})
    return ZoneInfo(row[0]) if row and row[0] else default


async def set_guild_timezone(db: Database, guild_id: int, timezone: str) -> None:
    def write(conn: Connection) -> None:
        ins = upsert(guild_settings).values(guild_id=guild_id, timezone=timezone)
        conn.execute(ins.on_conflict_do_update(index_elements=["guild_id"],
                                               set_={"timezone": ins.excluded.timezone}))

    await db.run_sync(write)


_MEMBER_TIMEZONE = select(
    select(members.c.timezone).where(members.c.guild_id == _G, members.c.user_id == bindparam("u", type_=BigInteger))
    .scalar_subquery(),
    _TIMEZONE.scalar_subquery(),
)


async def member_timezone(db: Database, guild_id: int, user_id: int, default: ZoneInfo) -> ZoneInfo:
    """The member's own zone if they set one (reminders), else the server's, else `default`."""
    row = await db.fetchone(_MEMBER_TIMEZONE, {"g": guild_id, "u": user_id})
    own, server = tuple(row) if row else (None, None)
    name = own or server
    return ZoneInfo(name) if name else default

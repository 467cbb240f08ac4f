"""Milestones per member: announced once, role given once (see migration 0007 for the states)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from db.database import Database, to_db


async def claim_milestones(db: Database, guild_id: int, user_id: int, milestones: Sequence[int], now: datetime, *,
                           announce: bool, skip_reason: str | None = None) -> list[int]:
    """Record the member's first completion of each of `milestones`; return those this call must announce.

    One transaction, committed before anything is sent: a milestone already recorded (announced, failed,
    skipped or being announced) is never returned again. With `announce` False the new rows are 'skipped'.
    """

    def run(raw: sqlite3.Connection) -> list[int]:
        claimed = []
        for milestone in milestones:
            inserted = raw.execute(
                "INSERT INTO milestones (guild_id, user_id, milestone, reached_at, announce, reason) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id, milestone) DO NOTHING",
                (guild_id, user_id, milestone, to_db(now), "claimed" if announce else "skipped",
                 None if announce else skip_reason),
            ).rowcount
            if inserted == 1 and announce:
                claimed.append(milestone)
        return claimed

    return await db.run_sync(run)


async def record_announcement(db: Database, guild_id: int, user_id: int, milestones: Sequence[int], *,
                              message_id: int | None, reason: str | None) -> None:
    """The claimed announcement went out (`message_id`) or failed (`reason`; not tried again)."""
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE milestones SET announce = ?, message_id = ?, reason = ? "
            "WHERE guild_id = ? AND user_id = ? AND milestone = ? AND announce = 'claimed'",
            [("posted" if message_id is not None else "failed", message_id, reason, guild_id, user_id, m)
             for m in milestones],
        )


async def claim_role(db: Database, guild_id: int, user_id: int, milestone: int, role_id: int, *,
                     now: datetime) -> bool:
    """Record `role_id` as given for the member's milestone before giving it; False when it already was."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE milestones SET role_id = ?, role_at = ? "
            "WHERE guild_id = ? AND user_id = ? AND milestone = ? AND role_id IS NOT ?",
            (role_id, to_db(now), guild_id, user_id, milestone, role_id),
        )
        return cursor.rowcount == 1


async def release_role(db: Database, guild_id: int, user_id: int, milestone: int, role_id: int) -> None:
    """The role could not be given: forget the claim, so the member's next completion tries again."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE milestones SET role_id = NULL, role_at = NULL "
            "WHERE guild_id = ? AND user_id = ? AND milestone = ? AND role_id = ?",
            (guild_id, user_id, milestone, role_id),
        )

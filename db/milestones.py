"""Milestones per member: announced once, role given once (see migration 0007 for the states)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, update

from db.database import Database
from db.dialects import upsert
from db.tables import milestones as milestones_table

_M = milestones_table.c


async def claim_milestones(db: Database, guild_id: int, user_id: int, milestones: Sequence[int], now: datetime, *,
                           announce: bool, skip_reason: str | None = None) -> list[int]:
    """Record the member's first completion of each of `milestones`; return those this call must announce.

    One transaction, committed before anything is sent: a milestone already recorded (announced, failed,
    skipped or being announced) is never returned again (the insert's ON CONFLICT DO NOTHING returns no row;
    on PostgreSQL two processes inserting the same key concurrently: the second waits, then returns nothing).
    With `announce` False the new rows are 'skipped'.
    """

    def run(conn: Connection) -> list[int]:
        claimed = []
        for milestone in milestones:
            inserted = conn.execute(
                upsert(milestones_table)
                .values(guild_id=guild_id, user_id=user_id, milestone=milestone, reached_at=now,
                        announce="claimed" if announce else "skipped", reason=None if announce else skip_reason)
                .on_conflict_do_nothing(index_elements=["guild_id", "user_id", "milestone"])
                .returning(_M.milestone)
            ).first()
            if inserted is not None and announce:
                claimed.append(milestone)
        return claimed

    return await db.run_sync(run)


async def record_announcement(db: Database, guild_id: int, user_id: int, milestones: Sequence[int], *,
                              message_id: int | None, reason: str | None) -> None:
    """The claimed announcement went out (`message_id`) or failed (`reason`; not tried again)."""
    if not milestones:
        return

    def write(conn: Connection) -> None:
        conn.execute(
            update(milestones_table)
            .where(_M.guild_id == guild_id, _M.user_id == user_id, _M.milestone.in_(list(milestones)),
                   _M.announce == "claimed")
            .values(announce="posted" if message_id is not None else "failed", message_id=message_id, reason=reason))

    await db.run_sync(write)


async def claim_role(db: Database, guild_id: int, user_id: int, milestone: int, role_id: int, *,
                     now: datetime) -> bool:
    """Record `role_id` as given for the member's milestone before giving it; False when it already was."""

    def write(conn: Connection) -> bool:
        return conn.execute(
            update(milestones_table)
            .where(_M.guild_id == guild_id, _M.user_id == user_id, _M.milestone == milestone,
                   _M.role_id.is_distinct_from(role_id))
            .values(role_id=role_id, role_at=now)
        ).rowcount == 1

    return await db.run_sync(write)


async def release_role(db: Database, guild_id: int, user_id: int, milestone: int, role_id: int) -> None:
    """The role could not be given: forget the claim, so the member's next completion tries again."""

    def write(conn: Connection) -> None:
        conn.execute(
            update(milestones_table)
            .where(_M.guild_id == guild_id, _M.user_id == user_id, _M.milestone == milestone, _M.role_id == role_id)
            .values(role_id=None, role_at=None))

    await db.run_sync(write)

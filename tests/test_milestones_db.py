"""db.milestones and db.settings on each engine: a milestone is claimed once, its role claimed once and released;
settings and metadata upsert. (Ported to SQLAlchemy Core for issue 9: the same statements on SQLite and
PostgreSQL.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from db import milestones, settings
from db.database import Database
from db.progress import ensure_member
from db.tables import milestones as milestones_table

G, U = 1234567890123456789, 987654321098765432  # snowflakes above 2**31
T0 = datetime(2026, 1, 1, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


async def test_a_milestone_is_claimed_once_and_its_announcement_recorded(db: Database) -> None:
    assert await milestones.claim_milestones(db, G, U, [1, 2], T0, announce=True) == [1, 2]
    assert await milestones.claim_milestones(db, G, U, [1, 2, 3], T0, announce=True) == [3]
    assert await milestones.claim_milestones(db, G, U, [4], T0, announce=False, skip_reason="hidden") == []
    await milestones.record_announcement(db, G, U, [1, 2], message_id=2**62, reason=None)
    await milestones.record_announcement(db, G, U, [3], message_id=None, reason="no access")
    await milestones.record_announcement(db, G, U, [], message_id=None, reason="nothing")
    m = milestones_table.c
    rows = await db.fetchall(select(m.milestone, m.announce, m.message_id, m.reason, m.reached_at)
                             .where(m.guild_id == G, m.user_id == U).order_by(m.milestone))
    assert [tuple(r) for r in rows] == [(1, "posted", 2**62, None, T0), (2, "posted", 2**62, None, T0),
                                        (3, "failed", None, "no access", T0), (4, "skipped", None, "hidden", T0)]


async def test_concurrent_claims_of_one_milestone_announce_it_once(db: Database) -> None:
    """On PostgreSQL the claims run concurrently (no process lock): the unique key decides; on SQLite they
    take turns."""
    results = await asyncio.gather(*(milestones.claim_milestones(db, G, U, [1], T0, announce=True)
                                     for _ in range(5)))
    assert sorted(results) == [[], [], [], [], [1]]


async def test_a_role_is_claimed_once_and_released_when_it_could_not_be_given(db: Database) -> None:
    await milestones.claim_milestones(db, G, U, [1], T0, announce=True)
    role = 2**60 + 7
    assert await milestones.claim_role(db, G, U, 1, role, now=T0)
    assert not await milestones.claim_role(db, G, U, 1, role, now=T0)
    await milestones.release_role(db, G, U, 1, role)
    assert await milestones.claim_role(db, G, U, 1, role, now=T0)
    assert not await milestones.claim_role(db, G, U, 2, role, now=T0)  # no such milestone row


async def test_settings_and_meta_upsert(db: Database) -> None:
    assert await settings.get_meta(db, "k") is None
    await settings.set_meta(db, "k", "one")
    await settings.set_meta(db, "k", "two")
    assert await settings.get_meta(db, "k") == "two"
    assert await settings.get_guild_timezone(db, G, UTC_ZONE) == UTC_ZONE
    await settings.set_guild_timezone(db, G, "Europe/Berlin")
    await settings.set_guild_timezone(db, G, "Asia/Tokyo")
    assert await settings.get_guild_timezone(db, G, UTC_ZONE) == ZoneInfo("Asia/Tokyo")
    assert await settings.member_timezone(db, G, U, UTC_ZONE) == ZoneInfo("Asia/Tokyo")
    assert await settings.member_timezone(db, G + 1, U, UTC_ZONE) == UTC_ZONE
    async with db.transaction() as conn:
        await ensure_member(conn, G, U, T0)
        await ensure_member(conn, G, U, T0)  # twice: nothing new
    assert await settings.member_timezone(db, G, U, UTC_ZONE) == ZoneInfo("Asia/Tokyo")  # no zone of their own

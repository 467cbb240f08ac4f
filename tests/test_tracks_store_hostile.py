"""Tracks and nudges in the store under concurrency, on both engines (a SQLite file and PostgreSQL): two admins
uploading at once, the plan limit raced, a member switching onto a plan while it is removed, two processes
retrying the same nudge claim. On PostgreSQL writers really run at once (READ COMMITTED, no process-local lock),
so a transaction is held open by hand where the order matters, and released once the other one waits on it.

Most tests here failed before the fix committed with them (`git log` names them); the others pin down
behaviour that held up under the same attack."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, text, update

from bot.domain.errors import UserError
from db import tracks as tracks_db
from db.database import Database
from db.insights import claim_nudge
from db.tables import plans

G = 1
TZ = ZoneInfo("UTC")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def plan_text(n: int, title: str) -> str:
    return f"# {title}\n" + "".join(f"- [ ] {i}. Step {i} (Do {i})\n" for i in range(1, n + 1))


async def add(db: Database, name: str, n: int = 3) -> tracks_db.PlanRow:
    return await tracks_db.add_plan(db, G, name=name, title=name, steps=n, source=plan_text(n, name), now=T0, by=9,
                                    limit=10)


async def waiting_on_a_lock(db: Database) -> None:
    """Until another session of this PostgreSQL database waits on a lock (the writer under test is blocked)."""
    for _ in range(2000):
        async with db.engine.connect() as conn:
            waiting = (await conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer under test never waited")


async def test_two_admins_adding_different_plans_at_once_both_succeed(db: Database) -> None:
    first, second = await asyncio.gather(add(db, "Frontend"), add(db, "Data"))
    assert {first.plan_id, second.plan_id} == {1, 2}
    assert sorted(r.name for r in await tracks_db.list_plans(db, G)) == ["Data", "Frontend"]


async def test_an_upload_racing_another_is_stored_under_the_next_id(db: Database) -> None:
    """PostgreSQL: another admin's upload is inserted but not committed yet when this one counts and picks its
    id: it must wait and take the next one, not fail as 'a plan with that name' (the names differ)."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers take turns: the interleaving cannot happen")
    async with db.engine.connect() as other:
        await other.begin()
        await other.execute(insert(plans).values(
            guild_id=G, plan_id=1, name="Frontend", name_key="frontend", version=1, title="Frontend", steps=3,
            source=plan_text(3, "Frontend"), uploaded_at=T0, uploaded_by=8))
        mine = asyncio.create_task(add(db, "Data"))
        await waiting_on_a_lock(db)
        await other.commit()
    row = await mine
    assert row.plan_id == 2
    assert sorted(r.name for r in await tracks_db.list_plans(db, G)) == ["Data", "Frontend"]


async def test_the_plan_limit_holds_when_the_last_two_places_are_raced(db: Database) -> None:
    for i in range(8):
        await add(db, f"Plan {i}")
    results = await asyncio.gather(*(add(db, name) for name in ("Ninth", "Tenth", "Eleventh")),
                                   return_exceptions=True)
    refused = [r for r in results if isinstance(r, UserError)]
    assert len(refused) == 1, results
    assert "10 plans already" in refused[0].message
    assert len(await tracks_db.list_plans(db, G)) == 10


async def test_a_stale_nudge_claim_is_retried_by_one_of_two_at_once(db: Database) -> None:
    week = date(2026, 3, 2)
    now = T0

    async def claim(at: datetime) -> bool:
        return await claim_nudge(db, G, 5, week=week, plan_id=0, step=3, nonce="nd" + "0" * 23, now=at, by=9,
                                 every=timedelta(days=7), grace=timedelta(minutes=2))

    assert await claim(now)
    assert not await claim(now + timedelta(minutes=1))  # another press, a moment later: still being sent
    later = now + timedelta(minutes=10)  # the first press never finished (a restart): one retry wins
    assert sorted(await asyncio.gather(claim(later), claim(later))) == [False, True]
    assert not await claim(later + timedelta(minutes=1))


async def test_a_member_switching_onto_a_plan_being_removed_is_refused_not_left_on_it(db: Database) -> None:
    """PostgreSQL: the plan is being removed (its row updated, not committed) when a member switches onto it:
    the switch waits for the removal and is refused, instead of leaving the member on a removed plan."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers take turns: the interleaving cannot happen")
    row = await add(db, "Frontend")
    async with db.engine.connect() as other:
        await other.begin()
        await other.execute(update(plans).where(plans.c.guild_id == G, plans.c.plan_id == row.plan_id)
                            .values(removed_at=T0))
        switching = asyncio.create_task(tracks_db.switch_track(db, G, 5, row.plan_id, steps=[1, 2, 3], now=T0,
                                                               default_tz=TZ, version=1))
        waiter = asyncio.create_task(waiting_on_a_lock(db))
        await asyncio.wait([switching, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        await other.commit()
    with pytest.raises(UserError, match="removed meanwhile"):
        await switching
    assert await tracks_db.member_track(db, G, 5) == (0, None, None)


async def test_a_switch_with_the_steps_of_an_older_version_is_refused(db: Database) -> None:
    row = await add(db, "Frontend", 3)
    await tracks_db.update_plan(db, G, row.plan_id, expected_version=1, title="Frontend", steps=[1, 2],
                                source=plan_text(2, "Frontend"), now=T0, by=9, default_tz=TZ)
    with pytest.raises(UserError, match="updated just now"):
        await tracks_db.switch_track(db, G, 5, row.plan_id, steps=[1, 2, 3], now=T0, default_tz=TZ, version=1)

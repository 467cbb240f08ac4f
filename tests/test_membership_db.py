"""Away members in storage (migration 0008) on a real SQLite file: off every ranking while away, back after.

Away members reuse the hidden-member mechanism (`members.visible`, its copy in period_counts, the rank_counts
histogram and the partial ranking indexes), so ranks and totals stay right and the queries keep their indexes.
These failed before 0008: there was no `left_at`, and nothing took a member who left off the boards.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.domain.reminders import PauseReason, Schedule
from bot.domain.timeutil import ALL_DAYS
from db import membership
from db import reminders as reminder_store
from db.community import buddies, on_pace, standing, top
from db.database import Database, migrations, split_statements, to_db
from db.progress import set_visible
from db.tables import members, reminders
from tests.test_community_db import done, rank_counts_drift

G = 1
UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_away_members_leave_every_ranking_and_come_back_with_the_counts_right(db: Database) -> None:
    rng = random.Random(8)
    for step in range(80):
        user = rng.randint(1, 8)
        action = rng.choice(["done", "done", "leave", "return", "hide", "show"])
        at = T0 + timedelta(days=rng.randint(0, 40), minutes=step)
        if action == "done":
            await done(db, user, [rng.randint(1, 20)], at)
        elif action == "leave":
            await membership.mark_away(db, G, user, at)
        elif action == "return":
            await membership.mark_present(db, G, user)
        else:
            await set_visible(db, G, user, action == "show", at)
        assert await rank_counts_drift(db) == [], (step, action)
    m = members.c
    rows = await db.fetchall(select(m.user_id, m.visible, m.visible_choice, m.left_at).where(m.guild_id == G))
    for user_id, visible, choice, left_at in rows:
        assert visible == int(choice == 1 and left_at is None), user_id


async def test_an_away_member_is_on_no_board_count_or_buddy_list_and_keeps_their_data(db: Database) -> None:
    await done(db, 1, range(1, 6), T0)  # 5 steps, on step 6
    await done(db, 2, range(1, 4), T0 + timedelta(hours=1))  # 3 steps, on step 4
    await done(db, 3, range(1, 4), T0 + timedelta(hours=2))  # 3 steps, on step 4
    assert await membership.mark_away(db, G, 2, T0 + timedelta(days=1))
    for key in (None, "2026-W01", "2026-01"):
        assert [r.user_id for r in await top(db, G, key)] == [1, 3], key
        own = await standing(db, G, 3, key)
        assert (own.rank, own.total) == (2, 2), key
    assert await on_pace(db, G, 3) == (2, 2)
    assert [b.user_id for b in (await buddies(db, G, 4, exclude=0))[0]] == [3]
    assert await membership.away_since(db, G, 2) == T0 + timedelta(days=1)
    assert await db.fetchone(select(members.c.done_count).where(members.c.guild_id == G, members.c.user_id == 2))
    assert await membership.mark_present(db, G, 2)
    assert not await membership.mark_present(db, G, 2)  # already back: nothing to write
    assert [r.user_id for r in await top(db, G, None)] == [1, 2, 3]
    assert (await standing(db, G, 3, "2026-W01")).rank == 3


async def test_leaving_pauses_an_active_reminder_keeps_an_off_one_off_and_creates_no_rows(db: Database) -> None:
    schedule = Schedule(time(9), UTC_ZONE, ALL_DAYS)
    await reminder_store.set_reminder(db, G, 1, schedule, T0)
    await reminder_store.set_reminder(db, G, 2, schedule, T0)
    await reminder_store.turn_off(db, G, 2, T0)
    await membership.mark_away(db, G, 1, T0)
    await membership.mark_away(db, G, 2, T0)
    first = await reminder_store.get_reminder(db, G, 1)
    assert first is not None
    assert (first.paused, first.paused_at, first.next_due) == (PauseReason.LEFT_SERVER, T0, None)
    second = await reminder_store.get_reminder(db, G, 2)
    assert second is not None
    assert (second.enabled, second.paused) == (False, None)
    assert not await membership.mark_away(db, G, 99, T0)  # never stored: nothing to do
    assert await db.fetchone(select(members).where(members.c.guild_id == G, members.c.user_id == 99)) is None
    await membership.mark_present(db, G, 1)
    still = await reminder_store.get_reminder(db, G, 1)
    assert still is not None
    assert still.paused is PauseReason.LEFT_SERVER  # until /remind set
    resumed = await reminder_store.set_reminder(db, G, 1, schedule, T0 + timedelta(days=1))
    assert resumed.active


async def test_a_reminder_paused_as_left_server_by_any_writer_takes_the_member_off_the_boards(db: Database) -> None:
    """The tick's weekly membership check pauses with LEFT_SERVER on its own path; the member leaves the boards."""
    await done(db, 1, range(1, 4), T0)
    await reminder_store.set_reminder(db, G, 1, Schedule(time(9), UTC_ZONE, ALL_DAYS), T0)
    async with db.transaction() as conn:
        await conn.execute(update(reminders).where(reminders.c.guild_id == G, reminders.c.user_id == 1)
                           .values(paused_reason="left_server", paused_at=datetime(2026, 1, 5, tzinfo=UTC),
                                   next_due_utc=None))
    assert await membership.away_since(db, G, 1) == datetime(2026, 1, 5, tzinfo=UTC)
    assert await top(db, G, None) == []
    assert await rank_counts_drift(db) == []


async def test_an_older_database_keeps_each_members_privacy_choice(db_path: Path) -> None:
    """A SQLite file made before 0008 (schema 7, by plain sqlite3 as the previous Stepwise did), where member 2
    chose to hide (members.visible 0, as /data privacy stored it then): adopted, the choice is kept."""
    with sqlite3.connect(db_path) as raw:
        for version, _name, sql in migrations():
            if version < 8:
                for statement in split_statements(sql):
                    raw.execute(statement)
                raw.execute(f"PRAGMA user_version = {version:d}")
        for user, count, visible in ((1, 3, 1), (2, 2, 0)):
            raw.execute("INSERT INTO members (guild_id, user_id, visible, done_count, reached_at, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (G, user, visible, count, to_db(T0), to_db(T0)))
    raw.close()
    db = Database(db_path)
    await db.open()
    await db.migrate()
    try:
        await membership.mark_away(db, G, 2, T0)
        await membership.mark_present(db, G, 2)
        assert [r.user_id for r in await top(db, G, None)] == [1]  # still hidden by their own choice
        await membership.mark_away(db, G, 1, T0)
        assert await top(db, G, None) == []
        await membership.mark_present(db, G, 1)
        assert [r.user_id for r in await top(db, G, None)] == [1]
        assert await rank_counts_drift(db) == []
    finally:
        await db.close()

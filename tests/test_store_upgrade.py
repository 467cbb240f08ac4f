"""SQLite files made by earlier Stepwise versions upgrade in place (Alembic revision 0001 adopts them) with
nothing lost, and an older Stepwise then refuses the upgraded file instead of running on it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from db import tables
from db.database import Database, migrations
from db.schema import ADOPTED_USER_VERSION, LEGACY_LATEST, head_revision
from tests.legacy_store import ALICE, BOB, GUILD, build_legacy_file, dump, schema


async def migrate(path: Path) -> str:
    db = Database(path)
    await db.open()
    try:
        return await db.migrate()
    finally:
        await db.close()


@pytest.mark.parametrize("version", [4, LEGACY_LATEST])
async def test_a_file_of_an_earlier_version_upgrades_with_nothing_lost(tmp_path: Path, version: int) -> None:
    old = tmp_path / "old.sqlite3"
    build_legacy_file(old, version)
    before = dump(old)
    assert sum(len(rows) for _cols, rows in before.values()) >= 12

    assert await migrate(old) == head_revision()

    after = dump(old)
    for table, (columns, rows) in before.items():
        kept_columns, _ = after[table]
        assert kept_columns[:len(columns)] == columns, table  # new columns only ever come after the old ones
        raw = sqlite3.connect(old)
        try:
            kept = sorted(raw.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=repr)
        finally:
            raw.close()
        assert kept == rows, f"{table} changed"
    # The schema is exactly the one a fresh file gets, triggers included.
    fresh = tmp_path / "fresh.sqlite3"
    await migrate(fresh)
    assert schema(old) == schema(fresh)
    raw = sqlite3.connect(old)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == ADOPTED_USER_VERSION
        # columns that later migrations added got their values from those migrations
        assert raw.execute("SELECT user_id, visible_choice, left_at FROM members ORDER BY user_id").fetchall() == [
            (ALICE, 1, None), (BOB, 0, None)]
        assert raw.execute("SELECT COUNT(*) FROM reminders WHERE member_checked_at IS NULL").fetchone()[0] == 0
        assert raw.execute("SELECT user_id, current_step FROM members ORDER BY user_id").fetchall() == [
            (ALICE, 3), (BOB, 2)]
    finally:
        raw.close()


async def test_upgraded_rows_read_through_the_new_store_and_triggers_still_work(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    build_legacy_file(old, 4)
    db = Database(old)
    await db.open()
    try:
        await db.migrate()
        m, s, c = tables.members, tables.reminder_sends, tables.community_settings
        alice = await db.fetchone(select(m).where(m.c.guild_id == GUILD, m.c.user_id == ALICE))
        assert alice is not None
        assert alice.reached_at == datetime(2026, 1, 6, 9, 30, 0, 123456, tzinfo=UTC)
        assert (alice.done_count, alice.current_step, alice.visible, alice.timezone) == (2, 3, 1, "Asia/Tokyo")
        sends = await db.fetchall(select(s.c.local_date, s.c.outcome).order_by(s.c.local_date))
        assert [(r.local_date, r.outcome) for r in sends] == [(date(2026, 1, 5), "missed"), (date(2026, 1, 6), "sent")]
        settings = await db.fetchone(select(c.c.cohort_start, c.c.cohort_pace, c.c.leaderboard_next_slot))
        assert settings is not None
        assert tuple(settings) == (date(2026, 1, 5), 2.5, datetime(2026, 1, 7, 7, tzinfo=UTC))
        # the rank histogram's triggers from 0002 keep working on the adopted file
        async with db.transaction() as conn:
            await conn.execute(insert(m).values(guild_id=GUILD, user_id=3, done_count=2, reached_at=alice.reached_at,
                                                created_at=alice.reached_at))
        rc = tables.rank_counts
        two = await db.fetchone(select(rc.c.members).where(rc.c.guild_id == GUILD, rc.c.period == "all",
                                                           rc.c.done_count == 2))
        assert two is not None
        assert two.members == 2
    finally:
        await db.close()


async def test_the_previous_stepwise_refuses_an_upgraded_file(tmp_path: Path) -> None:
    """The previous db/database.py refused any user_version above its last migration file (8)."""
    old = tmp_path / "old.sqlite3"
    build_legacy_file(old, 4)
    await migrate(old)
    raw = sqlite3.connect(old)
    try:
        stored = raw.execute("PRAGMA user_version").fetchone()[0]
    finally:
        raw.close()
    assert stored > len(migrations()) == LEGACY_LATEST


async def test_upgrading_twice_changes_nothing(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    build_legacy_file(old, 4)
    await migrate(old)
    once = dump(old)
    await migrate(old)
    assert dump(old) == once

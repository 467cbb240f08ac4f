"""The database: migrations tracked by user_version, transactions, and refusing a newer schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from db.database import Database, DatabaseError, from_db, migrations, split_statements, to_db


async def test_migrations_apply_once_and_are_tracked(db_path: Path) -> None:
    db = Database(db_path)
    await db.open()
    try:
        latest = await db.migrate()
        assert latest == len(migrations()) >= 1
        assert await db.user_version() == latest
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "members", "progress", "history", "period_counts", "guild_settings"} <= tables
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
        assert await db.migrate() == latest  # a second start applies nothing
    finally:
        await db.close()


async def test_refuses_a_database_newer_than_the_code(db_path: Path) -> None:
    db = Database(db_path)
    await db.open()
    await db.migrate()
    await db.conn.execute("PRAGMA user_version = 999")
    with pytest.raises(DatabaseError, match="schema version 999, newer than this code"):
        await db.migrate()
    await db.close()


async def test_transaction_rolls_back_on_error(db_path: Path) -> None:
    db = Database(db_path)
    await db.open()
    await db.migrate()
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")
    assert await db.fetchone("SELECT value FROM meta WHERE key = 'a'") is None
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('a', '2')")
    assert (await db.fetchone("SELECT value FROM meta WHERE key = 'a'"))[0] == "2"
    await db.close()


async def test_a_failed_migration_leaves_the_previous_version(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = migrations()
    broken = [*good, (len(good) + 1, "9999_broken.sql", "CREATE TABLE ok_one (x INTEGER);\nNOT SQL AT ALL;\n")]
    monkeypatch.setattr("db.database.migrations", lambda: broken)
    db = Database(db_path)
    await db.open()
    with pytest.raises(Exception, match="syntax error"):
        await db.migrate()
    assert await db.user_version() == len(good)
    assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'ok_one'") is None
    await db.close()


def test_split_statements_keeps_semicolons_inside_strings() -> None:
    sql = "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nINSERT INTO a VALUES ('x;y');\n"
    assert split_statements(sql) == ["CREATE TABLE a (x TEXT DEFAULT ';');", "INSERT INTO a VALUES ('x;y');"]
    with pytest.raises(DatabaseError, match="incomplete"):
        split_statements("CREATE TABLE a (x")


def test_times_round_trip_as_sortable_utc_text() -> None:
    berlin = timezone(timedelta(hours=1))
    instant = datetime(2026, 3, 29, 2, 30, tzinfo=berlin)
    text = to_db(instant)
    assert text == "2026-03-29T01:30:00.000000+00:00"
    assert from_db(text) == instant
    assert to_db(datetime(2026, 1, 1, tzinfo=UTC)) < to_db(datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        to_db(datetime(2026, 1, 1))  # noqa: DTZ001 - a naive time is the point of this test

"""The database: migrations tracked by user_version, transactions, and refusing a newer schema."""

from __future__ import annotations

import asyncio
import sqlite3
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


async def test_run_sync_commits_and_returns_the_result(db_path: Path) -> None:
    db = Database(db_path)
    await db.open()
    await db.migrate()

    def write(raw: sqlite3.Connection) -> int:
        assert raw.in_transaction  # inside BEGIN IMMEDIATE
        raw.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [("a", "1"), ("b", "2")])
        return int(raw.execute("SELECT COUNT(*) FROM meta WHERE key IN ('a', 'b')").fetchone()[0])

    assert await db.run_sync(write) == 2
    assert (await db.fetchone("SELECT value FROM meta WHERE key = 'b'"))[0] == "2"
    assert not db.conn.in_transaction  # committed, nothing left open
    await db.close()


async def test_run_sync_rolls_back_everything_on_error(db_path: Path) -> None:
    db = Database(db_path)
    await db.open()
    await db.migrate()

    def half_then_boom(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
        raise RuntimeError("boom")

    def half_then_bad_sql(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO meta (key, value) VALUES ('b', '1')")
        raw.execute("INSERT INTO meta (key, value) VALUES ('c', NULL)")  # NOT NULL fails

    with pytest.raises(RuntimeError, match="boom"):
        await db.run_sync(half_then_boom)
    with pytest.raises(sqlite3.IntegrityError):
        await db.run_sync(half_then_bad_sql)
    assert list(await db.fetchall("SELECT key FROM meta WHERE key IN ('a', 'b', 'c')")) == []
    assert not db.conn.in_transaction
    await db.run_sync(lambda raw: raw.execute("INSERT INTO meta (key, value) VALUES ('a', '2')"))  # still usable
    assert (await db.fetchone("SELECT value FROM meta WHERE key = 'a'"))[0] == "2"
    await db.close()


async def test_run_sync_takes_turns_with_transactions(db_path: Path) -> None:
    """run_sync holds the write lock: it waits for an open transaction() instead of failing inside it."""
    db = Database(db_path)
    await db.open()
    await db.migrate()
    order: list[str] = []

    async def slow_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('order', 'first')")
            order.append("transaction")
            await asyncio.sleep(0.01)  # run_sync is waiting meanwhile

    def second(raw: sqlite3.Connection) -> None:
        order.append("run_sync")
        raw.execute("UPDATE meta SET value = 'second' WHERE key = 'order'")

    writer = asyncio.create_task(slow_writer())
    await asyncio.sleep(0)
    await asyncio.gather(writer, db.run_sync(second))
    assert order == ["transaction", "run_sync"]
    assert (await db.fetchone("SELECT value FROM meta WHERE key = 'order'"))[0] == "second"
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


async def test_a_task_cancelled_while_beginning_leaves_no_transaction_open(db_path: Path) -> None:
    """Cancelling a writer while it awaits BEGIN IMMEDIATE must not leave the shared connection inside a
    transaction (before the fix, every later write failed with 'cannot start a transaction within a
    transaction' until restart)."""
    db = Database(db_path)
    await db.open()
    await db.migrate()
    try:
        for _ in range(20):  # the cancellation lands at various points of the BEGIN hop
            async def writer() -> None:
                async with db.transaction() as conn:
                    await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('w', 'x')")

            task = asyncio.create_task(writer())
            await asyncio.sleep(0)  # the task is now awaiting BEGIN IMMEDIATE on the worker thread
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with db.transaction() as conn:  # the next writer works
                await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('after', '1')")
            assert (await db.fetchone("SELECT value FROM meta WHERE key = 'after'"))[0] == "1"
    finally:
        await db.close()


async def test_reads_never_see_another_tasks_uncommitted_writes(db_path: Path) -> None:
    """A read issued while another coroutine's transaction() is open sees only committed data (before the fix
    it ran inside that transaction on the shared connection and saw a value that was then rolled back)."""
    db = Database(db_path)
    await db.open()
    await db.migrate()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def doomed_writer() -> None:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('ghost', 'seen')")
                inside.set()
                await release.wait()
                raise RuntimeError("rolled back")

    try:
        task = asyncio.create_task(doomed_writer())
        await inside.wait()
        seen = await db.fetchone("SELECT value FROM meta WHERE key = 'ghost'")
        rows = list(await db.fetchall("SELECT key FROM meta WHERE key = 'ghost'"))
        release.set()
        await task
        assert seen is None
        assert rows == []
    finally:
        await db.close()

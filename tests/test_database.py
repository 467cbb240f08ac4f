"""The store: migrations (Alembic, adopting legacy SQLite files), transactions, reads, and refusing a newer schema.

Every test runs on each engine of STEPWISE_TEST_ENGINES (SQLite and PostgreSQL) unless it is about SQLite files.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from db import tables
from db.database import Database, DatabaseError, from_db, migrations, split_statements, to_db
from db.dialects import upsert
from db.schema import ADOPTED_USER_VERSION, head_revision, split_postgresql

META = tables.meta


async def opened(url: str | Path) -> Database:
    db = Database(url)
    await db.open()
    await db.migrate()
    return db


async def meta_value(db: Database, key: str) -> str | None:
    row = await db.fetchone(select(META.c.value).where(META.c.key == key))
    return None if row is None else str(row.value)


async def test_migrations_apply_once_and_are_tracked(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    await db.open()
    try:
        assert await db.current() is None
        revision = await db.migrate()
        assert revision == head_revision() == await db.current()
        expected = {"meta", "members", "progress", "history", "period_counts", "guild_settings", "reminders",
                    "reminder_sends", "reminder_deliveries", "leaderboard_posts", "milestones", "rank_counts"}
        if db.dialect == "sqlite":
            assert await db.user_version() == ADOPTED_USER_VERSION
            names = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
            assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
        else:
            names = {r[0] for r in await db.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert expected <= names
        assert set(tables.metadata.tables) <= names
        assert await db.migrate() == revision  # a second start applies nothing
    finally:
        await db.close()


async def test_refuses_a_database_newer_than_the_code(db_url: str) -> None:
    db = await opened(db_url)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        with pytest.raises(DatabaseError, match="schema version 0999, newer than this code") as caught:
            await db.migrate()
        assert "\n" not in str(caught.value)
    finally:
        await db.close()


async def test_refuses_a_sqlite_file_whose_user_version_is_newer(db_path: Path) -> None:
    db = await opened(db_path)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("PRAGMA user_version = 999"))
        with pytest.raises(DatabaseError, match="schema version 999, newer than this code"):
            await db.migrate()
    finally:
        await db.close()


async def test_transaction_rolls_back_on_error(db_url: str) -> None:
    db = await opened(db_url)
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute(insert(META).values(key="a", value="1"))
                raise RuntimeError("boom")
        assert await meta_value(db, "a") is None
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": "a", "v": "2"})
        assert await meta_value(db, "a") == "2"
    finally:
        await db.close()


async def test_run_sync_commits_and_returns_the_result(db_url: str) -> None:
    db = await opened(db_url)

    def write(conn: Connection) -> int:
        assert conn.in_transaction()
        conn.execute(insert(META), [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
        return int(conn.execute(select(func.count()).select_from(META).where(META.c.key.in_(["a", "b"])))
                   .scalar_one())

    try:
        assert await db.run_sync(write) == 2
        assert await meta_value(db, "b") == "2"
        assert await db.run_sync(lambda conn: conn.execute(select(META.c.value).where(META.c.key == "a"))
                                 .scalar_one(), write=False) == "1"
    finally:
        await db.close()


async def test_run_sync_rolls_back_everything_on_error(db_url: str) -> None:
    db = await opened(db_url)

    def half_then_boom(conn: Connection) -> None:
        conn.execute(insert(META).values(key="a", value="1"))
        raise RuntimeError("boom")

    def half_then_bad_sql(conn: Connection) -> None:
        conn.execute(insert(META).values(key="b", value="1"))
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('c', NULL)"))  # NOT NULL fails

    try:
        with pytest.raises(RuntimeError, match="boom"):
            await db.run_sync(half_then_boom)
        with pytest.raises(IntegrityError):
            await db.run_sync(half_then_bad_sql)
        assert list(await db.fetchall(select(META.c.key).where(META.c.key.in_(["a", "b", "c"])))) == []
        await db.run_sync(lambda conn: conn.execute(insert(META).values(key="a", value="2")))  # still usable
        assert await meta_value(db, "a") == "2"
    finally:
        await db.close()


async def test_run_sync_takes_turns_with_transactions(db_path: Path) -> None:
    """On SQLite run_sync holds the write lock: it waits for an open transaction() instead of failing inside it."""
    db = await opened(db_path)
    order: list[str] = []

    async def slow_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="order", value="first"))
            order.append("transaction")
            await asyncio.sleep(0.01)  # run_sync is waiting meanwhile

    def second(conn: Connection) -> None:
        order.append("run_sync")
        conn.execute(update(META).where(META.c.key == "order").values(value="second"))

    try:
        writer = asyncio.create_task(slow_writer())
        await asyncio.sleep(0)
        await asyncio.gather(writer, db.run_sync(second))
        assert order == ["transaction", "run_sync"]
        assert await meta_value(db, "order") == "second"
    finally:
        await db.close()


async def test_postgresql_writers_run_concurrently(db_url: str) -> None:
    """On PostgreSQL there is no process lock: a second writer commits while the first is still open."""
    db = await opened(db_url)
    if db.dialect != "postgresql":
        await db.close()
        pytest.skip("SQLite writers take turns (see test_run_sync_takes_turns_with_transactions)")
    first_open = asyncio.Event()
    second_done = asyncio.Event()

    async def first() -> None:
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="first", value="1"))
            first_open.set()
            await second_done.wait()

    async def second() -> None:
        await first_open.wait()
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="second", value="1"))
        second_done.set()

    try:
        await asyncio.wait_for(asyncio.gather(first(), second()), 60)
        assert await meta_value(db, "first") == await meta_value(db, "second") == "1"
    finally:
        await db.close()


def _legacy_file(path: Path, up_to: int) -> None:
    """A SQLite file as the previous Stepwise made it: legacy migrations 1..up_to with plain sqlite3."""
    with sqlite3.connect(path) as raw:
        for version, _name, sql in migrations()[:up_to]:
            for statement in split_statements(sql):
                raw.execute(statement)
            raw.execute(f"PRAGMA user_version = {version:d}")
    raw.close()


async def test_a_failed_migration_leaves_the_previous_version(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _legacy_file(db_path, 4)
    good = migrations()
    broken = [*good, (len(good) + 1, "9999_broken.sql", "CREATE TABLE ok_one (x INTEGER);\nNOT SQL AT ALL;\n")]
    monkeypatch.setattr("db.database.migrations", lambda: broken)
    db = Database(db_path)
    await db.open()
    try:
        with pytest.raises(Exception, match="syntax error"):
            await db.migrate()
        assert await db.user_version() == 4
        assert await db.fetchone("SELECT name FROM sqlite_master WHERE name IN ('ok_one', 'alembic_version')") is None
    finally:
        await db.close()


def test_split_statements_keeps_semicolons_inside_strings() -> None:
    sql = "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nINSERT INTO a VALUES ('x;y');\n"
    assert split_statements(sql) == ["CREATE TABLE a (x TEXT DEFAULT ';');", "INSERT INTO a VALUES ('x;y');"]
    with pytest.raises(DatabaseError, match="incomplete"):
        split_statements("CREATE TABLE a (x")


def test_split_postgresql_keeps_function_bodies_whole() -> None:
    sql = ("-- a comment; with a semicolon\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
           "BEGIN NEW.x := ';'; RETURN NEW; END $$;\n\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW "
           "EXECUTE FUNCTION f();\nSELECT 'it''s; fine', $body$ ; $body$;\n-- trailing\n")
    assert split_postgresql(sql) == [
        "-- a comment; with a semicolon\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN NEW.x := ';'; RETURN NEW; END $$",
        "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f()",
        "SELECT 'it''s; fine', $body$ ; $body$",
    ]


def test_times_round_trip_as_sortable_utc_text() -> None:
    berlin = timezone(timedelta(hours=1))
    instant = datetime(2026, 3, 29, 2, 30, tzinfo=berlin)
    text_ = to_db(instant)
    assert text_ == "2026-03-29T01:30:00.000000+00:00"
    assert from_db(text_) == instant
    assert to_db(datetime(2026, 1, 1, tzinfo=UTC)) < to_db(datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        to_db(datetime(2026, 1, 1))  # noqa: DTZ001 - a naive time is the point of this test


async def test_instants_days_and_snowflakes_round_trip(db_url: str) -> None:
    db = await opened(db_url)
    guild, user = 1234567890123456789, 987654321098765432
    at = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    m = tables.members
    try:
        async with db.transaction() as conn:
            await conn.execute(insert(m).values(guild_id=guild, user_id=user, reached_at=at, created_at=at))
            await conn.execute(insert(tables.community_settings).values(guild_id=guild, cohort_start=date(2026, 2, 1)))
        row = await db.fetchone(select(m).where(m.c.guild_id == guild, m.c.reached_at >= at - timedelta(seconds=1)))
        assert row is not None
        assert (row.guild_id, row.user_id, row.visible, row.current_step) == (guild, user, 1, 1)
        assert row.reached_at == at
        assert row.reached_at.utcoffset() == timedelta(0)
        day = await db.fetchone(select(tables.community_settings.c.cohort_start))
        assert day is not None
        assert day.cohort_start == date(2026, 2, 1)
        if db.dialect == "sqlite":  # the text today's schema holds, so old rows read back unchanged
            raw = await db.fetchone("SELECT reached_at FROM members")
            assert raw is not None
            assert raw[0] == "2026-03-29T01:30:00.000000+00:00"
        with pytest.raises(Exception, match="naive"):
            async with db.transaction() as conn:
                await conn.execute(update(m).values(left_at=datetime(2026, 1, 1)))  # noqa: DTZ001
    finally:
        await db.close()


async def test_unreadable_stored_times_read_as_none_on_sqlite(db_path: Path) -> None:
    db = await opened(db_path)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO members (guild_id, user_id, reached_at, created_at, left_at) "
                                    "VALUES (1, 2, 'not a time', '0001-01-01T00:00:00.000000+00:00', 'x')"))
            await conn.execute(text("INSERT INTO community_settings (guild_id, cohort_start) VALUES (1, 'soon')"))
        row = await db.fetchone(select(tables.members))
        assert row is not None
        assert row.reached_at is None
        assert row.left_at is None
        assert row.created_at == datetime(1, 1, 1, tzinfo=UTC)
        day = await db.fetchone(select(tables.community_settings.c.cohort_start))
        assert day is not None
        assert day.cohort_start is None
    finally:
        await db.close()


async def test_upsert_is_written_once_for_both_engines(db_url: str) -> None:
    db = await opened(db_url)
    rc = tables.rank_counts
    try:
        for _ in range(2):
            async with db.transaction() as conn:
                stmt = upsert(rc).values(guild_id=1, period="all", done_count=3, members=1)
                await conn.execute(stmt.on_conflict_do_update(index_elements=[rc.c.guild_id, rc.c.period,
                                                                              rc.c.done_count],
                                                              set_={"members": rc.c.members + stmt.excluded.members}))
        assert (await db.fetchone(select(rc.c.members))).members == 2  # type: ignore[union-attr]
        async with db.transaction() as conn:
            stmt = upsert(META).values([{"key": "x", "value": "1"}, {"key": "y", "value": "1"}])
            first = (await conn.execute(stmt.on_conflict_do_nothing().returning(META.c.key))).scalars().all()
            stmt = upsert(META).values([{"key": "y", "value": "2"}, {"key": "z", "value": "2"}])
            second = (await conn.execute(stmt.on_conflict_do_nothing().returning(META.c.key))).scalars().all()
        assert sorted(first) == ["x", "y"]
        assert second == ["z"]
        async with db.transaction() as conn:  # FOR UPDATE SKIP LOCKED: rendered on PostgreSQL, dropped on SQLite
            keys = (await conn.execute(select(META.c.key).order_by(META.c.key).limit(2)
                                       .with_for_update(skip_locked=True))).scalars().all()
        assert keys == ["x", "y"]
    finally:
        await db.close()


async def test_a_task_cancelled_while_beginning_leaves_no_transaction_open(db_url: str) -> None:
    """Cancelling a writer while it awaits BEGIN (IMMEDIATE) must not leave a connection inside a transaction
    (before the fix, on the old aiosqlite store every later write failed with 'cannot start a transaction within a
    transaction' until restart)."""
    db = await opened(db_url)
    try:
        for spins in range(20):  # the cancellation lands at various points of connecting and beginning
            async def writer() -> None:
                async with db.transaction() as conn:
                    await conn.execute(upsert(META).values(key="w", value="x").on_conflict_do_nothing())

            task = asyncio.create_task(writer())
            for _ in range(spins % 5):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with db.transaction() as conn:  # the next writer works
                await conn.execute(upsert(META).values(key="after", value=str(spins))
                                   .on_conflict_do_update(index_elements=[META.c.key], set_={"value": str(spins)}))
            assert await meta_value(db, "after") == str(spins)
        if db.dialect == "postgresql":
            idle = await db.fetchone("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND state LIKE 'idle in transaction%'")
            assert idle is not None
            assert idle[0] == 0
    finally:
        await db.close()


async def test_a_task_cancelled_while_waiting_for_the_lock_or_inside_leaves_nothing_open(db_url: str) -> None:
    db = await opened(db_url)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="held", value="1"))
            holding.set()
            await release.wait()

    async def inside() -> None:
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="doomed", value="1"))
            await asyncio.sleep(3600)

    try:
        first = asyncio.create_task(holder())
        await holding.wait()
        doomed = asyncio.create_task(inside())
        await asyncio.sleep(0.05)  # SQLite: waiting for the lock; PostgreSQL: inside its own transaction
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)
        release.set()
        await first
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="after", value="1"))
        assert await meta_value(db, "doomed") is None
        assert await meta_value(db, "held") == await meta_value(db, "after") == "1"
    finally:
        await db.close()


async def test_reads_never_see_another_tasks_uncommitted_writes(db_url: str) -> None:
    """A read issued while another coroutine's transaction() is open sees only committed data (before the fix
    it ran inside that transaction on the shared connection and saw a value that was then rolled back)."""
    db = await opened(db_url)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def doomed_writer() -> None:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute(insert(META).values(key="ghost", value="seen"))
                inside.set()
                await release.wait()
                raise RuntimeError("rolled back")

    try:
        task = asyncio.create_task(doomed_writer())
        await inside.wait()
        seen = await db.fetchone(select(META.c.value).where(META.c.key == "ghost"))
        rows = list(await db.fetchall(select(META.c.key).where(META.c.key == "ghost")))
        async with db.read() as conn:
            in_snapshot = (await conn.execute(select(META.c.key).where(META.c.key == "ghost"))).all()
        release.set()
        await task
        assert seen is None
        assert rows == []
        assert in_snapshot == []
    finally:
        await db.close()


async def test_the_reader_cannot_write(db_url: str) -> None:
    db = await opened(db_url)
    try:
        with pytest.raises(Exception, match=r"(?i)read.only|readonly|attempt to write"):
            async with db.read() as conn:
                await conn.execute(insert(META).values(key="r", value="1"))
        assert await meta_value(db, "r") is None
    finally:
        await db.close()


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "not a url at all", "postgresql+asyncpg://u:secret@"
                                 "127.0.0.1:1/db"])
async def test_a_bad_url_or_an_unreachable_server_is_one_line_without_the_password(url: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        db = Database(url)
        await db.open()
    message = str(caught.value)
    assert "\n" not in message
    assert "secret" not in message


async def test_refuse_writes_makes_every_write_fail_and_reads_work(db_url: str) -> None:
    from tests.store_faults import refuse_writes

    db = await opened(db_url)
    try:
        await refuse_writes(db)
        with pytest.raises(Exception, match=r"(?i)read.only|readonly|attempt to write"):
            async with db.transaction() as conn:
                await conn.execute(insert(META).values(key="a", value="1"))
        assert await meta_value(db, "a") is None
        await refuse_writes(db, on=False)
        async with db.transaction() as conn:
            await conn.execute(insert(META).values(key="a", value="1"))
        assert await meta_value(db, "a") == "1"
    finally:
        await db.close()

"""The one SQLite connection: opening, migrations, transactions."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(RuntimeError):
    """The database cannot be used (newer than the code, unreadable, a failed migration)."""


def to_db(instant: datetime) -> str:
    """Aware datetime -> fixed-width UTC text that sorts as it compares."""
    if instant.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bundled migration file, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("db.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise DatabaseError(f"migration files must be numbered 0001, 0002, ... without gaps: {versions}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a migration file into single statements (executescript would commit on its own)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise DatabaseError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:80]}")
    return statements


class Database:
    """One aiosqlite connection, WAL, foreign keys, and one writer transaction at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None  # reads: committed data only (WAL), never a writer's
        self._write_lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseError("the database is not open")
        return self._conn

    async def open(self) -> None:
        if self._conn is not None:
            return
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await self._connect(("busy_timeout = 5000", "journal_mode = WAL", "foreign_keys = ON",
                                    "synchronous = NORMAL"))
        if str(self.path) == ":memory:":  # one private database: reads must use the same connection
            self._conn = self._reader = conn
            return
        try:
            reader = await self._connect(("busy_timeout = 5000", "foreign_keys = ON", "query_only = ON"))
        except BaseException:
            await conn.close()
            raise
        self._conn, self._reader = conn, reader

    async def _connect(self, pragmas: Sequence[str]) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            for pragma in pragmas:
                await conn.execute_fetchall(f"PRAGMA {pragma}")
        except BaseException:
            await conn.close()
            raise
        return conn

    @property
    def reader(self) -> aiosqlite.Connection:
        """The connection for reads: outside any writer's transaction, it sees only committed data."""
        if self._reader is None:
            raise DatabaseError("the database is not open")
        return self._reader

    async def close(self) -> None:
        conn, reader = self._conn, self._reader
        self._conn = self._reader = None
        if reader is not None and reader is not conn:
            await reader.close()
        if conn is not None:
            await conn.close()

    async def user_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction. Returns the schema version."""
        available = migrations()
        latest = available[-1][0] if available else 0
        current = await self.user_version()
        if current > latest:
            raise DatabaseError(
                f"the database {self.path} has schema version {current}, newer than this code knows "
                f"({latest}): upgrade Stepwise or point database_path at another file"
            )
        for version, name, sql in available:
            if version <= current:
                continue
            async with self.transaction() as conn:
                for statement in split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version:d}")
            log.info("applied migration %s", name)
        return latest

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; one writer at a time."""
        async with self._write_lock:
            conn = self.conn
            try:
                await _uncancellable(_begin(conn))
            except asyncio.CancelledError:  # BEGIN went through, but the task is cancelled: undo it now
                await _uncancellable(_rollback(conn))
                raise
            try:
                yield conn
            except BaseException:
                await _uncancellable(_rollback(conn))
                raise
            else:
                await _uncancellable(_commit(conn))

    async def run_sync(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run `fn(raw)` as one transaction on aiosqlite's worker thread: one awaited hop in all.

        `raw` is the underlying `sqlite3.Connection` (rows are `sqlite3.Row`); `fn` runs inside BEGIN IMMEDIATE
        ... COMMIT, rolled back if it (or the COMMIT) raises, and the exception reaches the caller. It holds the
        same write lock as `transaction()`, so writers still take turns. `write=False` is for several reads that
        belong together (a leaderboard page): a plain BEGIN, so they see one snapshot and never the inside of
        another task's open `transaction()`.

        `transaction()` costs one hop per statement (~35-90 µs each); a user action that makes several statements
        can put them in `fn` instead. Rules for `fn`: plain synchronous code on the worker thread, no awaiting, no
        event-loop objects (it may not touch Discord), nothing slow, and no BEGIN/COMMIT of its own. It runs to
        the end even if the awaiting task is cancelled (BEGIN and COMMIT are inside the one call, so a
        cancellation never leaves a transaction open).

        This is the one place that uses aiosqlite's private `Connection._execute(fn)` (aiosqlite 0.20-0.22: queue
        `fn` on the connection's worker thread, the only thread allowed to use the sqlite3 connection, and await
        its result). Pin aiosqlite's version range with that in mind.
        """
        conn = self.conn if write else self.reader
        execute = cast(Callable[..., Awaitable[T]], conn._execute)  # private API, see the docstring
        raw = conn._conn
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"

        def in_transaction() -> T:
            raw.execute(begin)
            try:
                result = fn(raw)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            return result

        if not write and conn is not self._conn:
            return await execute(in_transaction)  # the reader: one snapshot, no need to wait for writers
        async with self._write_lock:
            return await execute(in_transaction)

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """The first row, in one round trip to the reader's thread (execute + fetch + close would be three).

        Reads go to their own connection, so they see only committed data, never the inside of a
        transaction another task has open on the writer (WAL: readers do not wait for the writer).
        """
        rows = await self.reader.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Iterable[sqlite3.Row]:
        return await self.reader.execute_fetchall(sql, params)


async def _begin(conn: aiosqlite.Connection) -> None:
    if conn.in_transaction:  # never expected; heals a connection left open by anything unforeseen
        log.error("the write connection was left inside a transaction; rolling it back")
        await conn.execute("ROLLBACK")
    await conn.execute("BEGIN IMMEDIATE")


async def _rollback(conn: aiosqlite.Connection) -> None:
    if conn.in_transaction:
        await conn.execute("ROLLBACK")


async def _commit(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("COMMIT")
    except BaseException:
        await _rollback(conn)
        raise


async def _uncancellable(step: Awaitable[None]) -> None:
    """Run a transaction-control step to its end even if the awaiting task is cancelled meanwhile.

    aiosqlite runs each statement on its worker thread whatever happens to the awaiting task: a BEGIN whose
    awaiter was cancelled still opens a transaction. So the step (and, after a cancelled BEGIN, the rollback)
    finishes while the write lock is still held, and the cancellation is delivered afterwards.
    """
    task = asyncio.ensure_future(step)
    cancelled = False
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError

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
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            for pragma in ("busy_timeout = 5000", "journal_mode = WAL", "foreign_keys = ON", "synchronous = NORMAL"):
                await conn.execute_fetchall(f"PRAGMA {pragma}")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
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
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")

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
        conn = self.conn
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

        async with self._write_lock:
            return await execute(in_transaction)

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """The first row, in one round trip to aiosqlite's thread (execute + fetch + close would be three)."""
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Iterable[sqlite3.Row]:
        return await self.conn.execute_fetchall(sql, params)

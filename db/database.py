"""The store's engines: SQLite (embedded, the default) or PostgreSQL, through SQLAlchemy Core's async API.

SQLite: a writer engine (one connection; `BEGIN IMMEDIATE`; an asyncio lock so writers take turns) and a reader
engine (plain `BEGIN`, `query_only`: WAL snapshots of committed data that never wait for the writer).
PostgreSQL: one pooled engine; writes are READ COMMITTED transactions that rely on constraints and row locks (no
process-local lock), reads are REPEATABLE READ read-only snapshots.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_TIMEOUT_MS = 5000


class DatabaseError(RuntimeError):
    """The database cannot be used (newer than the code, unreachable, a bad URL, a failed migration)."""


def to_db(instant: datetime) -> str:
    """Aware datetime -> fixed-width UTC text that sorts as it compares (what db.types.Instant stores on SQLite)."""
    if instant.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every legacy SQLite migration file (db/migrations), in order.

    Alembic's revision 0001 applies the ones above a file's `PRAGMA user_version` (db/schema.py)."""
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
    """Split a SQLite migration file into single statements (trigger bodies stay whole)."""
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


def database_url(value: str | Path | URL) -> URL:
    """A Path, a SQLite/PostgreSQL URL (any driver spelling) -> the async URL the store uses.

    DatabaseError (one line, the password hidden) when it is not a URL the store can use."""
    if isinstance(value, Path):
        return URL.create("sqlite+aiosqlite", database=str(value))
    try:
        url = make_url(value)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {_mask(str(value))!r} (expected sqlite:///path/to/file or "
                            "postgresql+asyncpg://user:password@host/database)") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise DatabaseError(f"unsupported database {backend!r} in {url.render_as_string(hide_password=True)}: "
                        "use sqlite:///path/to/file or postgresql+asyncpg://user:password@host/database")


def _mask(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)


def describe_error(error: BaseException) -> str:
    """One line for an error from the driver (SQLAlchemy wraps them with the SQL and a link)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    elif isinstance(error, SQLAlchemyError) and error.__cause__ is not None:
        error = error.__cause__
    message = str(error).strip().splitlines()
    first = message[0] if message else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class Database:
    """The store: `transaction()` to write, `read()` / `fetchone` / `fetchall` to read, `run_sync` for one hop."""

    def __init__(self, url: str | Path | URL) -> None:
        self.url = database_url(url)
        self.dialect: str = self.url.get_backend_name()  # "sqlite" | "postgresql"
        self.path: Path | None = None  # the SQLite file (Path(":memory:") for a private in-memory database)
        if self.dialect == "sqlite":
            self.path = Path(self.url.database or ":memory:")
        self._memory = self.dialect == "sqlite" and str(self.path) in (":memory:", "")
        self._writer: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        # SQLite: writers take turns (one connection, BEGIN IMMEDIATE). PostgreSQL: no process-local lock.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None

    def __repr__(self) -> str:
        return f"Database({self.describe()})"

    def describe(self) -> str:
        """Where the store is, for messages: a SQLite path or the URL with its password hidden."""
        if self.path is not None:
            return str(self.path)
        return self.url.render_as_string(hide_password=True)

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    @property
    def engine(self) -> AsyncEngine:
        """The engine writes go through (SQLite: the one writer connection)."""
        if self._writer is None:
            raise DatabaseError("the database is not open")
        return self._writer

    @property
    def read_engine(self) -> AsyncEngine:
        if self._reader is None:
            raise DatabaseError("the database is not open")
        return self._reader

    async def open(self) -> None:
        """Create the engines and make one connection, so a bad file or an unreachable server fails here."""
        if self._writer is not None:
            return
        if self.dialect == "sqlite":
            self._open_sqlite()
        else:
            # max_cached_statement_lifetime=0: asyncpg's statement cache stays bounded by size but arms no
            # 300-s expiry timer per statement (such timers keep SimCord's settle, and any loop, waiting).
            self._writer = create_async_engine(self.url, pool_size=5, max_overflow=10, pool_pre_ping=True,
                                               connect_args={"max_cached_statement_lifetime": 0})
            self._reader = self._writer.execution_options(isolation_level="REPEATABLE READ",
                                                           postgresql_readonly=True)
        try:
            async with self.engine.connect():
                pass
        except (SQLAlchemyError, OSError) as error:
            await self.close()
            raise DatabaseError(f"cannot open {self.describe()}: {describe_error(error)}") from error

    def _open_sqlite(self) -> None:
        assert self.path is not None
        if self._memory:  # one private database: a single connection serves reads and writes (under the lock)
            engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE", writer=True, poolclass=StaticPool)
            self._writer = self._reader = engine
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _sqlite_engine(self.url, "BEGIN IMMEDIATE", writer=True, pool_size=1, max_overflow=0,
                                      pool_timeout=3600)
        # The reader always ends what it begins (commit, or rollback on close), so the pool's reset on return
        # would only add a hop to the driver's thread per read.
        self._reader = _sqlite_engine(self.url, "BEGIN", writer=False, pool_size=4, max_overflow=8,
                                      pool_reset_on_return=None)

    async def close(self) -> None:
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        if reader is not None and reader is not writer and self.dialect == "sqlite":
            await reader.dispose()
        if writer is not None:
            await writer.dispose()

    async def migrate(self) -> str:
        """Upgrade the schema to this code's head (Alembic); returns the revision. Refuses a newer database."""
        from db.schema import upgrade

        return await upgrade(self)

    async def current(self) -> str | None:
        """The schema revision stored in the database (None: never migrated)."""
        from db.schema import current_revision

        return await current_revision(self)

    async def user_version(self) -> int:
        """SQLite's `PRAGMA user_version` (the legacy schema number; 9 once adopted by Alembic). 0 on PostgreSQL."""
        if self.dialect != "sqlite":
            return 0
        row = await self.fetchone(text("PRAGMA user_version"))
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed at exit, rolled back on an error or a cancellation.

        SQLite: BEGIN IMMEDIATE under the write lock (one writer at a time). PostgreSQL: READ COMMITTED.
        """
        engine = self.engine
        if self._write_lock is None:
            async with engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot of committed data (never the inside of another task's open transaction)."""
        if self._memory:
            async with self.transaction() as conn:
                yield conn
            return
        async with self.read_engine.begin() as conn:
            yield conn

    async def run_sync(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run `fn(conn)` with a sync SQLAlchemy Connection, in ONE transaction, in one awaited hop.

        `write=True`: inside `transaction()` (committed at the end, rolled back if `fn` raises; the exception
        reaches the caller). `write=False`: inside `read()` (a snapshot; several reads that belong together).
        `fn` is plain synchronous code: no awaiting, no Discord, nothing slow, no BEGIN/COMMIT of its own.
        """
        context = self.transaction() if write else self.read()
        async with context as conn:
            return await conn.run_sync(fn)

    async def fetchone(self, stmt: Executable | str, params: Mapping[str, Any] | None = None) -> Row[Any] | None:
        """The first row of a read (on the reader: committed data only). A str is taken as `text()`."""
        async with self._one_read() as conn:
            result = await conn.execute(_statement(stmt), dict(params) if params else None)
            return result.first()

    async def fetchall(self, stmt: Executable | str, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        async with self._one_read() as conn:
            result = await conn.execute(_statement(stmt), dict(params) if params else None)
            return result.all()

    @asynccontextmanager
    async def _one_read(self) -> AsyncIterator[AsyncConnection]:
        """For ONE statement: on SQLite's reader no BEGIN/COMMIT around it (a single statement is its own
        snapshot), which saves two of the four hops to the driver's thread that a `read()` costs."""
        if self._memory or self.dialect != "sqlite":
            async with self.read() as conn:
                yield conn
            return
        async with self.read_engine.connect() as conn:
            await conn.execution_options(**{SINGLE_STATEMENT: True})
            yield conn


SINGLE_STATEMENT = "stepwise_single_statement"  # execution option: no BEGIN/COMMIT (SQLite reader)


def _statement(stmt: Executable | str) -> Executable:
    return text(stmt) if isinstance(stmt, str) else stmt


def _sqlite_engine(url: URL, begin: str, *, writer: bool, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    pragmas = [f"busy_timeout = {BUSY_TIMEOUT_MS}", "foreign_keys = ON"]
    pragmas += ["journal_mode = WAL", "synchronous = NORMAL"] if writer else ["query_only = ON"]

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver emits no BEGIN of its own: the "begin" hook below does
        cursor = dbapi_conn.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        if not conn.get_execution_options().get(SINGLE_STATEMENT):
            conn.exec_driver_sql(begin)

    return engine

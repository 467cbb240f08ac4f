"""`python -m bot run | demo | check-plan PATH | db upgrade | db current | db copy --from URL --to URL`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from discord import PrivilegedIntentsRequired
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, SettingsError, load_settings
from bot.domain.plan import PlanError
from bot.domain.plan_upload import validate_upload
from db.copy import copy_database
from db.database import Database, DatabaseError, describe_error
from db.schema import describe_current

if TYPE_CHECKING:
    from bot.app import StepwiseBot

log = logging.getLogger("bot")


def configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("discord.http").setLevel(max(level, logging.WARNING))
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


def check_plan(path: Path) -> int:
    """Validate a plan file exactly as an uploaded one is checked (`validate_upload`: size, encoding, name,
    structure and limits), so an admin sees here the problems `/config plan upload` would list."""
    try:
        plan = validate_upload(path.read_bytes(), path.name)
    except OSError as error:
        print(f"cannot read {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    except PlanError as error:
        print(f"{path}: {len(error.problems)} problem(s)", file=sys.stderr)
        for line, message in error.problems:
            print(f"  line {line}: {message}" if line else f"  {message}", file=sys.stderr)
        return 1
    print(f"{plan.title}: {plan.total} steps in {len(plan.phases)} phases")
    for phase in plan.phases:
        print(f"\n## {phase.number}. {phase.name} (steps {phase.range_label})")
        for number in phase.steps:
            step = plan.step(number)
            print(f"  {step.number:>3}. {step.title}\n       exercise: {step.exercise}")
    return 0


class DatabaseCommandError(RuntimeError):
    """A `python -m bot db ...` command failed: one line naming the setting or option."""


def _database_message(where: str, error: BaseException) -> str:
    message = str(error) if isinstance(error, DatabaseError) else describe_error(error)
    return f"{where}: {message}"


async def db_upgrade(target: str | Path, where: str) -> str:
    """Upgrade the database to this code's schema; returns what to print."""
    try:
        db = Database(target)
        try:
            await db.open()
            await db.migrate()
            return f"{db.describe()}: {await describe_current(db)}"
        finally:
            await db.close()
    except (DatabaseError, SQLAlchemyError, OSError) as error:
        raise DatabaseCommandError(_database_message(where, error)) from None


async def db_current(target: str | Path, where: str) -> str:
    """The schema revision the database is at, e.g. '0001 (head)'; never creates or changes anything."""
    try:
        db = Database(target)
        if db.path is not None and str(db.path) != ":memory:" and not db.path.exists():
            return f"{db.describe()}: none (no file yet: `python -m bot db upgrade` or start-up creates it)"
        try:
            await db.open()
            shown = await describe_current(db)
            if shown:
                return f"{db.describe()}: {shown}"
            legacy = await db.user_version()
            if legacy:
                return (f"{db.describe()}: none (a file of an earlier Stepwise, schema version {legacy}: "
                        "`python -m bot db upgrade` or start-up adopts it)")
            return f"{db.describe()}: none (empty: `python -m bot db upgrade` or start-up creates the schema)"
        finally:
            await db.close()
    except (DatabaseError, SQLAlchemyError, OSError) as error:
        raise DatabaseCommandError(_database_message(where, error)) from None


async def db_copy(source_url: str, target_url: str) -> str:
    source: Database | None = None
    target: Database | None = None
    where = "--from"
    try:
        source = Database(source_url)
        where = "--to"
        target = Database(target_url)
        where = "--from"
        await source.open()
        where = "--to"
        await target.open()
        where = "copy"
        report = await copy_database(source, target)
    except (DatabaseError, SQLAlchemyError, OSError) as error:
        raise DatabaseCommandError(_database_message(where, error)) from None
    finally:
        for db in (source, target):
            if db is not None:
                await db.close()
    tables = ", ".join(f"{name} {count}" for name, count in report.rows.items() if count)
    return f"copied {report.total} rows from {source.describe()} to {target.describe()} ({tables or 'no rows'})"


async def check_database(settings: Settings) -> None:
    """Open and migrate the database before connecting, so a bad file stops start-up with one line."""
    try:
        db = Database(settings.database_target)
        try:
            await db.open()
            await db.migrate()
        finally:
            await db.close()
    except (DatabaseError, SQLAlchemyError, OSError) as error:
        message = str(error) if isinstance(error, DatabaseError) else describe_error(error)
        raise SettingsError(f"{settings.database_setting}: {message}") from None


def check_processes(settings: Settings) -> None:
    """Refuse a multi-process configuration on SQLite: one file cannot be shared by several processes' writers."""
    ownership = settings.ownership
    if ownership.owns_all or settings.database_engine != "sqlite":
        return
    raise SettingsError(
        f"shard_ids (env SHARD_IDS, --shard-ids): SQLite is one process's database: this process would run "
        f"{ownership.describe()} and other processes the rest, all writing {settings.database_target}. Run every "
        f"shard in one process (leave SHARD_IDS empty), or give the processes a shared PostgreSQL database with "
        f"DATABASE_URL=postgresql+asyncpg://user:password@host/database")


async def run_bot(settings: Settings) -> None:
    from bot.app import create_bot

    check_processes(settings)
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise SettingsError("discord_token (env DISCORD_TOKEN): not set; put the bot token in .env or the "
                            "environment (see .env.example), or try `make demo`, which needs none")
    await check_database(settings)
    bot = create_bot(settings, freeze_heap=True)
    async with bot:
        install_shutdown_signals(bot)
        await bot.start(settings.discord_token.get_secret_value())


def install_shutdown_signals(bot: StepwiseBot) -> list[signal.Signals]:
    """SIGTERM and Ctrl+C (SIGINT) close the bot the clean way: drain the tick, then HTTP and the database.

    Returns the signals handled (none where the loop cannot take signal handlers, e.g. on Windows).
    """
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def on_signal(received: signal.Signals) -> None:
        if closing:
            return
        log.info("%s: closing (sending what is claimed, then stopping)", received.name)
        closing.append(loop.create_task(bot.close()))

    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            handled.append(sig)
    return handled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Stepwise, the study-companion bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="connect to Discord (needs DISCORD_TOKEN)")
    run.add_argument("--shard-ids", metavar="IDS",
                     help="the shards this process runs, e.g. 0-3 or 0,2,5 (env SHARD_IDS; needs --shard-count)")
    run.add_argument("--shard-count", metavar="N",
                     help="the total number of shards across all processes (env SHARD_COUNT)")
    demo = sub.add_parser("demo", help="run offline against a simulated Discord in your browser")
    demo.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    demo.add_argument("--no-wait", action="store_true", help="set up, print the URL, and exit (for checks)")
    check = sub.add_parser("check-plan", help="validate a plan file and print its phases and steps")
    check.add_argument("path", type=Path)
    database = sub.add_parser("db", help="the database: upgrade, current, copy")
    db_sub = database.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="upgrade the schema to this version's (start-up does it too)")
    current = db_sub.add_parser("current", help="print the schema revision the database is at")
    for command in (upgrade, current):
        command.add_argument("--url", help="this database instead of DATABASE_URL / DATABASE_PATH")
    copy = db_sub.add_parser("copy", help="copy every row into another, empty database (e.g. SQLite -> PostgreSQL)")
    copy.add_argument("--from", dest="source", required=True, metavar="URL",
                      help="the database to copy (at this version's schema), e.g. sqlite:///data/stepwise.sqlite3")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="an empty database, e.g. postgresql+asyncpg://stepwise:password@localhost/stepwise")
    args = parser.parse_args(argv)

    if args.command == "check-plan":
        return check_plan(args.path)
    if args.command == "db":
        return database_command(args)
    try:
        overrides = {} if args.command != "run" else {
            name: value for name, value in (("shard_ids", args.shard_ids), ("shard_count", args.shard_count))
            if value is not None}
        settings = load_settings(**overrides)
        configure_logging(settings.log_level_number)
        settings.load_plan()  # a bad plan stops start-up here, with one line
        if args.command == "run":
            asyncio.run(run_bot(settings))
        else:
            from bot.demo import run_demo

            asyncio.run(run_demo(settings, port=args.port, wait=not args.no_wait))
    except SettingsError as error:
        print(f"stepwise: cannot start: {error}", file=sys.stderr)
        return 2
    except PrivilegedIntentsRequired:
        print("stepwise: cannot start: members_intent (env MEMBERS_INTENT): Discord refused the Server Members "
              "intent; turn it on in the developer portal (your app -> Bot -> Privileged Gateway Intents) or set "
              "MEMBERS_INTENT=false", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def database_command(args: argparse.Namespace) -> int:
    """`python -m bot db upgrade | current | copy`: prints one line; a failure is one line on stderr, exit 2."""
    try:
        if args.db_command == "copy":
            print(asyncio.run(db_copy(args.source, args.target)))
            return 0
        if args.url is not None:
            target: str | Path = args.url
            where = "--url"
        else:
            settings = load_settings()
            target, where = settings.database_target, settings.database_setting
        run = db_upgrade if args.db_command == "upgrade" else db_current
        print(asyncio.run(run(target, where)))
    except (SettingsError, DatabaseCommandError) as error:
        print(f"stepwise: db {args.db_command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

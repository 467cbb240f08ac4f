"""`python -m bot db upgrade | current | copy`, and start-up refusing a bad DATABASE_URL in one line."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.__main__ import main
from db import tables
from db.database import Database
from db.schema import head_revision
from tests import engines
from tests.legacy_store import ALICE, GUILD, build_legacy_file


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("DISCORD_TOKEN", "DATABASE_PATH", "DATABASE_URL", "PLAN_PATH", "DEV_GUILD_ID", "LOG_LEVEL",
                 "DEFAULT_TIMEZONE", "SHARD_IDS", "SHARD_COUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "db.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(path))
    return path


def one_line(text: str) -> str:
    text = text.strip()
    assert text.count("\n") == 0, text
    assert "Traceback" not in text
    return text


def test_db_upgrade_then_current_on_database_path(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 0
    assert one_line(capsys.readouterr().out) == f"{clean_env}: none (no file yet: `python -m bot db upgrade` or " \
                                                "start-up creates it)"
    assert not clean_env.exists()  # looking never creates anything
    assert main(["db", "upgrade"]) == 0
    assert one_line(capsys.readouterr().out) == f"{clean_env}: {head_revision()} (head)"
    assert main(["db", "current"]) == 0
    assert one_line(capsys.readouterr().out) == f"{clean_env}: {head_revision()} (head)"


def test_db_current_names_a_legacy_file_without_changing_it(clean_env: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    build_legacy_file(clean_env, 4)
    assert main(["db", "current"]) == 0
    out = one_line(capsys.readouterr().out)
    assert out.endswith("none (a file of an earlier Stepwise, schema version 4: `python -m bot db upgrade` or "
                        "start-up adopts it)")
    with sqlite3.connect(clean_env) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 4
    raw.close()
    assert main(["db", "upgrade"]) == 0
    assert one_line(capsys.readouterr().out).endswith(f"{head_revision()} (head)")


def test_db_commands_on_each_engine(empty_db_url: str, capsys: pytest.CaptureFixture[str],
                                    clean_env: Path) -> None:
    assert main(["db", "upgrade", "--url", empty_db_url]) == 0
    assert one_line(capsys.readouterr().out).endswith(f": {head_revision()} (head)")
    assert main(["db", "current", "--url", empty_db_url]) == 0
    out = one_line(capsys.readouterr().out)
    assert out.endswith(f": {head_revision()} (head)")


def test_db_upgrade_refuses_a_newer_database_in_one_line(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(clean_env) as raw:
        raw.execute("PRAGMA user_version = 999")
    raw.close()
    assert main(["db", "upgrade"]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith("stepwise: db upgrade: database_path (env DATABASE_PATH): the database ")
    assert "schema version 999, newer than this code" in err


@pytest.mark.parametrize(("url", "expected"), [
    ("mysql://stepwise:hunter2@db.example/stepwise", "unsupported database 'mysql'"),
    ("postgresql+asyncpg://stepwise:hunter2@127.0.0.1:1/stepwise", "cannot open postgresql+asyncpg://stepwise:***@"),
    ("::not a url::", "not a database URL"),
])
def test_start_up_refuses_a_bad_database_url_in_one_line_without_the_password(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        url: str, expected: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    assert main(["run"]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith("stepwise: cannot start: database_url (env DATABASE_URL): "), err
    assert expected in err
    assert "hunter2" not in err
    assert "not-a-real-token" not in err
    assert not clean_env.exists()  # DATABASE_PATH is not used when DATABASE_URL is set


def test_database_path_still_works_when_database_url_is_unset(clean_env: Path) -> None:
    from bot.config import load_settings

    settings = load_settings()
    assert settings.database_target == clean_env
    assert settings.database_engine == "sqlite"
    assert load_settings(database_url="postgresql://u:p@h/d").database_engine == "postgresql"
    with_url = load_settings(database_url="postgresql://u:hunter2@h/d")
    assert with_url.database_target == "postgresql+asyncpg://u:hunter2@h/d"
    assert "hunter2" not in repr(with_url)  # the URL may hold a password: settings never show it


async def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    db = Database(url)
    await db.open()
    try:
        out = {}
        for table in tables.metadata.sorted_tables:
            stmt = select(table).order_by(*table.primary_key.columns)
            if table is tables.rank_counts:
                stmt = stmt.where(table.c.members > 0)
            out[table.name] = [tuple(row) for row in await db.fetchall(stmt)]
        return out
    finally:
        await db.close()


@pytest.mark.skipif("postgresql" not in engines.ENGINES, reason="STEPWISE_TEST_ENGINES leaves PostgreSQL out")
def test_db_copy_moves_a_sqlite_store_to_postgresql(clean_env: Path, pg_server: engines.PgServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    engines.RUN.engines.add("postgresql")
    build_legacy_file(clean_env, 8)
    source = f"sqlite:///{clean_env}"
    target = engines.new_pg_database(pg_server, migrated=False).render_as_string(hide_password=False)

    assert main(["db", "copy", "--from", source, "--to", target]) == 2  # the source must be upgraded first
    assert "run `python -m bot db upgrade` on it first" in one_line(capsys.readouterr().err)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()

    assert main(["db", "copy", "--from", source, "--to", target]) == 0
    out = one_line(capsys.readouterr().out)
    assert out.startswith("copied 22 rows from ")
    before, after = asyncio.run(_rows(source)), asyncio.run(_rows(target))
    assert after == before
    assert len(after["members"]) == 2
    assert after["members"][0][1] == ALICE

    async def add_history() -> int:  # the copied ids do not collide with new ones
        db = Database(target)
        await db.open()
        try:
            async with db.transaction() as conn:
                h = tables.history
                result = await conn.execute(insert(h).values(guild_id=GUILD, user_id=ALICE, batch=3, step=3,
                                                             at=after["history"][0][list(h.c.keys()).index("at")])
                                        .returning(h.c.id))
                return int(result.scalar_one())
        finally:
            await db.close()

    assert asyncio.run(add_history()) == 3
    assert main(["db", "copy", "--from", source, "--to", target]) == 2  # never into a database that holds data
    assert "already holds data" in one_line(capsys.readouterr().err)

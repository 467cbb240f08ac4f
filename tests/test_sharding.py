"""Shards (issue 9, "Shards and processes"): the rule, the shard lists, the settings and the start-up refusal.

The behaviour (which process sends which server's reminders and posts) is in tests/test_shard_ownership.py.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import BigInteger, literal, literal_column, select

from bot.__main__ import main
from bot.config import SettingsError, load_settings
from bot.domain.community import PostSchedule
from bot.domain.reminders import Schedule
from bot.domain.sharding import Ownership, ShardSpecError, format_shard_ids, parse_shard_ids, shard_of
from db import reminders as store
from db.community import due_posts, due_posts_query, set_leaderboard
from db.database import Database
from db.posts import claim_slot, stale_claims
from db.shards import owned, owned_clause
from db.tables import members
from tests.test_community_db import plan_of


# A snowflake's shard is (id >> 22) % count: these ids are built so that their shard is known.
def guild_on(shard: int, count: int, n: int = 1) -> int:
    return ((n * count + shard) << 22) | 0x3FFFFF  # low 22 bits (worker, process, increment) do not matter


# ---------------------------------------------------------------- the rule


def test_shard_of_follows_discords_rule() -> None:
    assert shard_of(0, 1) == 0
    assert shard_of(41771983423143937, 1) == 0
    # Discord's documented example: guild 41771983423143937 on shard (id >> 22) % count
    assert shard_of(41771983423143937, 2) == (41771983423143937 >> 22) % 2
    for count in (1, 2, 8, 16):
        for shard in range(count):
            assert shard_of(guild_on(shard, count, n=5), count) == shard
    assert shard_of(guild_on(3, 8), 8) == 3
    assert shard_of(2**63 - 1, 8) == ((2**63 - 1) >> 22) % 8  # the largest snowflake
    with pytest.raises(ShardSpecError):
        shard_of(1, 0)


@pytest.mark.parametrize(("text", "ids"), [
    ("0", (0,)),
    ("0-3", (0, 1, 2, 3)),
    ("0,2,5", (0, 2, 5)),
    (" 5, 0-1 ,8-9", (0, 1, 5, 8, 9)),
    ("7-7", (7,)),
])
def test_parse_shard_ids(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids
    assert parse_shard_ids(format_shard_ids(ids)) == ids


@pytest.mark.parametrize(("text", "says"), [
    ("", "not a list of shard ids"),
    ("0,,1", "not a list of shard ids"),
    ("a", "not a shard id"),
    ("1-", "not a shard id"),
    ("-1", "not a shard id"),
    ("3-1", "from the lower id to the higher, e.g. 1-3"),
    ("0-3,2", "shard 2 is listed twice"),
    ("0-99999", "below 65536"),
])
def test_bad_shard_lists_say_why(text: str, says: str) -> None:
    with pytest.raises(ShardSpecError, match=says):
        parse_shard_ids(text)


def test_format_shard_ids() -> None:
    assert format_shard_ids([5, 0, 1, 2, 3]) == "0-3,5"
    assert format_shard_ids([2]) == "2"
    assert format_shard_ids([0, 2, 4]) == "0,2,4"


def test_ownership() -> None:
    everything = Ownership.everything()
    assert everything.owns_all
    assert everything.sql_filter is None
    assert all(everything.owns(guild_on(shard, 8)) for shard in range(8))
    assert everything.describe() == "every shard"

    assert Ownership(8).owns_all  # SHARD_COUNT alone: one process runs all of them
    assert Ownership(8).describe() == "every shard of 8"
    assert Ownership(4, (3, 1, 0, 2)).owns_all
    assert Ownership(4, (0, 1, 2, 3)).sql_filter is None

    half = Ownership(8, (0, 1, 2, 3))
    assert not half.owns_all
    assert half.sql_filter == (8, (0, 1, 2, 3))
    assert [half.owns(guild_on(shard, 8)) for shard in range(8)] == [True] * 4 + [False] * 4
    assert half.describe() == "shards 0-3 of 8"
    assert Ownership(8, (5,)).describe() == "shard 5 of 8"
    assert Ownership(8, (5, 0)).ids == (0, 5)

    with pytest.raises(ShardSpecError, match="shard 8 is not below the shard count 8"):
        Ownership(8, (0, 8))
    with pytest.raises(ShardSpecError, match="need a shard count"):
        Ownership(None, (0,))
    with pytest.raises(ShardSpecError, match="listed twice"):
        Ownership(8, (1, 1))
    with pytest.raises(ShardSpecError, match="at least 1"):
        Ownership(0)


# ---------------------------------------------------------------- settings

SHARD_ENV = ("SHARD_IDS", "SHARD_COUNT", "DISCORD_TOKEN", "DATABASE_PATH", "DATABASE_URL", "PLAN_PATH", "DEV_GUILD_ID",
             "LOG_LEVEL",
             "DEFAULT_TIMEZONE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SHARD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))


@pytest.mark.usefixtures("clean_env")
def test_shard_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_env_file=None)
    assert settings.shard_ids is None
    assert settings.shard_count is None
    assert settings.ownership == Ownership.everything()

    monkeypatch.setenv("SHARD_IDS", "")
    monkeypatch.setenv("SHARD_COUNT", "")
    assert load_settings(_env_file=None).ownership.owns_all  # empty lines in .env mean "not set"

    monkeypatch.setenv("SHARD_IDS", "0-3")
    monkeypatch.setenv("SHARD_COUNT", "8")
    settings = load_settings(_env_file=None)
    assert settings.shard_ids == (0, 1, 2, 3)
    assert settings.shard_count == 8
    assert settings.ownership == Ownership(8, (0, 1, 2, 3))

    monkeypatch.setenv("SHARD_IDS", "0,2,5")
    assert load_settings(_env_file=None).ownership.ids == (0, 2, 5)


@pytest.mark.usefixtures("clean_env")
def test_shard_settings_from_an_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SHARD_IDS=4-7\nSHARD_COUNT=8\n", encoding="utf-8")
    assert load_settings(_env_file=env_file).ownership == Ownership(8, (4, 5, 6, 7))


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(("env", "line"), [
    ({"SHARD_COUNT": "0"}, "shard_count (env SHARD_COUNT, --shard-count): must be a whole number from 1 to 65536, "
                           "not 0"),
    ({"SHARD_COUNT": "many"}, "shard_count (env SHARD_COUNT, --shard-count): Input should be a valid integer"),
    ({"SHARD_IDS": "0-3"}, "shard_ids (env SHARD_IDS, --shard-ids): needs SHARD_COUNT too"),
    ({"SHARD_IDS": "0-8", "SHARD_COUNT": "8"}, "shard_ids (env SHARD_IDS, --shard-ids): shard 8 is not below the "
                                               "shard count 8 (ids run 0-7)"),
    ({"SHARD_IDS": "0,1,1", "SHARD_COUNT": "8"}, "shard_ids (env SHARD_IDS, --shard-ids): shard 1 is listed twice"),
    ({"SHARD_IDS": "x", "SHARD_COUNT": "8"}, "shard_ids (env SHARD_IDS, --shard-ids): 'x' is not a shard id"),
    ({"SHARD_IDS": "[0, 1]", "SHARD_COUNT": "8"}, "shard_ids (env SHARD_IDS, --shard-ids): '[0' is not a shard id"),
])
def test_bad_shard_settings_stop_start_up_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], env: dict[str, str],
                                                      line: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value).startswith(line)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stepwise: cannot start: {line}")
    assert err.count("\n") == 1


@pytest.mark.usefixtures("clean_env")
def test_bad_shard_flags_stop_start_up_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--shard-ids", "0-9", "--shard-count", "8"]) == 2
    err = capsys.readouterr().err
    assert err == ("stepwise: cannot start: shard_ids (env SHARD_IDS, --shard-ids): shard 8 is not below the shard "
                   "count 8 (ids run 0-7)\n")


# ---------------------------------------------------------------- several processes on SQLite


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("argv", [
    ["run", "--shard-ids", "0-3", "--shard-count", "8"],
    ["run", "--shard-ids", "0,2,5", "--shard-count", "8"],
    ["run", "--shard-ids", "1", "--shard-count", "2"],
])
def test_several_processes_on_sqlite_are_refused_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            argv: list[str]) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("stepwise: cannot start: shard_ids (env SHARD_IDS, --shard-ids): SQLite is one process's "
                          "database: this process would run shard")
    assert f"other processes the rest, all writing {tmp_path / 'db.sqlite3'}" in err
    assert "leave SHARD_IDS empty" in err
    assert "DATABASE_URL=postgresql+asyncpg://" in err
    assert "not-a-real-token" not in err
    assert not (tmp_path / "db.sqlite3").exists()  # refused before anything was opened


@pytest.mark.usefixtures("clean_env")
def test_the_same_refusal_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SHARD_IDS", "4-7")
    monkeypatch.setenv("SHARD_COUNT", "8")
    assert main(["run"]) == 2
    assert "SQLite is one process's database: this process would run shards 4-7 of 8" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("argv", [
    ["run"],
    ["run", "--shard-count", "4"],
    ["run", "--shard-ids", "0-3", "--shard-count", "4"],  # every shard: one process, so SQLite is fine
])
def test_one_process_for_every_shard_is_not_refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2  # stops at the next check: no token in this test
    err = capsys.readouterr().err
    assert "discord_token (env DISCORD_TOKEN): not set" in err
    assert "SQLite" not in err


# ---------------------------------------------------------------- the store keeps to the owned servers

T9 = datetime(2026, 1, 1, 9, tzinfo=UTC)


async def test_sql_gives_the_same_shard_as_the_rule(db: Database) -> None:
    rng = random.Random(9)
    ids = [0, 1, (1 << 22) - 1, 1 << 22, 41771983423143937, 2**63 - 1, *(rng.randrange(2**63) for _ in range(300))]
    for count in (1, 2, 3, 8, 16, 1000):
        for guild in ids:
            column = literal(guild, BigInteger)
            own = owned(column, Ownership(count, (shard_of(guild, count),))) if count > 1 else None
            row = await db.fetchone(select(column.bitwise_rshift(literal_column("22")) % count,
                                           own if own is not None else literal_column("1")))
            assert row is not None
            assert row[0] == shard_of(guild, count), (guild, count)
            assert row[1] in (True, 1), (guild, count)  # the condition keeps the guild's own shard


def test_the_clause_is_empty_when_the_process_owns_everything() -> None:
    assert owned_clause("guild_id", None) == ("", {})
    assert owned_clause("guild_id", Ownership.everything()) == ("", {})
    assert owned_clause("guild_id", Ownership(4, (0, 1, 2, 3))) == ("", {})
    assert owned_clause("r.guild_id", Ownership(8, (2, 5))) == (
        " AND ((r.guild_id >> 22) % :shard_count) IN (:shard_0, :shard_1)",
        {"shard_count": 8, "shard_0": 2, "shard_1": 5})
    assert owned(members.c.guild_id, None) is None
    assert owned(members.c.guild_id, Ownership(4, (0, 1, 2, 3))) is None
    with pytest.raises(ValueError, match="not a column"):
        owned_clause("guild_id; DROP TABLE reminders", Ownership(8, (2,)))


async def test_due_reminders_are_only_the_owned_servers_in_every_batch(db: Database) -> None:
    guilds = [guild_on(shard, 4, n) for shard in range(4) for n in range(1, 4)]  # three servers per shard
    for guild in guilds:
        for user in range(10):
            await store.set_reminder(db, guild, 500 + user, Schedule(time(9), ZoneInfo("UTC")), T9 - timedelta(hours=1))

    async def due(ownership: Ownership | None) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        after = None
        while True:  # batches of 7, as the tick reads them (by position)
            batch = await store.due_reminders(db, T9, limit=7, after=after, ownership=ownership)
            found += [(d.reminder.guild_id, d.reminder.user_id) for d in batch]
            if len(batch) < 7:
                return found
            after = batch[-1].position

    everyone = await due(None)
    assert len(everyone) == len(set(everyone)) == 120
    assert await due(Ownership.everything()) == everyone
    assert await due(Ownership(4)) == everyone
    mine = await due(Ownership(4, (1, 3)))
    assert mine == [pair for pair in everyone if shard_of(pair[0], 4) in (1, 3)]  # the same order, a subset
    assert len(mine) == 60
    theirs = await due(Ownership(4, (0, 2)))
    assert sorted(mine + theirs) == sorted(everyone)


async def test_the_due_query_still_runs_on_the_due_index(db: Database) -> None:
    """The shard condition is checked on the index entries (SQLite: reminders is WITHOUT ROWID, its index entries
    hold guild_id), with no sort and no scan of the table; PostgreSQL: the due index drives the scan."""
    for after in (None, (T9, 1, 2)):
        stmt = store.due_statement(T9, 10, after, ownership=Ownership(8, (0, 1, 2, 3)))
        plan = await db.run_sync(lambda conn, stmt=stmt: plan_of(conn, stmt), write=False)
        if db.dialect == "sqlite":
            assert plan.startswith("SEARCH r USING INDEX reminders_due"), plan
            assert "TEMP B-TREE" not in plan, plan
            assert " / SCAN" not in plan, plan
        else:
            assert "using reminders_due on reminders r" in plan, plan
            assert "Seq Scan" not in plan, plan


async def test_due_posts_run_on_the_due_index(db: Database) -> None:
    for ownership in (None, Ownership(8, (0, 1, 2, 3))):
        stmt = due_posts_query(T9, ownership)
        plan = await db.run_sync(lambda conn, stmt=stmt: plan_of(conn, stmt), write=False)
        assert "community_due" in plan, plan
        assert "Seq Scan" not in plan, plan


async def test_due_posts_and_stale_claims_are_only_the_owned_servers(db: Database) -> None:
    guilds = [guild_on(shard, 4, n) for shard in range(4) for n in range(1, 3)]
    for guild in guilds:
        await set_leaderboard(db, guild, 77, PostSchedule("daily", time(18)), T9)
        await claim_slot(db, guild, T9, T9 + timedelta(days=1), post=T9, late=False, nonce=f"n{guild}"[:25],
                         channel_id=77, now=T9)
    for guild in guilds:  # each has an open claim (never posted); now make the next slot due as well
        await set_leaderboard(db, guild, 77, PostSchedule("daily", time(18)), T9)
    owned = Ownership(4, (2,))
    assert {p.guild_id for p in await due_posts(db, T9)} == set(guilds)
    assert {p.guild_id for p in await due_posts(db, T9, ownership=owned)} == {g for g in guilds if shard_of(g, 4) == 2}
    later = T9 + timedelta(hours=1)
    assert {c.guild_id for c in await stale_claims(db, attempted_before=later)} == set(guilds)
    assert {c.guild_id for c in await stale_claims(db, attempted_before=later, ownership=owned)} == {
        g for g in guilds if shard_of(g, 4) == 2}


def test_a_process_paces_itself_at_its_share_of_the_bots_rate() -> None:
    """Discord's global limit is per bot token: two processes with half the shards each used to pace at 40 a
    second each, 79 a second together (bench_reminders), past the bot's 50. Each now takes its share."""
    from bot.domain.reminders import SEND_RATE, send_rate_for
    from bot.domain.sharding import Ownership

    assert Ownership.everything().share == 1.0
    assert Ownership(8, (0, 1, 2, 3)).share == 0.5
    assert Ownership(8, tuple(range(8))).share == 1.0
    assert send_rate_for(Ownership(8, (0, 1, 2, 3)).share) == SEND_RATE // 2
    assert send_rate_for(Ownership(8, (4, 5, 6, 7)).share) + send_rate_for(0.5) <= SEND_RATE
    assert send_rate_for(Ownership(64, (0,)).share) == 1  # never zero
    assert send_rate_for(Ownership.everything().share) == SEND_RATE

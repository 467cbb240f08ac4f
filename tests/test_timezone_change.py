"""Changing the server's time zone: week and month counts rebuilt in SQL equal a recount, the zone and the boards
change together or not at all, bad stored done dates cannot block it, and /config timezone defers its answer.

Before the fix the zone was saved in one transaction and the boards rebuilt in another (a failure between them
left two zones), a year-1 done date made every rebuild raise after the zone was saved, and the command answered
only after the rebuild (over Discord's 3 seconds on a big server).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import simcord

from bot.domain.community import PostSchedule
from bot.domain.progress import Status
from bot.domain.timeutil import Period, local_date, local_day_starts, parse_hhmm, period_key
from db.community import change_timezone, get_settings, rebuild_period_counts, recount_periods, set_leaderboard
from db.database import Database, to_db
from db.progress import StepChange, apply_changes, undo
from db.settings import get_guild_timezone
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.test_community_db import rank_counts_drift

G = 1
UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Santiago",
         "America/Havana", "Pacific/Apia", "Europe/Berlin", "America/St_Johns", "UTC"]


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = Database(db_path)
    await database.open()
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


async def seed_random(db: Database, rng: random.Random, members: int = 25) -> None:
    """Done times over two years, many near local midnights (where zones disagree about the day)."""
    for user in range(1, members + 1):
        changes = []
        for step in rng.sample(range(1, 81), rng.randint(1, 30)):
            day = T0 + timedelta(days=rng.randint(0, 730))
            near_midnight = timedelta(hours=rng.choice([0, 10, 11, 12, 13, 14, 23, 24]),
                                      minutes=rng.choice([0, 1, 14, 15, 29, 30, 44, 45, 59]))
            changes.append(StepChange(step, Status.DONE, done_at=day + near_midnight))
        await apply_changes(db, G, user, changes, T0 + timedelta(days=800), default_tz=UTC_ZONE)


async def recount(db: Database, tz: ZoneInfo) -> dict[tuple[str, int], tuple[int, str]]:
    """(period, member) -> (done count, latest done) from the raw progress rows, with the pure period_key."""
    found: dict[tuple[str, int], tuple[int, str]] = {}
    for user, done_at in await db.fetchall("SELECT user_id, done_at FROM progress WHERE guild_id = ? AND "
                                           "status = 'done'", (G,)):
        for kind in ("week", "month"):
            period: Period = kind  # type: ignore[assignment]
            key = (period_key(datetime.fromisoformat(done_at), tz, period), int(user))
            count, latest = found.get(key, (0, ""))
            found[key] = (count + 1, max(latest, str(done_at)))
    return found


async def stored(db: Database) -> dict[tuple[str, int], tuple[int, str]]:
    return {(str(r[0]), int(r[1])): (int(r[2]), str(r[3])) for r in await db.fetchall(
        "SELECT period, user_id, done_count, reached_at FROM period_counts WHERE guild_id = ?", (G,))}


async def test_rebuilt_period_counts_equal_a_recount_in_every_kind_of_zone(db: Database) -> None:
    """Quarter-hour offsets, half-hour DST, DST at midnight, a skipped day (Apia 2011 is not in range, but its
    DST is), both sides of the date line."""
    await seed_random(db, random.Random(8))
    assert await stored(db) == await recount(db, UTC_ZONE)
    for name in ZONES:
        tz = ZoneInfo(name)
        await change_timezone(db, G, tz, T0)
        assert await stored(db) == await recount(db, tz), name
        assert await rank_counts_drift(db) == [], name
        assert (await get_guild_timezone(db, G, UTC_ZONE)).key == name


async def test_the_incremental_counts_after_a_change_agree_with_the_rebuild(db: Database) -> None:
    """A /done after the change (the incremental path) and a second rebuild give the same counts."""
    await seed_random(db, random.Random(3), members=5)
    tz = ZoneInfo("Asia/Kathmandu")
    await change_timezone(db, G, tz, T0)
    await apply_changes(db, G, 1, [StepChange(80, Status.DONE, done_at=datetime(2025, 3, 2, 18, 14, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    incremental = await stored(db)
    await rebuild_period_counts(db, G, tz)
    assert await stored(db) == incremental == await recount(db, tz)


async def test_members_who_write_while_the_counting_runs_are_recounted_in_the_change(db: Database) -> None:
    """The counting reads a snapshot without the write lock; whatever members write before the change's
    transaction (a new done step, an undo, an old done date moved with an older clock, a member forgotten)
    is caught by their fingerprint and recounted in it."""
    await seed_random(db, random.Random(12), members=12)
    tz = ZoneInfo("Asia/Kathmandu")
    counted = await recount_periods(db, G, tz)
    await apply_changes(db, G, 1, [StepChange(80, Status.DONE, done_at=datetime(2026, 3, 1, 18, 20, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)  # a new local day the snapshot never saw
    await undo(db, G, 1, T0, default_tz=UTC_ZONE)
    await apply_changes(db, G, 13, [StepChange(1, Status.DONE)], T0, default_tz=UTC_ZONE)  # a new member
    first = await db.fetchone("SELECT step, note FROM progress WHERE guild_id = ? AND user_id = 2 AND "
                              "status = 'done' ORDER BY step LIMIT 1", (G,))
    assert first is not None
    await apply_changes(db, G, 2, [StepChange(int(first[0]), Status.DONE, first[1],
                                              datetime(2025, 6, 1, 18, 15, tzinfo=UTC))],
                        T0 - timedelta(days=400), default_tz=UTC_ZONE)  # an older clock than the rows it rewrites
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM members WHERE guild_id = ? AND user_id = 3", (G,))
    await change_timezone(db, G, tz, T0, recount=counted)
    assert await stored(db) == await recount(db, tz)
    assert await rank_counts_drift(db) == []


async def test_a_recount_for_another_zone_is_not_applied(db: Database) -> None:
    await seed_random(db, random.Random(13), members=4)
    stale = await recount_periods(db, G, ZoneInfo("Asia/Tokyo"))
    await change_timezone(db, G, ZoneInfo("America/Santiago"), T0, recount=stale)
    assert await stored(db) == await recount(db, ZoneInfo("America/Santiago"))


async def test_two_admins_changing_the_zone_at_once_end_in_the_last_zone(db: Database) -> None:
    """The second change counted before the first one committed: its difference no longer applies."""
    await seed_random(db, random.Random(14), members=8)
    tokyo, santiago = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Santiago")
    second = await recount_periods(db, G, santiago)
    await change_timezone(db, G, tokyo, T0)
    await change_timezone(db, G, santiago, T0, recount=second)
    assert (await get_guild_timezone(db, G, UTC_ZONE)).key == "America/Santiago"
    assert await stored(db) == await recount(db, santiago)
    assert await rank_counts_drift(db) == []


def test_local_day_starts_split_time_as_local_date_does() -> None:
    rng = random.Random(4)
    for name in ZONES:
        tz = ZoneInfo(name)
        instants = [T0 + timedelta(minutes=rng.randint(0, 730 * 24 * 60)) for _ in range(400)]
        starts = sorted(local_day_starts({i.date() for i in instants}, tz).items())
        for instant in instants:
            day = [d for at, d in starts if at <= instant][-1]
            assert day == local_date(instant, tz), (name, instant)


async def test_a_failure_mid_way_changes_neither_the_zone_nor_the_boards(db: Database, db_path: Path) -> None:
    """A real full database: the zone row is written, then the rebuild needs pages the file may not grow to."""
    await seed_random(db, random.Random(5), members=60)
    await set_leaderboard(db, G, 42, PostSchedule("daily", parse_hhmm("18:00")), T0 + timedelta(hours=18))
    before = (await stored(db), await get_settings(db, G), await get_guild_timezone(db, G, UTC_ZONE))
    await db.conn.execute("VACUUM")  # no free pages left inside the file
    pages = (await db.fetchone("PRAGMA page_count"))[0]  # type: ignore[index]
    await db.conn.execute(f"PRAGMA max_page_count = {int(pages):d}")  # the disk is full: the file cannot grow

    class ZoneWritten(Exception):
        pass

    def zone_only(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO guild_settings (guild_id, timezone) VALUES (?, 'Pacific/Kiritimati')", (G,))
        raise ZoneWritten

    with pytest.raises(ZoneWritten):  # the zone row alone fits: the change fails after it, in the rebuild
        await db.run_sync(zone_only)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        await change_timezone(db, G, ZoneInfo("Pacific/Kiritimati"), T0)
    assert (await stored(db), await get_settings(db, G), await get_guild_timezone(db, G, UTC_ZONE)) == before
    assert before[2].key == "UTC"
    await db.conn.execute("PRAGMA max_page_count = 1073741823")  # space again: the same change goes through
    await change_timezone(db, G, ZoneInfo("Pacific/Kiritimati"), T0)
    assert await stored(db) == await recount(db, ZoneInfo("Pacific/Kiritimati"))


async def test_a_server_with_done_dates_in_year_1_and_9999_can_change_zone(db: Database, db_path: Path) -> None:
    """Before: OverflowError in the rebuild, after the zone was saved, on every try."""
    await seed_random(db, random.Random(6), members=4)
    with sqlite3.connect(db_path) as raw:  # what an old import stored
        raw.execute("UPDATE progress SET done_at = '0001-01-01T00:00:00.000000+00:00' WHERE user_id = 1 AND "
                    "step = (SELECT MIN(step) FROM progress WHERE user_id = 1 AND status = 'done')")
        raw.execute("UPDATE progress SET done_at = '9999-12-31T23:59:59.000000+00:00' WHERE user_id = 2 AND "
                    "step = (SELECT MIN(step) FROM progress WHERE user_id = 2 AND status = 'done')")
        raw.execute("UPDATE progress SET done_at = 'garbage' WHERE user_id = 3 AND "
                    "step = (SELECT MIN(step) FROM progress WHERE user_id = 3 AND status = 'done')")
    raw.close()
    for name in ("America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"):
        tz = ZoneInfo(name)
        await change_timezone(db, G, tz, T0)
        assert (await get_guild_timezone(db, G, UTC_ZONE)).key == name
        expected = await recount_without_garbage(db, tz)
        assert await stored(db) == expected
        assert await rank_counts_drift(db) == []


async def recount_without_garbage(db: Database, tz: ZoneInfo) -> dict[tuple[str, int], tuple[int, str]]:
    """`recount`, leaving out a done_at that is not a date at all (it counts in no week or month)."""
    async with db.transaction() as conn:
        await conn.execute("CREATE TEMP TABLE garbage AS SELECT * FROM progress WHERE done_at = 'garbage'")
        await conn.execute("DELETE FROM progress WHERE done_at = 'garbage'")
    try:
        return await recount(db, tz)
    finally:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO progress SELECT * FROM temp.garbage")
            await conn.execute("DROP TABLE temp.garbage")


# ---------------------------------------------------------------- /config timezone as an admin sees it


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


def callbacks(env: simcord.Env, since: int) -> list[int]:
    """The interaction response types the bot sent after the first `since` requests (5: deferred "thinking")."""
    return [int(r.json["type"]) for r in env.http_requests[since:]
            if r.method == "POST" and r.path.startswith("/interactions/") and r.path.endswith("/callback")]


async def test_timezone_defers_then_answers_and_moves_the_boards(env: simcord.Env, world: World,
                                                                 admin: simcord.MemberActor) -> None:
    bot = bot_of(env)
    # Sunday 4 January 09:30 and 10:30 UTC: one week in UTC; 10:30 is Monday (week 2) in Kiritimati.
    await apply_changes(bot.db, world.guild.id, world.alice.id,
                        [StepChange(1, Status.DONE, done_at=datetime(2026, 1, 4, 9, 30, tzinfo=UTC)),
                         StepChange(2, Status.DONE, done_at=datetime(2026, 1, 4, 10, 30, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    await admin.slash(world.channel, "config leaderboard", channel=world.channel, schedule="daily", time="18:00")
    since = len(env.http_requests)
    result = await admin.slash(world.channel, "config timezone", timezone="Pacific/Kiritimati")
    assert result.ephemeral
    assert result.response.content.startswith("✅ The server's time zone is now `Pacific/Kiritimati` (it is 14:00")
    assert callbacks(env, since) == [5]  # deferred first ("thinking"), then the answer as its followup
    weeks = {r[0]: r[1] for r in await bot.db.fetchall(
        "SELECT period, done_count FROM period_counts WHERE guild_id = ? AND period LIKE '%-W%'", (world.guild.id,))}
    assert weeks == {"2026-W01": 1, "2026-W02": 1}
    settings = await get_settings(bot.db, world.guild.id)
    assert settings.next_slot == datetime(2026, 1, 1, 4, 0, tzinfo=UTC)  # 18:00 in Kiritimati (UTC+14)


async def test_timezone_on_a_read_only_database_changes_nothing_and_says_so(env: simcord.Env, world: World,
                                                                            admin: simcord.MemberActor) -> None:
    bot = bot_of(env)
    await apply_changes(bot.db, world.guild.id, world.alice.id,
                        [StepChange(1, Status.DONE, done_at=datetime(2026, 1, 4, 10, 30, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    before = await bot.db.fetchall("SELECT * FROM period_counts ORDER BY period")
    await bot.db.conn.execute("PRAGMA query_only = ON")  # the database refuses every write
    try:
        result = await admin.slash(world.channel, "config timezone", timezone="Pacific/Kiritimati")
    finally:
        await bot.db.conn.execute("PRAGMA query_only = OFF")
    assert result.ephemeral
    assert "Something went wrong on my side" in result.response.content
    simcord.assert_error(env, sqlite3.OperationalError)
    assert (await get_guild_timezone(bot.db, world.guild.id, bot.settings.tz)).key == "UTC"
    assert [tuple(r) for r in await bot.db.fetchall("SELECT * FROM period_counts ORDER BY period")] == \
        [tuple(r) for r in before]


async def test_old_rows_with_a_done_date_in_year_1_do_not_block_the_command(env: simcord.Env, world: World,
                                                                           admin: simcord.MemberActor,
                                                                           db_path: Path) -> None:
    bot = bot_of(env)
    await apply_changes(bot.db, world.guild.id, world.alice.id,
                        [StepChange(1, Status.DONE, done_at=datetime(2026, 1, 4, 10, 30, tzinfo=UTC)),
                         StepChange(2, Status.DONE, done_at=datetime(2026, 1, 4, 10, 31, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE progress SET done_at = ? WHERE step = 2", (to_db(datetime(1, 1, 1, tzinfo=UTC)),))
    raw.close()
    for zone in ("America/Los_Angeles", "Asia/Tokyo"):
        result = await admin.slash(world.channel, "config timezone", timezone=zone)
        assert result.response.content.startswith(f"✅ The server's time zone is now `{zone}`")
        assert (await get_guild_timezone(bot.db, world.guild.id, bot.settings.tz)).key == zone

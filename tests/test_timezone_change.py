"""Changing the server's time zone: week and month counts rebuilt in SQL equal a recount, the zone and the boards
change together or not at all, bad stored done dates cannot block it, and /config timezone defers its answer.

Before the fix the zone was saved in one transaction and the boards rebuilt in another (a failure between them
left two zones), a year-1 done date made every rebuild raise after the zone was saved, and the command answered
only after the rebuild (over Discord's 3 seconds on a big server).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import simcord
from sqlalchemy import ColumnElement, Connection, and_, func, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.domain.community import PostSchedule
from bot.domain.progress import Status
from bot.domain.timeutil import Period, local_date, local_day_starts, parse_hhmm, period_key
from db.community import change_timezone, get_settings, rebuild_period_counts, recount_periods, set_leaderboard
from db.database import Database
from db.progress import StepChange, apply_changes, undo
from db.settings import get_guild_timezone
from db.tables import guild_settings, members, period_counts, progress
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.store_faults import refuse_writes
from tests.test_community_db import rank_counts_drift

G = 1
UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Santiago",
         "America/Havana", "Pacific/Apia", "Europe/Berlin", "America/St_Johns", "UTC"]


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


Counts = dict[tuple[str, int], tuple[int, datetime]]


async def recount(db: Database, tz: ZoneInfo) -> Counts:
    """(period, member) -> (done count, latest done) from the raw progress rows, with the pure period_key.
    A done_at that is not a date at all (SQLite: an old import's text; it reads as None) counts nowhere."""
    found: Counts = {}
    for user, done_at in await db.fetchall(select(progress.c.user_id, progress.c.done_at)
                                           .where(progress.c.guild_id == G, progress.c.status == "done")):
        if done_at is None:
            continue
        for kind in ("week", "month"):
            period: Period = kind  # type: ignore[assignment]
            key = (period_key(done_at, tz, period), int(user))
            count, latest = found.get(key, (0, done_at))
            found[key] = (count + 1, max(latest, done_at))
    return found


async def stored(db: Database) -> Counts:
    c = period_counts.c
    return {(str(r[0]), int(r[1])): (int(r[2]), r[3]) for r in await db.fetchall(
        select(c.period, c.user_id, c.done_count, c.reached_at).where(c.guild_id == G))}


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
    first = await db.fetchone(select(progress.c.step, progress.c.note).where(
        progress.c.guild_id == G, progress.c.user_id == 2, progress.c.status == "done").order_by(progress.c.step)
        .limit(1))
    assert first is not None
    await apply_changes(db, G, 2, [StepChange(int(first[0]), Status.DONE, first[1],
                                              datetime(2025, 6, 1, 18, 15, tzinfo=UTC))],
                        T0 - timedelta(days=400), default_tz=UTC_ZONE)  # an older clock than the rows it rewrites
    async with db.transaction() as conn:
        await conn.execute(members.delete().where(members.c.guild_id == G, members.c.user_id == 3))
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


async def on_writer(db: Database, sql: str) -> None:
    """SQLite: one statement on the writer's own connection, outside any transaction (a PRAGMA of that
    connection, VACUUM), through the aiosqlite connection's public execute()."""
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute(sql)


async def test_a_failure_mid_way_changes_neither_the_zone_nor_the_boards(db: Database) -> None:
    """SQLite, a real full database: the zone row is written, then the rebuild needs pages the file may not
    grow to. (PostgreSQL: the next test, with a refusing trigger.)"""
    if db.dialect != "sqlite":
        pytest.skip("max_page_count is SQLite's; PostgreSQL has the trigger fault below")
    await seed_random(db, random.Random(5), members=60)
    await set_leaderboard(db, G, 42, PostSchedule("daily", parse_hhmm("18:00")), T0 + timedelta(hours=18))
    before = (await stored(db), await get_settings(db, G), await get_guild_timezone(db, G, UTC_ZONE))
    await on_writer(db, "VACUUM")  # no free pages left inside the file
    pages = (await db.fetchone("PRAGMA page_count"))[0]  # type: ignore[index]
    await on_writer(db, f"PRAGMA max_page_count = {int(pages):d}")  # the disk is full: the file cannot grow

    class ZoneWritten(Exception):
        pass

    def zone_only(conn: Connection) -> None:
        conn.execute(guild_settings.insert().values(guild_id=G, timezone="Pacific/Kiritimati"))
        raise ZoneWritten

    with pytest.raises(ZoneWritten):  # the zone row alone fits: the change fails after it, in the rebuild
        await db.run_sync(zone_only)
    with pytest.raises(OperationalError, match="full"):
        await change_timezone(db, G, ZoneInfo("Pacific/Kiritimati"), T0)
    assert (await stored(db), await get_settings(db, G), await get_guild_timezone(db, G, UTC_ZONE)) == before
    assert before[2].key == "UTC"
    await on_writer(db, "PRAGMA max_page_count = 1073741823")  # space again: the same change goes through
    await change_timezone(db, G, ZoneInfo("Pacific/Kiritimati"), T0)
    assert await stored(db) == await recount(db, ZoneInfo("Pacific/Kiritimati"))


REFUSE = {  # the database refuses any change of period_counts (the zone row itself is written first)
    "sqlite": [f"CREATE TRIGGER refuse_{op} BEFORE {op} ON period_counts BEGIN SELECT RAISE(ABORT, 'refused'); END"
                for op in ("INSERT", "UPDATE", "DELETE")],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'refused'; END $$",
                   "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE OR DELETE ON period_counts "
                   "FOR EACH ROW EXECUTE FUNCTION refuse()"],
}
ALLOW = {"sqlite": [f"DROP TRIGGER refuse_{op}" for op in ("INSERT", "UPDATE", "DELETE")],
         "postgresql": ["DROP TRIGGER refuse ON period_counts", "DROP FUNCTION refuse()"]}


async def test_a_refused_rebuild_changes_neither_the_zone_nor_the_slot(db: Database) -> None:
    """Either engine: the rebuild's writes are refused by the database; the zone row and the next slot written
    in the same transaction are rolled back with them."""
    await seed_random(db, random.Random(15), members=10)
    await set_leaderboard(db, G, 42, PostSchedule("daily", parse_hhmm("18:00")), T0 + timedelta(hours=18))
    before = (await stored(db), await get_settings(db, G), await get_guild_timezone(db, G, UTC_ZONE))
    async with db.transaction() as conn:
        for statement in REFUSE[db.dialect]:
            await conn.execute(text(statement))
    with pytest.raises(DBAPIError, match="refused"):
        await change_timezone(db, G, ZoneInfo("Pacific/Kiritimati"), T0)
    assert (await stored(db), await get_settings(db, G), await get_guild_timezone(db, G, UTC_ZONE)) == before
    async with db.transaction() as conn:
        for statement in ALLOW[db.dialect]:
            await conn.execute(text(statement))
    await change_timezone(db, G, ZoneInfo("Pacific/Kiritimati"), T0)
    assert await stored(db) == await recount(db, ZoneInfo("Pacific/Kiritimati"))
    assert (await get_settings(db, G)).next_slot == datetime(2025, 1, 1, 4, tzinfo=UTC)  # 18:00 at UTC+14


async def first_done(db: Database, user: int) -> ColumnElement[bool]:
    """The condition naming a member's lowest done step's row."""
    row = await db.fetchone(select(func.min(progress.c.step)).where(
        progress.c.guild_id == G, progress.c.user_id == user, progress.c.status == "done"))
    assert row is not None
    return and_(progress.c.guild_id == G, progress.c.user_id == user, progress.c.step == row[0])


async def test_a_server_with_done_dates_in_year_1_and_9999_can_change_zone(db: Database) -> None:
    """Before: OverflowError in the rebuild, after the zone was saved, on every try. (SQLite also holds a done
    date that is not a date at all, as an old import stored it: it counts nowhere.)"""
    await seed_random(db, random.Random(6), members=4)
    async with db.transaction() as conn:  # what an old import stored
        await conn.execute(update(progress).where(await first_done(db, 1))
                           .values(done_at=datetime(1, 1, 1, tzinfo=UTC)))
        await conn.execute(update(progress).where(await first_done(db, 2))
                           .values(done_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)))
        if db.dialect == "sqlite":
            step = (await db.fetchone(select(func.min(progress.c.step)).where(
                progress.c.user_id == 3, progress.c.status == "done")))[0]  # type: ignore[index]
            await conn.execute(text("UPDATE progress SET done_at = 'garbage' WHERE user_id = 3 AND step = :s"),
                               {"s": step})
    for name in ("America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"):
        tz = ZoneInfo(name)
        await change_timezone(db, G, tz, T0)
        assert (await get_guild_timezone(db, G, UTC_ZONE)).key == name
        assert await stored(db) == await recount(db, tz)
        assert await rank_counts_drift(db) == []


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
        "SELECT period, done_count FROM period_counts WHERE guild_id = :g AND period LIKE '%-W%'",
        {"g": world.guild.id})}
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
    await refuse_writes(bot.db)  # the database refuses every write
    try:
        result = await admin.slash(world.channel, "config timezone", timezone="Pacific/Kiritimati")
    finally:
        await refuse_writes(bot.db, on=False)
    assert result.ephemeral
    assert "Something went wrong on my side" in result.response.content
    simcord.assert_error(env, DBAPIError)
    assert (await get_guild_timezone(bot.db, world.guild.id, bot.settings.tz)).key == "UTC"
    assert [tuple(r) for r in await bot.db.fetchall("SELECT * FROM period_counts ORDER BY period")] == \
        [tuple(r) for r in before]


async def test_old_rows_with_a_done_date_in_year_1_do_not_block_the_command(env: simcord.Env, world: World,
                                                                           admin: simcord.MemberActor) -> None:
    bot = bot_of(env)
    await apply_changes(bot.db, world.guild.id, world.alice.id,
                        [StepChange(1, Status.DONE, done_at=datetime(2026, 1, 4, 10, 30, tzinfo=UTC)),
                         StepChange(2, Status.DONE, done_at=datetime(2026, 1, 4, 10, 31, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    async with bot.db.transaction() as conn:  # what an old import stored
        await conn.execute(update(progress).where(progress.c.step == 2).values(done_at=datetime(1, 1, 1, tzinfo=UTC)))
    for zone in ("America/Los_Angeles", "Asia/Tokyo"):
        result = await admin.slash(world.channel, "config timezone", timezone=zone)
        assert result.response.content.startswith(f"✅ The server's time zone is now `{zone}`")
        assert (await get_guild_timezone(bot.db, world.guild.id, bot.settings.tz)).key == zone

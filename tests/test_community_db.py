"""Community storage on a real database (a SQLite file and PostgreSQL): rankings agree with the pure rule, hidden
members, the step summary, the trigger-kept rank histogram, and the index-only ranking paths."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, text, update

from bot.domain.community import rank_rows, summary_step
from bot.domain.progress import Status
from db.community import _standing_query, _top_query, board_page, buddies, on_pace, rebuild_period_counts, standing, top
from db.database import Database, migrations, split_statements
from db.progress import StepChange, apply_changes
from db.settings import set_guild_timezone
from db.tables import members

G = 1
UTC_ZONE = ZoneInfo("UTC")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def done(db: Database, user: int, steps: range | list[int], at: datetime, tz: ZoneInfo = UTC_ZONE) -> None:
    changes = [StepChange(n, Status.DONE, done_at=at + timedelta(minutes=i)) for i, n in enumerate(steps)]
    await apply_changes(db, G, user, changes, at, default_tz=tz)


async def hide(db: Database, user: int, hidden: bool = True) -> None:
    async with db.transaction() as conn:
        await conn.execute(update(members).where(members.c.guild_id == G, members.c.user_id == user)
                           .values(visible=0 if hidden else 1))


async def test_sql_ranking_matches_the_pure_rule_with_ties_and_hidden_members(db: Database) -> None:
    rng = random.Random(5)
    expected: list[tuple[int, int, datetime]] = []
    for user in range(1, 41):
        count = rng.randint(1, 6)
        at = T0 + timedelta(hours=rng.randint(0, 3))  # many equal counts, some equal times
        await done(db, user, range(1, count + 1), at)
        if user % 7 == 0:
            await hide(db, user)
        else:
            expected.append((user, count, at + timedelta(minutes=count - 1)))
    reference = rank_rows(expected)
    page1 = await top(db, G, None, 10)
    page3 = await top(db, G, None, 10, 20)
    assert [(r.rank, r.user_id, r.done) for r in page1] == [(r.rank, r.user_id, r.done) for r in reference[:10]]
    assert [(r.rank, r.user_id) for r in page3] == [(r.rank, r.user_id) for r in reference[20:30]]
    for ranked in reference:
        own = await standing(db, G, ranked.user_id, None)
        assert (own.rank, own.done, own.total) == (ranked.rank, ranked.done, len(reference))
    hidden = await standing(db, G, 7, None)
    assert (hidden.rank, hidden.hidden) == (None, True)


async def test_period_rankings_leave_hidden_members_out_and_follow_privacy_changes(db: Database) -> None:
    await done(db, 1, [1, 2], T0)
    await done(db, 2, [1, 2, 3], T0)
    await done(db, 3, [1], T0)
    await hide(db, 2)
    week = "2026-W01"
    assert [r.user_id for r in await top(db, G, week)] == [1, 3]
    assert (await standing(db, G, 2, week)).hidden
    await done(db, 2, [4], T0 + timedelta(hours=1))  # a hidden member's new period row stays hidden
    assert [r.user_id for r in await top(db, G, week)] == [1, 3]
    await hide(db, 2, hidden=False)
    assert [r.user_id for r in await top(db, G, week)] == [2, 1, 3]
    assert (await standing(db, G, 2, week)).rank == 1


async def test_members_with_nothing_in_a_period_have_no_rank(db: Database) -> None:
    await done(db, 1, [1], T0)
    own = await standing(db, G, 1, "2026-W09")
    assert (own.rank, own.done, own.hidden, own.total) == (None, 0, False, 0)
    stranger = await standing(db, G, 99, None)
    assert (stranger.rank, stranger.total) == (None, 1)


async def test_skipped_steps_never_count(db: Database) -> None:
    await apply_changes(db, G, 1, [StepChange(1, Status.SKIPPED), StepChange(2, Status.DONE, done_at=T0)], T0,
                        default_tz=UTC_ZONE)
    assert [(r.user_id, r.done) for r in await top(db, G, None)] == [(1, 1)]


async def test_current_step_is_kept_in_the_summary_row(db: Database) -> None:
    await done(db, 1, [1, 2, 3], T0)
    await apply_changes(db, G, 1, [StepChange(4, Status.SKIPPED), StepChange(6, Status.IN_PROGRESS)], T0,
                        default_tz=UTC_ZONE)
    await done(db, 2, [1, 2, 3], T0)
    await apply_changes(db, G, 3, [StepChange(1, Status.IN_PROGRESS)], T0, default_tz=UTC_ZONE)
    on_6, _ = await buddies(db, G, 6, exclude=0)
    on_4, _ = await buddies(db, G, 4, exclude=0)
    on_1, _ = await buddies(db, G, 1, exclude=0)
    assert [(b.user_id, b.working) for b in on_6] == [(1, True)]
    assert [(b.user_id, b.working) for b in on_4] == [(2, False)]
    assert [(b.user_id, b.working) for b in on_1] == [(3, True)]
    await apply_changes(db, G, 1, [StepChange(6, None)], T0, default_tz=UTC_ZONE)  # taken back: first open is 5
    assert [b.user_id for b in (await buddies(db, G, 5, exclude=0))[0]] == [1]


async def test_migration_fills_in_the_current_step_of_existing_members(db_path: Path) -> None:
    """SQLite only: a file of schema version 1 (the legacy migrations; PostgreSQL starts at the adopted schema)."""
    rows = {7: {1: "done", 2: "skipped", 3: "done", 5: "done"}, 8: {1: "done", 4: "in_progress"}, 9: {}}
    with sqlite3.connect(db_path) as raw:  # what Stepwise at schema version 1 wrote
        for statement in split_statements(migrations()[0][2]):
            raw.execute(statement)
        raw.execute("PRAGMA user_version = 1")
        for user, steps in rows.items():
            raw.execute("INSERT INTO members (guild_id, user_id, reached_at, created_at, done_count) "
                        "VALUES (1, ?, '1970', '1970', ?)", (user, sum(1 for v in steps.values() if v == "done")))
            for step, status in steps.items():
                raw.execute("INSERT INTO progress (guild_id, user_id, step, status, updated_at) "
                            "VALUES (1, ?, ?, ?, '1970')", (user, step, status))
    raw.close()
    database = Database(db_path)
    await database.open()
    try:
        await database.migrate()
        found = {r[0]: r[1] for r in await database.fetchall("SELECT user_id, current_step FROM members")}
        assert found == {u: summary_step({s: Status(v) for s, v in steps.items()}) for u, steps in rows.items()}
        assert found == {7: 4, 8: 4, 9: 1}
        assert await rank_counts_drift(database) == []  # the histogram is filled in for existing members
    finally:
        await database.close()


async def test_changing_the_zone_rebuilds_period_counts(db: Database) -> None:
    # 09:30 and 10:30 UTC on Sunday 4 January: both in week 1 in UTC, but 10:30 is Monday in Kiritimati.
    await apply_changes(db, G, 1, [StepChange(1, Status.DONE, done_at=datetime(2026, 1, 4, 9, 30, tzinfo=UTC)),
                                   StepChange(2, Status.DONE, done_at=datetime(2026, 1, 4, 10, 30, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    assert [(r.done) for r in await top(db, G, "2026-W01")] == [2]
    await set_guild_timezone(db, G, KIRITIMATI.key)
    await rebuild_period_counts(db, G, KIRITIMATI)
    assert [r.done for r in await top(db, G, "2026-W01")] == [1]
    assert [r.done for r in await top(db, G, "2026-W02")] == [1]


async def test_on_pace_counts_visible_members(db: Database) -> None:
    await done(db, 1, range(1, 6), T0)
    await done(db, 2, range(1, 3), T0)
    await done(db, 3, range(1, 9), T0)
    await hide(db, 3)
    assert await on_pace(db, G, 5) == (1, 2)
    assert await on_pace(db, G, 0) == (2, 2)


async def rank_counts_drift(db: Database) -> list[tuple[object, ...]]:
    """Rows where the trigger-kept histogram differs from a recount of members and period_counts."""
    rows = await db.fetchall(
        "WITH truth AS ("
        " SELECT guild_id, 'all' AS period, done_count, COUNT(*) AS n FROM members"
        "  WHERE visible = 1 AND done_count > 0 GROUP BY guild_id, done_count"
        " UNION ALL SELECT guild_id, period, done_count, COUNT(*) FROM period_counts"
        "  WHERE visible = 1 AND done_count > 0 GROUP BY guild_id, period, done_count) "
        "SELECT t.guild_id, t.period, t.done_count, t.n, r.members FROM truth t LEFT JOIN rank_counts r"
        " USING (guild_id, period, done_count) WHERE r.members IS DISTINCT FROM t.n "
        "UNION ALL SELECT r.guild_id, r.period, r.done_count, NULL, r.members FROM rank_counts r"
        " WHERE r.members != 0 AND NOT EXISTS (SELECT 1 FROM truth t WHERE t.guild_id = r.guild_id"
        " AND t.period = r.period AND t.done_count = r.done_count)")
    return [tuple(r) for r in rows]


async def test_rank_counts_follow_every_kind_of_write(db: Database) -> None:
    rng = random.Random(9)
    for step in range(60):
        user = rng.randint(1, 8)
        action = rng.choice(["done", "done", "undo", "hide", "show", "skip"])
        at = T0 + timedelta(days=rng.randint(0, 40), minutes=step)
        if action == "done":
            await done(db, user, [rng.randint(1, 20)], at)
        elif action == "undo":
            await apply_changes(db, G, user, [StepChange(rng.randint(1, 20), None)], at, default_tz=UTC_ZONE)
        elif action == "skip":
            await apply_changes(db, G, user, [StepChange(rng.randint(1, 20), Status.SKIPPED)], at,
                                default_tz=UTC_ZONE)
        else:
            await hide(db, user, hidden=action == "hide")
        assert await rank_counts_drift(db) == [], (step, action)
    await rebuild_period_counts(db, G, KIRITIMATI)
    assert await rank_counts_drift(db) == []
    async with db.transaction() as conn:  # forgetting a member (cascades to period_counts)
        await conn.execute(members.delete().where(members.c.guild_id == G, members.c.user_id == 3))
    assert await rank_counts_drift(db) == []


async def test_board_page_reads_the_same_standing_and_rows_as_standing_and_top(db: Database) -> None:
    rng = random.Random(11)
    for user in range(1, 36):
        at = T0 + timedelta(hours=rng.randint(0, 3))  # ties on count and time
        await done(db, user, range(1, rng.randint(1, 5) + 1), at)
        if user % 6 == 0:
            await hide(db, user)
    now = T0 + timedelta(days=1)
    for period, key in (("all", None), ("week", "2026-W01"), ("month", "2026-01")):
        total = (await standing(db, G, 1, key)).total
        assert total == 30
        for user in (1, 6, 17, 999):  # ranked, hidden, ranked, never used the bot
            for page in (0, 1, 2, 7):  # 7 is past the end: the last page (2) is shown
                board = await board_page(db, G, user, period, page, per_page=10, now=now, default_tz=UTC_ZONE)
                assert board.own == await standing(db, G, user, key), (period, user)
                assert (board.index, board.count) == (min(page, 2), 3)
                assert board.rows == await top(db, G, key, 10, board.index * 10)
                assert board.tz == UTC_ZONE
    hidden = await board_page(db, G, 6, "all", 0, per_page=10, now=now, default_tz=UTC_ZONE)
    assert (hidden.own.rank, hidden.own.hidden) == (None, True)
    stranger = await board_page(db, G, 999, "week", 0, per_page=10, now=now, default_tz=UTC_ZONE)
    assert (stranger.own.rank, stranger.own.done, stranger.own.total) == (None, 0, 30)


async def test_board_page_follows_the_server_zone_for_weeks_and_months(db: Database) -> None:
    # Sunday 4 January 10:30 UTC is Monday 5 January (week 2) in Kiritimati.
    await apply_changes(db, G, 1, [StepChange(1, Status.DONE, done_at=datetime(2026, 1, 4, 9, 30, tzinfo=UTC))],
                        T0, default_tz=UTC_ZONE)
    now = datetime(2026, 1, 4, 10, 30, tzinfo=UTC)
    in_utc = await board_page(db, G, 1, "week", 0, per_page=10, now=now, default_tz=UTC_ZONE)
    assert ([r.user_id for r in in_utc.rows], in_utc.own.rank) == ([1], 1)
    await set_guild_timezone(db, G, KIRITIMATI.key)
    await rebuild_period_counts(db, G, KIRITIMATI)
    kiritimati = await board_page(db, G, 1, "week", 0, per_page=10, now=now, default_tz=UTC_ZONE)
    assert kiritimati.tz == KIRITIMATI
    assert (kiritimati.rows, kiritimati.own.rank, kiritimati.count) == ([], None, 1)  # a new week there
    all_time = await board_page(db, G, 1, "all", 0, per_page=10, now=now, default_tz=UTC_ZONE)
    assert (all_time.tz, all_time.own.rank) == (UTC_ZONE, 1)  # all time needs no zone


def plan_of(conn: Connection, stmt: object) -> str:
    """The query plan of a Core statement on this engine, as one line (its parameters inlined as literals)."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    if conn.dialect.name == "sqlite":
        return " / ".join(str(r[3]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    # a few rows make a sequential scan the cheapest plan: ask what the planner does when the table is large
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    conn.execute(text("SET LOCAL enable_bitmapscan = off"))
    return " / ".join(str(r[0]).strip() for r in conn.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize("key", [None, "2026-W01"])
async def test_the_tie_count_of_a_rank_reads_only_the_ranking_index(db: Database, key: str | None) -> None:
    """The members tied with the caller are counted from a covering index, not row by row from the table."""
    await done(db, 1, [1, 2], T0)
    plan = await db.run_sync(lambda conn: plan_of(conn, _standing_query(G, 1, key)), write=False)
    index = "members_track_rank" if key is None else "period_rank_visible"
    if db.dialect == "sqlite":
        assert f"USING COVERING INDEX {index}" in plan, plan
    else:
        assert f"Index Only Scan using {index}" in plan, plan


@pytest.mark.parametrize("key", [None, "2026-W01"])
async def test_the_top_of_a_board_reads_the_ranking_index_in_order(db: Database, key: str | None) -> None:
    """The top 10 is the first entries of the partial ranking index: no sort, no scan of the table."""
    await done(db, 1, [1, 2], T0)
    plan = await db.run_sync(lambda conn: plan_of(conn, _top_query(G, key, 10, 0)), write=False)
    index = "members_track_rank" if key is None else "period_rank_visible"
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan
    if db.dialect == "sqlite":
        assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    else:
        assert f"Index Scan using {index}" in plan or f"Index Only Scan using {index}" in plan, plan


async def visible_copy_drift(db: Database) -> list[tuple[object, ...]]:
    """period_counts rows whose copy of `visible` differs from their member's."""
    rows = await db.fetchall("SELECT p.guild_id, p.period, p.user_id, p.visible, m.visible FROM period_counts p "
                             "JOIN members m ON m.guild_id = p.guild_id AND m.user_id = p.user_id "
                             "WHERE p.visible IS DISTINCT FROM m.visible")
    return [tuple(r) for r in rows]


async def test_rank_counts_stay_right_under_concurrent_writers(db: Database) -> None:
    """Many members of two servers write at once (on PostgreSQL truly concurrently: no process lock, the
    histogram rows are shared between them), moving up and down across the same counts, hiding and showing,
    in random order; afterwards the trigger-kept histogram and visible copies equal a recount from scratch."""
    rng = random.Random(21)

    async def member_writes(guild: int, user: int, seed: int) -> None:
        mine = random.Random(seed)
        for i in range(12):
            action = mine.choice(["done", "done", "done", "undo", "hide", "show"])
            at = T0 + timedelta(days=mine.randint(0, 60), minutes=i)
            if action == "done":
                changes = [StepChange(mine.randint(1, 15), Status.DONE, done_at=at)]
                await apply_changes(db, guild, user, changes, at, default_tz=UTC_ZONE)
            elif action == "undo":
                await apply_changes(db, guild, user, [StepChange(mine.randint(1, 15), None)], at,
                                    default_tz=UTC_ZONE)
            else:
                async with db.transaction() as conn:
                    await conn.execute(update(members).where(members.c.guild_id == guild, members.c.user_id == user)
                                       .values(visible=int(action == "show")))

    writers = [member_writes(guild, user, rng.randrange(10**6)) for guild in (G, G + 1) for user in range(1, 13)]
    rng.shuffle(writers)
    await asyncio.gather(*writers)
    assert await rank_counts_drift(db) == []
    assert await visible_copy_drift(db) == []
    totals = {key: (await standing(db, G, 1, key)).total for key in (None, "2026-01", "2026-02")}
    ranked = {key: len(await top(db, G, key, 100)) for key in totals}
    assert totals == ranked  # the histogram's totals are the ranked members a board lists

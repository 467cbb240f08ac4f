"""Tracks in the store (issue 11), on a real database (a SQLite file and PostgreSQL): plans stored per server,
members moving between tracks and back with nothing lost, a plan update that drops and restores a step, and the
summary tables (members, period_counts, rank_counts) equal to a recount from the live rows after every move."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.changes import summarize
from bot.domain.plan import parse_plan
from bot.domain.progress import Status
from bot.domain.timeutil import period_key
from bot.domain.tracks import track_key
from db import tracks as tracks_db
from db.community import board_page, standing, top
from db.database import Database
from db.progress import StepChange, apply_changes, load_member, undo
from db.tables import guild_settings, members, parked_progress, period_counts, progress, rank_counts
from db.tracks import add_plan, remove_plan, switch_track, update_plan

G = 1
TZ = ZoneInfo("UTC")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def plan_text(n: int, title: str = "Frontend") -> str:
    return f"# {title}\n" + "".join(f"- [ ] {i}. Step {i} (Do {i})\n" for i in range(1, n + 1))


async def mark(db: Database, user: int, steps: list[int], at: datetime) -> None:
    await apply_changes(db, G, user, [StepChange(n, Status.DONE) for n in steps], at, default_tz=TZ)


async def upload(db: Database, name: str, n: int) -> int:
    text = plan_text(n, name)
    row = await add_plan(db, G, name=name, title=name, steps=n, source=text, now=T0, by=9, limit=10)
    return row.plan_id


async def check_summaries(db: Database) -> None:
    """members, period_counts and rank_counts agree with a recount made here from the live progress rows."""
    mrows = [tuple(r) for r in await db.fetchall(select(members.c.user_id, members.c.plan_id, members.c.done_count,
                                                        members.c.current_step, members.c.visible)
                                                 .where(members.c.guild_id == G))]
    expected_hist: Counter[tuple[str, int]] = Counter()
    expected_periods: dict[tuple[str, int], int] = {}
    for user, plan_id, done_count, current, visible in mrows:
        member = await load_member(db, G, user)
        summary = summarize(member.states.values())
        assert (done_count, current) == (summary.done_count, summary.current_step), user
        if visible and done_count:
            expected_hist[(track_key("all", plan_id), done_count)] += 1
        for moment in member.done_times():
            for kind in ("week", "month"):
                key = (track_key(period_key(moment, TZ, kind), plan_id), user)  # type: ignore[arg-type]
                expected_periods[key] = expected_periods.get(key, 0) + 1
    stored_periods = {(str(p), int(u)): int(n) for p, u, n in await db.fetchall(
        select(period_counts.c.period, period_counts.c.user_id, period_counts.c.done_count)
        .where(period_counts.c.guild_id == G))}
    assert stored_periods == expected_periods
    for (key, _user), n in expected_periods.items():
        expected_hist[(key, n)] += 1
    stored_hist = Counter({(str(p), int(d)): int(n) for p, d, n in await db.fetchall(
        select(rank_counts.c.period, rank_counts.c.done_count, rank_counts.c.members)
        .where(rank_counts.c.guild_id == G, rank_counts.c.members > 0))})
    assert stored_hist == expected_hist


async def test_a_server_that_never_uploads_keeps_plan_0_and_its_keys(db: Database) -> None:
    await mark(db, 5, [1, 2, 3], T0)
    assert (await tracks_db.member_track(db, G, 5))[0] == 0
    keys = {r[0] for r in await db.fetchall(select(rank_counts.c.period).where(rank_counts.c.members > 0))}
    assert keys == {"all", "2026-W10", "2026-03"}
    assert await tracks_db.list_plans(db, G) == []
    await check_summaries(db)


async def test_switching_and_switching_back_loses_nothing(db: Database) -> None:
    front = await upload(db, "Frontend", 5)
    await mark(db, 1, [1, 2, 3], T0)
    await apply_changes(db, G, 1, [StepChange(4, Status.IN_PROGRESS, note="halfway")], T0, default_tz=TZ)
    before = await load_member(db, G, 1)
    assert await switch_track(db, G, 1, front, steps=range(1, 6), now=T0 + timedelta(hours=1), default_tz=TZ)
    assert (await load_member(db, G, 1)).states == {}
    assert (await tracks_db.member_track(db, G, 1))[0] == front
    await check_summaries(db)
    await mark(db, 1, [1], T0 + timedelta(days=8))  # a step of the Frontend track, another week
    assert (await standing(db, G, 1, None, plan_id=front)).rank == 1
    assert (await standing(db, G, 1, None)).rank is None  # not on the bundled board while on Frontend
    await check_summaries(db)
    assert await switch_track(db, G, 1, 0, steps=range(1, 81), now=T0 + timedelta(days=9), default_tz=TZ)
    after = await load_member(db, G, 1)
    assert after.states == before.states  # notes, statuses and done times as they were
    assert not await switch_track(db, G, 1, 0, steps=range(1, 81), now=T0, default_tz=TZ)  # already on it
    await check_summaries(db)
    assert await switch_track(db, G, 1, front, steps=range(1, 6), now=T0 + timedelta(days=10), default_tz=TZ)
    assert set((await load_member(db, G, 1)).states) == {1}
    await check_summaries(db)


async def test_boards_rank_within_a_track(db: Database) -> None:
    front = await upload(db, "Frontend", 5)
    await mark(db, 1, [1, 2, 3, 4], T0)
    await mark(db, 2, [1], T0)
    for user in (3, 4):
        await switch_track(db, G, user, front, steps=range(1, 6), now=T0, default_tz=TZ)
    await mark(db, 3, [1, 2], T0 + timedelta(minutes=1))
    await mark(db, 4, [1, 2, 3], T0 + timedelta(minutes=2))
    assert [r.user_id for r in await top(db, G, None)] == [1, 2]
    assert [r.user_id for r in await top(db, G, None, plan_id=front)] == [4, 3]
    page = await board_page(db, G, 3, "week", 0, per_page=10, now=T0 + timedelta(hours=1), default_tz=TZ,
                            plan_id=front)
    assert [r.user_id for r in page.rows] == [4, 3]
    assert (page.own.rank, page.own.total) == (2, 2)
    week = await board_page(db, G, 1, "week", 0, per_page=10, now=T0 + timedelta(hours=1), default_tz=TZ)
    assert [r.user_id for r in week.rows] == [1, 2]
    await check_summaries(db)


async def test_undo_stays_on_the_track_it_was_made_on(db: Database) -> None:
    front = await upload(db, "Frontend", 5)
    await mark(db, 1, [7], T0)
    await switch_track(db, G, 1, front, steps=range(1, 6), now=T0, default_tz=TZ)
    assert await undo(db, G, 1, T0, default_tz=TZ) is None  # the bundled plan's change waits there
    await mark(db, 1, [2], T0)
    moved = await undo(db, G, 1, T0, default_tz=TZ)
    assert moved is not None
    assert [d.step for d in moved[1]] == [2]
    await switch_track(db, G, 1, 0, steps=range(1, 81), now=T0, default_tz=TZ)
    back = await undo(db, G, 1, T0, default_tz=TZ)
    assert back is not None
    assert [d.step for d in back[1]] == [7]
    await check_summaries(db)


async def test_new_members_start_on_the_default_track(db: Database) -> None:
    front = await upload(db, "Frontend", 5)
    await tracks_db.set_default_plan(db, G, front)
    assert await tracks_db.default_plan(db, G) == front
    assert (await tracks_db.member_track(db, G, 42))[0] == front
    await mark(db, 42, [1], T0)
    assert (await tracks_db.member_track(db, G, 42))[0] == front
    assert [r.user_id for r in await top(db, G, None, plan_id=front)] == [42]
    await check_summaries(db)


async def test_a_plan_update_archives_removed_steps_and_restores_them(db: Database) -> None:
    front = await upload(db, "Frontend", 5)
    await switch_track(db, G, 1, front, steps=range(1, 6), now=T0, default_tz=TZ)
    await switch_track(db, G, 2, front, steps=range(1, 6), now=T0, default_tz=TZ)
    await mark(db, 1, [1, 2, 3, 4, 5], T0)
    await mark(db, 2, [1, 2], T0)
    assert await tracks_db.progress_on_steps(db, G, front, [5]) == 1
    shorter = plan_text(4, "Frontend")
    row, moved = await update_plan(db, G, front, expected_version=1, title="Frontend", steps=range(1, 5),
                                   source=shorter, now=T0 + timedelta(days=1), by=9, default_tz=TZ)
    assert (row.version, row.steps, moved) == (2, 4, 1)
    assert set((await load_member(db, G, 1)).states) == {1, 2, 3, 4}
    parked = await db.fetchall(select(parked_progress.c.step).where(parked_progress.c.user_id == 1))
    assert [r[0] for r in parked] == [5]  # archived, not deleted
    assert await tracks_db.progress_on_steps(db, G, front, [5]) == 1
    await check_summaries(db)
    with pytest.raises(Exception, match="version 2"):
        await update_plan(db, G, front, expected_version=1, title="Frontend", steps=range(1, 6),
                          source=plan_text(5), now=T0, by=9, default_tz=TZ)
    row, moved = await update_plan(db, G, front, expected_version=2, title="Frontend", steps=range(1, 6),
                                   source=plan_text(5), now=T0 + timedelta(days=2), by=9, default_tz=TZ)
    assert (row.version, moved) == (3, 1)
    restored = await load_member(db, G, 1)
    assert restored.states[5].status is Status.DONE
    assert restored.states[5].done_at is not None
    await check_summaries(db)


async def test_removing_a_plan_moves_its_followers_and_keeps_their_progress(db: Database) -> None:
    front = await upload(db, "Frontend", 5)
    await tracks_db.set_default_plan(db, G, front)
    await mark(db, 1, [1, 2], T0)  # a new member: on Frontend, the default
    moved = await remove_plan(db, G, front, to_plan=0, to_steps=range(1, 81), now=T0, default_tz=TZ)
    assert moved == 1
    assert (await tracks_db.member_track(db, G, 1))[0] == 0
    assert await tracks_db.default_plan(db, G) == 0
    assert await db.fetchone(select(guild_settings.c.default_plan).where(guild_settings.c.guild_id == G)) == (None,)
    assert len(await db.fetchall(select(parked_progress).where(parked_progress.c.plan_id == front))) == 2
    assert await tracks_db.list_plans(db, G) == []
    assert len(await tracks_db.list_plans(db, G, removed=True)) == 1
    again = await upload(db, "Frontend", 3)  # the name is free again; a new id, never the old one
    assert again != front
    await check_summaries(db)


async def test_plan_names_are_unique_per_server_and_the_limit_holds(db: Database) -> None:
    await upload(db, "Frontend", 3)
    with pytest.raises(Exception, match="moment ago"):
        await add_plan(db, G, name="frontend", title="x", steps=1, source=plan_text(1), now=T0, by=None, limit=10)
    for i in range(2, 4):
        await upload(db, f"P{i}", 2)
    with pytest.raises(Exception, match="3 plans already"):
        await add_plan(db, G, name="P9", title="x", steps=1, source=plan_text(1), now=T0, by=None, limit=3)
    assert parse_plan((await tracks_db.list_plans(db, G))[0].source).total == 3
    assert await db.fetchone(select(progress).limit(1)) is None


async def test_forgetting_a_member_deletes_every_track_and_their_activity(db: Database) -> None:
    from datetime import date

    from db.insights import claim_nudge, nudge_states
    from db.progress import forget_member
    from db.tables import weekly_active

    front = await upload(db, "Frontend", 5)
    await mark(db, 1, [1, 2], T0)
    await switch_track(db, G, 1, front, steps=range(1, 6), now=T0, default_tz=TZ)
    await mark(db, 1, [1], T0)
    assert await claim_nudge(db, G, 1, week=date(2026, 3, 2), plan_id=front, step=2, nonce="n", now=T0, by=None,
                             every=timedelta(days=7))
    await mark(db, 2, [1], T0)  # someone else's rows stay
    await forget_member(db, G, 1)
    for table in (progress, parked_progress, weekly_active, members):
        assert [r for r in await db.fetchall(select(table)) if r.user_id == 1] == [], table.name
    assert await nudge_states(db, G) == []
    assert len((await load_member(db, G, 2)).states) == 1
    await check_summaries(db)

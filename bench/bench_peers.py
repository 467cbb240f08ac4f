"""The peers' designs beside ours, in one run, so the README can state ratios.

(a) Leaderboards. The peer (as StudyLion does) aggregates the raw progress rows on every call:
    `SELECT user_id, COUNT(*) ... WHERE guild_id = ? AND status = 'done' GROUP BY user_id ORDER BY ... LIMIT 10`,
    and a member's rank counts the members ahead of them in that aggregate. Ours (db/community.py `top`,
    `standing`) reads the summary tables (`members`, `period_counts`, `rank_counts`) through their indexes.
    100,000 members, ~3 million progress rows, all time and this week. Both must give the same answers (checked);
    the peer's queries get their best shot (the aggregate is materialised once per rank query). Also: how long a
    trivial read waits when it is issued just after a leaderboard query (reads share one connection).
(b) Reminders. The naive design: one APScheduler job per member, `add_job(send, CronTrigger(hour, minute,
    timezone))`, re-added from the store at every start (the memory job store forgets them). Ours: one interval
    job, and the indexed due query `db.reminders.due_reminders`. Measured: start-up (what every restart costs),
    the longest event-loop stall it causes, the Python heap it holds (tracemalloc), and finding the ~1,000 due
    at one instant (the job store's public `get_due_jobs` against our query).

Engines: both, one after the other in the same run (bench/engines.py: a SQLite file, a fresh PostgreSQL
database; STEPWISE_BENCH_ENGINES picks). The raw-aggregate SQL is written once, with named parameters and no
SQLite-only syntax; only the instants are bound as each engine stores them (text on SQLite, timestamptz on
PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, JobEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text

from bench import engines
from bench.bench_reminders import DUE, T, populate
from bench.common import LoopMonitor, print_table, timed
from bot.domain.community import period_storage_key
from db import reminders as reminder_store
from db import tables
from db.community import rebuild_period_counts, standing, top
from db.database import Database, to_db

MEMBERS = 100_000
GUILD = 7
FIRST_USER = 10_000_000
NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday: this week began Monday 5 January, 00:00 UTC
WEEK_START = datetime(2026, 1, 5, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
OUR_RUNS = 300
RAW_RUNS = 7  # each raw call reads every done row of the server
SAMPLED = 20  # members whose rank both designs must agree on
REMINDERS = 100_000


async def open_store(url: str) -> Database:
    """Open (and migrate) the store at `url`: a SQLite file in a fresh folder, or a fresh PostgreSQL database."""
    db = Database(url)
    await db.open()
    await db.migrate()
    return db


# ---------------------------------------------------------------------------- (a) leaderboards


def _window(week: bool) -> str:
    return "AND done_at >= :start AND done_at < :end " if week else ""


def raw_top_sql(week: bool) -> str:
    return ("SELECT user_id, COUNT(*) AS c, MAX(done_at) AS r FROM progress "
            f"WHERE guild_id = :g AND status = 'done' {_window(week)}"
            "GROUP BY user_id ORDER BY c DESC, r, user_id LIMIT 10")


def raw_rank_sql(week: bool) -> str:
    return ("WITH agg AS MATERIALIZED (SELECT user_id, COUNT(*) AS c, MAX(done_at) AS r FROM progress "
            f"WHERE guild_id = :g AND status = 'done' {_window(week)}GROUP BY user_id), "
            "me AS (SELECT c, r FROM agg WHERE user_id = :u) "
            "SELECT (SELECT COUNT(*) FROM agg, me WHERE agg.c > me.c OR (agg.c = me.c AND (agg.r < me.r OR "
            "(agg.r = me.r AND agg.user_id < :u)))) + 1, (SELECT COUNT(*) FROM agg) FROM me")


def _params(db: Database, week: bool, **extra: object) -> dict[str, object]:
    params: dict[str, object] = {"g": GUILD, **extra}
    if week:
        start, end = WEEK_START, WEEK_START + timedelta(days=7)
        sqlite = db.dialect == "sqlite"  # SQLite stores instants as fixed-width UTC text (db.types.Instant)
        params |= {"start": to_db(start) if sqlite else start, "end": to_db(end) if sqlite else end}
    return params


async def raw_top(db: Database, week: bool) -> list[int]:
    return [int(r[0]) for r in await db.fetchall(raw_top_sql(week), _params(db, week))]


async def raw_rank(db: Database, user_id: int, week: bool) -> int | None:
    row = await db.fetchone(raw_rank_sql(week), _params(db, week, u=user_id))
    return int(row[0]) if row else None


async def seed_progress(db: Database, rng: random.Random) -> int:
    """100,000 members with 0-60 steps done (a few also one in progress), their summary rows consistent with the
    raw rows (done_count, reached_at = the latest done_at); then our period counts rebuilt from the raw rows."""
    plans: list[tuple[int, int, float, float, bool]] = []  # user, done, last (s before NOW), gap (s), in progress
    for i in range(MEMBERS):
        done = rng.randint(0, 60)
        last = min(60 * 86_400.0, rng.expovariate(1 / (5 * 86_400)))
        plans.append((FIRST_USER + i, done, last, rng.uniform(7_200, 2 * 86_400), rng.random() < 0.3))
    created_at = NOW - timedelta(days=400)
    members = [{"guild_id": GUILD, "user_id": user, "done_count": done,
                "reached_at": NOW - timedelta(seconds=last) if done else created_at, "created_at": created_at,
                "current_step": done + 1} for user, done, last, _gap, _busy in plans]

    def rows() -> Any:
        for user, done, last, gap, busy in plans:
            for step in range(1, done + 1):
                at = NOW - timedelta(seconds=last + (done - step) * gap)
                yield {"guild_id": GUILD, "user_id": user, "step": step, "status": "done", "updated_at": at,
                       "done_at": at}
            if busy and done < 80:
                yield {"guild_id": GUILD, "user_id": user, "step": done + 1, "status": "in_progress",
                       "updated_at": NOW, "done_at": None}

    async with db.transaction() as conn:  # executemany; the summary tables' triggers keep rank_counts
        await conn.execute(tables.members.insert(), members)
        batch: list[dict[str, Any]] = []
        for row in rows():
            batch.append(row)
            if len(batch) == 50_000:
                await conn.execute(tables.progress.insert(), batch)
                batch = []
        if batch:
            await conn.execute(tables.progress.insert(), batch)
    await rebuild_period_counts(db, GUILD, UTC_ZONE)
    async with db.transaction() as conn:
        await conn.execute(text("ANALYZE"))
    row = await db.fetchone("SELECT COUNT(*) FROM progress")
    return int(row[0]) if row else 0


async def waits_behind(db: Database, query: Callable[[], Coroutine[Any, Any, object]]) -> float:
    """How long a trivial read issued just after `query` takes to answer (both go to the one reader)."""
    task = asyncio.get_running_loop().create_task(query())
    await asyncio.sleep(0)  # the query is queued on the reader's thread
    start = time.perf_counter()
    await db.fetchone("SELECT 1")
    elapsed = time.perf_counter() - start
    await task
    return elapsed


async def bench_leaderboards(engine: str, url: str) -> None:
    rng = random.Random(2026)
    db = await open_store(url)
    try:
        started = time.perf_counter()
        progress_rows = await seed_progress(db, rng)
        print(f"[{engine}] seeded {MEMBERS:,} members and {progress_rows:,} progress rows in "
              f"{time.perf_counter() - started:.1f} s")
        week = period_storage_key(NOW, UTC_ZONE, "week")
        sampled = [FIRST_USER + rng.randrange(MEMBERS) for _ in range(SAMPLED)]
        for key, is_week in ((None, False), (week, True)):  # the same answers, or the ratio means nothing
            ours = [r.user_id for r in await top(db, GUILD, key)]
            assert ours == await raw_top(db, is_week), (key, ours)
            for user in sampled:
                assert (await standing(db, GUILD, user, key)).rank == await raw_rank(db, user, is_week), (key, user)

        ids = [FIRST_USER + rng.randrange(MEMBERS) for _ in range(OUR_RUNS)]
        rows: list[tuple[str, list[float]]] = [("trivial read (SELECT 1)", await timed(OUR_RUNS, lambda _i:
                                                                                      db.fetchone("SELECT 1")))]
        for label, key, is_week in (("all time", None, False), ("this week", week, True)):
            rows += [
                (f"ours: top 10 ({label})", await timed(OUR_RUNS, lambda _i, k=key: top(db, GUILD, k))),
                (f"peer: top 10 ({label}), raw rows", await timed(RAW_RUNS, lambda _i, w=is_week: raw_top(db, w))),
                (f"ours: one member's rank ({label})",
                 await timed(OUR_RUNS, lambda i, k=key: standing(db, GUILD, ids[i], k))),
                (f"peer: one member's rank ({label}), raw rows",
                 await timed(RAW_RUNS, lambda i, w=is_week: raw_rank(db, ids[i], w))),
            ]
        rows += [
            ("a trivial read issued just after ours (top 10)",
             [await waits_behind(db, lambda: top(db, GUILD, None)) for _ in range(RAW_RUNS)]),
            ("a trivial read issued just after the peer's",
             [await waits_behind(db, lambda: raw_top(db, False)) for _ in range(RAW_RUNS)]),
        ]
        print_table(f"[{engine}] Leaderboards, {MEMBERS:,} members, {progress_rows:,} progress rows "
                    "(ours: summary tables; peer: aggregate the raw rows per call)", rows,
                    baseline="trivial read (SELECT 1)")
        medians = {name: statistics.median(s) for name, s in rows}
        print(f"\n[{engine}] peer / ours (medians):")
        for what in ("top 10 (all time)", "one member's rank (all time)", "top 10 (this week)",
                     "one member's rank (this week)"):
            peer = medians[f"peer: {what}, raw rows"]
            print(f"  {what:<32} {peer / medians[f'ours: {what}']:>10,.0f}x")
    finally:
        await db.close()


# ---------------------------------------------------------------------------- (b) reminders


async def send(user_id: int) -> None:
    """The naive design's job: DM one member (a no-op here; the cost measured is the scheduling)."""


def add_member_jobs(scheduler: AsyncIOScheduler, rows: Sequence[tuple[int, str, str]]) -> None:
    for user_id, local_time, zone in rows:
        hour, minute = local_time.split(":")
        scheduler.add_job(send, CronTrigger(hour=int(hour), minute=int(minute), timezone=ZoneInfo(zone)),
                          args=(user_id,), id=str(user_id))


async def reminder_rows(db: Database, limit: int) -> list[tuple[int, str, str]]:
    rows = await db.fetchall("SELECT user_id, local_time, timezone FROM reminders "
                             "WHERE next_due_utc IS NOT NULL ORDER BY user_id LIMIT :n", {"n": limit})
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def naive_start(db: Database, count: int) -> tuple[float, float, float, int, AsyncIOScheduler, MemoryJobStore]:
    """A start of the naive design: read the reminders, add one cron job each to a running scheduler, and let
    the loop run the wake-ups that each add queued. Returns (read s, add-and-drain s, worst stall s, missed, ...):
    `missed` counts the jobs APScheduler dropped as misfired (due while the loop was blocked by the adding, later
    than its default 1 s grace): members whose reminder time fell in those seconds get nothing that day."""
    job_store = MemoryJobStore()
    scheduler = AsyncIOScheduler(jobstores={"default": job_store}, timezone=UTC)
    missed: list[JobEvent] = []
    scheduler.add_listener(missed.append, EVENT_JOB_MISSED)
    scheduler.start()
    async with LoopMonitor() as stalls:
        start = time.perf_counter()
        rows = await reminder_rows(db, count)
        read = time.perf_counter() - start
        start = time.perf_counter()
        add_member_jobs(scheduler, rows)
        await asyncio.sleep(0)  # behind every queued wake-up (call_soon_threadsafe, one per add_job)
        added = time.perf_counter() - start
        await asyncio.sleep(0.01)
    return read, added, stalls.worst, len(missed), scheduler, job_store


async def stop(scheduler: AsyncIOScheduler) -> None:
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)


def timed_sync(n: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


async def tick() -> None:
    """Our one interval job (the bench never lets it run)."""


async def bench_reminders_design(engine: str, url: str) -> None:
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # the misfires are counted, not printed
    started = time.perf_counter()
    await populate(url, REMINDERS, DUE)  # bench_reminders' data: 100,000 daily reminders, 1,000 due at T
    print(f"\n[{engine}] built {REMINDERS:,} reminders ({DUE:,} due at {T:%H:%M} UTC) in "
          f"{time.perf_counter() - started:.1f} s")
    db = await open_store(url)
    try:
        startup: list[tuple[str, list[float]]] = []
        stall_rows: list[tuple[str, list[float]]] = []
        # ours: a start adds one interval job; the reminders stay in the store
        ours_sched = AsyncIOScheduler(timezone=UTC)
        ours_sched.start()
        ours_add = timed_sync(100, lambda: ours_sched.add_job(tick, "interval", seconds=30, id="tick",
                                                              replace_existing=True))
        async with LoopMonitor() as ours_stall:
            ours_sched.add_job(tick, "interval", seconds=30, id="tick", replace_existing=True)
            await asyncio.sleep(0.01)
        await stop(ours_sched)
        startup.append(("ours: add the one interval job", ours_add))
        stall_rows.append(("ours: worst loop stall at start", [ours_stall.worst]))

        naive_reads: dict[int, list[float]] = {}
        naive_adds: dict[int, list[float]] = {}
        naive_stalls: dict[int, list[float]] = {}
        naive_missed: dict[int, list[int]] = {}
        for count, passes in ((REMINDERS // 10, 3), (REMINDERS, 3)):
            for _ in range(passes):
                read, added, worst, missed, scheduler, _job_store = await naive_start(db, count)
                assert len(scheduler.get_jobs()) == count
                await stop(scheduler)
                naive_reads.setdefault(count, []).append(read)
                naive_adds.setdefault(count, []).append(added)
                naive_stalls.setdefault(count, []).append(worst)
                naive_missed.setdefault(count, []).append(missed)
        for count, adds in naive_adds.items():
            startup.append((f"naive, {count:,} jobs: read the reminders", naive_reads[count]))
            startup.append((f"naive, {count:,} jobs: add them (+ wake-ups)", adds))
            stall_rows.append((f"naive, {count:,} jobs: worst loop stall", naive_stalls[count]))
        print_table(f"[{engine}] Start-up, i.e. what every restart costs", startup,
                    baseline="ours: add the one interval job")
        print_table(f"[{engine}] Event-loop stall during start-up", stall_rows)

        # memory: the Python heap each design holds while running
        rows = await reminder_rows(db, REMINDERS)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        scheduler = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone=UTC)
        scheduler.start()
        add_member_jobs(scheduler, rows)
        await asyncio.sleep(0.01)
        naive_heap = tracemalloc.get_traced_memory()[0] - before
        await stop(scheduler)
        del scheduler
        before = tracemalloc.get_traced_memory()[0]
        ours_sched = AsyncIOScheduler(timezone=UTC)
        ours_sched.start()
        ours_sched.add_job(tick, "interval", seconds=30, id="tick")
        await asyncio.sleep(0.01)
        ours_heap = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        due = await reminder_store.due_reminders(db, T)
        due_peak = tracemalloc.get_traced_memory()[1] - before
        del due
        tracemalloc.stop()
        await stop(ours_sched)
        del rows

        # finding the ~1,000 due at one instant
        *_, scheduler, job_store = await naive_start(db, REMINDERS)
        fire_times = sorted(job.next_run_time for job in job_store.get_all_jobs())
        instant = fire_times[DUE - 1]
        peer_due = timed_sync(30, lambda: job_store.get_due_jobs(instant))
        found = len(job_store.get_due_jobs(instant))
        await stop(scheduler)
        assert found >= DUE, found
        assert len(await reminder_store.due_reminders(db, T)) == DUE
        ours_due = await timed(30, lambda _i: reminder_store.due_reminders(db, T))
        print_table(f"[{engine}] Finding the due reminders at one instant ({REMINDERS:,} members)", [
            (f"ours: due_reminders, {DUE:,} due (indexed query)", ours_due),
            (f"naive: job store get_due_jobs, {found:,} due", peer_due),
        ], baseline=f"ours: due_reminders, {DUE:,} due (indexed query)")
        print(f"\n[{engine}] Python heap held (tracemalloc): naive {REMINDERS:,} jobs {naive_heap / 2**20:.1f} MB; "
              f"ours: one interval job {ours_heap / 1024:.1f} KB (the due list of one {DUE:,}-due query, freed "
              f"after the tick: {due_peak / 2**20:.1f} MB peak)")
        naive_start_s = statistics.median(naive_reads[REMINDERS]) + statistics.median(naive_adds[REMINDERS])
        print(f"[{engine}] naive start-up with {REMINDERS:,}: {naive_start_s:.2f} s "
              f"({naive_start_s / statistics.median(ours_add):,.0f}x ours), worst stall "
              f"{max(naive_stalls[REMINDERS]) * 1000:.0f} ms, reminders missed while starting "
              f"{' / '.join(str(n) for n in naive_missed[REMINDERS])} (per start, real clock); due lookup "
              f"{statistics.median(peer_due) / statistics.median(ours_due):.2f}x ours")
    finally:
        await db.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        boards = await engines.urls(Path(tmp), "leaderboards")
        reminders = await engines.urls(Path(tmp), "reminders")
        for (engine, board_url), (_same, reminder_url) in zip(boards, reminders, strict=True):
            await bench_leaderboards(engine, board_url)
            await bench_reminders_design(engine, reminder_url)

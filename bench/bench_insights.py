"""/insights at 100,000 members on one track (issue 11): within Discord's 3 seconds, the chart off the loop.

Seeds the summaries /insights reads (members per step, the step_durations histogram, 12 weeks of weekly_active
rows) directly, then measures, in one run:
- the store's reads (`db.insights.track_summaries`) and the whole report (`bot.services.insights.report`);
- the chart drawn in a thread (`insights_chart`), and how late the event loop woke while it was drawn;
- `/insights` end to end through SimCord, bot side (defer, reads, names, chart, reply), beside `/help`;
- the road not taken: the funnel and step durations aggregated from raw progress rows (a GROUP BY over every
  done row of the server, as a design without the summaries would run on each call).
Both engines in one run (bench/engines.py: STEPWISE_BENCH_ENGINES); STEPWISE_BENCH_INSIGHTS sets the member count.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import simcord
from sqlalchemy import text

from bench import engines
from bench.common import LoopMonitor, bot_side_timer, print_table, timed
from bot.app import create_bot
from bot.config import Settings
from bot.domain.insights import stalled_cutoff
from bot.domain.timeutil import monday_of
from bot.services import insights as service
from bot.ui.insights_views import insights_chart
from db import tables
from db.database import Database
from db.insights import track_summaries

MEMBERS = int(os.environ.get("STEPWISE_BENCH_INSIGHTS", "100000"))
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
RUNS = 30
E2E_RUNS = 20
RAW_ROWS_MEMBERS = MEMBERS  # the raw-rows comparison: done progress rows for every member


async def seed(db: Database, guild_id: int, rng: random.Random) -> None:
    members, weeks = [], []
    durations: dict[tuple[int, int], int] = {}
    this_monday = monday_of(NOW.date())
    for i in range(MEMBERS):
        done = min(80, int(rng.expovariate(1 / 18)))
        started = NOW - timedelta(days=rng.randint(1, 200))
        reached = started + timedelta(days=rng.randint(0, max(0, (NOW - started).days)))
        members.append({"guild_id": guild_id, "user_id": 10_000_000 + i, "visible": 0 if i % 50 == 0 else 1,
                        "done_count": done, "reached_at": reached if done else datetime(1970, 1, 1, tzinfo=UTC),
                        "created_at": started, "current_step": done + 1, "plan_id": 0})
        for step in range(1, done + 1):
            days = int(rng.expovariate(1 / (2 + step % 7)))
            durations[(step, days)] = durations.get((step, days), 0) + 1
        for back in range(12):
            if rng.random() < 0.3:
                weeks.append({"guild_id": guild_id, "plan_id": 0, "week": this_monday - timedelta(weeks=back),
                              "user_id": 10_000_000 + i})
    async with db.transaction() as conn:
        for start in range(0, len(members), 20_000):
            await conn.execute(tables.members.insert(), members[start:start + 20_000])
        await conn.execute(tables.step_durations.insert(), [
            {"guild_id": guild_id, "plan_id": 0, "step": s, "days": d, "members": n}
            for (s, d), n in durations.items()])
        for start in range(0, len(weeks), 20_000):
            await conn.execute(tables.weekly_active.insert(), weeks[start:start + 20_000])
        counts: dict[object, int] = {}
        for row in weeks:
            counts[row["week"]] = counts.get(row["week"], 0) + 1
        await conn.execute(tables.weekly_counts.insert(), [
            {"guild_id": guild_id, "plan_id": 0, "week": week, "members": n} for week, n in counts.items()])
    async with db.transaction() as conn:
        await conn.execute(text("ANALYZE"))
    print(f"seeded {MEMBERS:,} members, {len(durations):,} duration buckets, {len(weeks):,} active-week rows")


async def seed_raw(db: Database, guild_id: int, rng: random.Random) -> int:
    """Done progress rows for RAW_ROWS_MEMBERS members (the input of the road not taken)."""
    rows = []
    for i in range(RAW_ROWS_MEMBERS):
        at = NOW - timedelta(days=200)
        for step in range(1, min(80, int(rng.expovariate(1 / 18))) + 1):
            at += timedelta(days=rng.randint(0, 6))
            rows.append({"guild_id": guild_id, "user_id": 10_000_000 + i, "step": step, "status": "done",
                         "updated_at": at, "done_at": at})
    async with db.transaction() as conn:
        for start in range(0, len(rows), 20_000):
            await conn.execute(tables.progress.insert(), rows[start:start + 20_000])
    return len(rows)


RAW_FUNNEL = "SELECT step, COUNT(*) FROM progress WHERE guild_id = :g AND status = 'done' GROUP BY step"
# Days per step from the raw rows: each done step against the member's previous one (a window over every row).
_GAP = {"sqlite": "CAST(julianday(done_at) - julianday(LAG(done_at) OVER w) AS INTEGER)",
        "postgresql": "CAST(EXTRACT(EPOCH FROM done_at - LAG(done_at) OVER w) / 86400 AS INTEGER)"}


def raw_durations(dialect: str) -> str:
    return ("SELECT step, days, COUNT(*) FROM (SELECT step, " + _GAP[dialect] + " AS days FROM progress "
            "WHERE guild_id = :g AND status = 'done' WINDOW w AS (PARTITION BY user_id ORDER BY step)) AS d "
            "WHERE days IS NOT NULL GROUP BY step, days")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for _engine, url in await engines.urls(Path(tmp), "insights"):
            await bench_engine(url)


async def bench_engine(url: str) -> None:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_path=Path(tmp) / "bench.sqlite3",  # type: ignore[call-arg]
                            database_url=url, discord_token=None)
        bot = create_bot(settings, clock=lambda: NOW, interval_job=False)
        env = simcord.Env(bot, shard_count=1)
        await env.start()
        try:
            guild = env.create_guild("Benchmark")
            channel = guild.create_text_channel("study")
            role = guild.create_role("Organisers", permissions=discord.Permissions(manage_guild=True))
            admin = guild.add_member(env.create_user("organiser"), roles=[role])
            await env.settle()
            started = time.perf_counter()
            await seed(bot.db, guild.id, rng)
            print(f"[{bot.db.dialect}] seeding took {time.perf_counter() - started:.1f} s")
            track = bot.tracks.bundled
            tz = bot.settings.tz
            first = monday_of(NOW.date()) - timedelta(weeks=11)

            async def reads(_i: int) -> Any:
                return await track_summaries(bot.db, guild.id, 0, last_step=80, cutoff=stalled_cutoff(NOW),
                                             first_week=first)

            async def report(_i: int) -> Any:
                return await service.report(bot.db, guild.id, track, NOW, tz)

            rows: list[tuple[str, list[float]]] = [("store reads (track_summaries)", await timed(RUNS, reads)),
                                                  ("report (reads + compute)", await timed(RUNS, report))]
            built = (await service.report(bot.db, guild.id, track, NOW, tz)).insights
            insights_chart(built, track.name)  # the bot warms the chart at start-up (matplotlib's imports)
            chart: list[float] = []
            async with LoopMonitor() as stalls:
                for _ in range(RUNS):
                    began = time.perf_counter()
                    await asyncio.to_thread(insights_chart, built, track.name)
                    chart.append(time.perf_counter() - began)
            rows.append(("chart in a thread (insights_chart)", chart))
            process = bot.get_cog("Insights").charts  # type: ignore[union-attr]
            await process.draw(built, track.name)  # start the worker process (the bot does it at start-up)
            in_process: list[float] = []
            async with LoopMonitor() as process_stalls:
                for _ in range(RUNS):
                    began = time.perf_counter()
                    await process.draw(built, track.name)
                    in_process.append(time.perf_counter() - began)
            rows.append(("chart in the chart process (what /insights does)", in_process))
            print_table(f"[{bot.db.dialect}] /insights pieces, {MEMBERS:,} members on one track", rows)
            print(f"[{bot.db.dialect}] event loop while charts were drawn: worst wake-up "
                  f"{stalls.worst * 1000:.1f} ms late in a thread, {process_stalls.worst * 1000:.1f} ms late with "
                  "the chart process (target <= 50 ms)")

            help_s: list[float] = []
            insights_s: list[float] = []
            with bot_side_timer(bot) as inside:
                for _ in range(E2E_RUNS):
                    await admin.slash(channel, "help")
                    help_s.append(inside[-1])
                    await admin.slash(channel, "insights")
                    insights_s.append(inside[-1])
            print_table(f"[{bot.db.dialect}] End to end, bot side (Discord allows 3 s; /insights defers first)",
                        [("/help", help_s), ("/insights", insights_s)], baseline="/help")

            started = time.perf_counter()
            count = await seed_raw(bot.db, guild.id, rng)  # read by nothing above: only the raw queries below
            print(f"[{bot.db.dialect}] seeded {count:,} raw progress rows in {time.perf_counter() - started:.0f} s")
            durations_sql = raw_durations(bot.db.dialect)

            async def raw(_i: int) -> None:
                await bot.db.fetchall(RAW_FUNNEL, {"g": guild.id})
                await bot.db.fetchall(durations_sql, {"g": guild.id})

            print_table(f"[{bot.db.dialect}] The road not taken: the funnel and the days per step from {count:,} raw "
                        f"progress rows ({RAW_ROWS_MEMBERS:,} members), on every call, beside our summaries",
                        [("our summaries (every /insights number)", await timed(5, reads)),
                         ("raw rows: GROUP BY + a window over every row", await timed(3, raw))],
                        baseline="our summaries (every /insights number)")
        finally:
            await env.shutdown()
            await bot.close()

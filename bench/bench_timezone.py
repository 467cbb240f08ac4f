"""`/config timezone` on a big server: the week and month rebuild at 100,000 and 400,000 done rows.

Seeds members with done steps spread over two years, then measures, in the same run:
- event-loop stalls (a monitor task waking every 2 ms: how late it woke) while idle (the baseline) and while
  `/config timezone` runs through SimCord (target: <= 50 ms at 400,000 done rows);
- the change itself (`change_timezone`: zone + rebuild + next slot in one transaction), back and forth
  between zones, and the whole command as an admin sees it;
- the counting (a snapshot on a second connection, no lock) and the writing transaction (the lock) apart;
- members' /done writes, one every 20 ms while the command runs: how long each takes;
- at 100,000 rows, the rebuild this replaced (every row keyed in Python on the event loop) as the road not taken.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import discord
import simcord
from sqlalchemy import select, text

from bench.common import LoopMonitor, print_table
from bot.app import create_bot
from bot.config import Settings
from bot.domain.progress import Status
from bot.domain.timeutil import period_key
from db import tables
from db.community import change_timezone, rebuild_period_counts, recount_periods
from db.database import Database
from db.progress import StepChange, apply_changes

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
STEPS_PER_MEMBER = 20
ZONES = ("Asia/Kathmandu", "America/New_York", "Pacific/Kiritimati", "Europe/Berlin")
RUNS = 4


async def seed(db: Database, guild_id: int, rows: int, rng: random.Random) -> None:
    """rows / 20 members with 20 done steps each, done over the last two years (direct inserts)."""
    members: list[dict[str, object]] = []
    progress: list[dict[str, object]] = []
    for i in range(rows // STEPS_PER_MEMBER):
        user = 20_000_000 + i
        times = sorted(NOW - timedelta(minutes=rng.randint(0, 730 * 24 * 60)) for _ in range(STEPS_PER_MEMBER))
        members.append({"guild_id": guild_id, "user_id": user, "done_count": STEPS_PER_MEMBER,
                        "reached_at": times[-1], "current_step": STEPS_PER_MEMBER + 1, "created_at": NOW})
        progress += [{"guild_id": guild_id, "user_id": user, "step": step, "status": "done", "note": None,
                      "updated_at": NOW, "done_at": t} for step, t in enumerate(times, start=1)]
    async with db.transaction() as conn:
        await conn.execute(tables.members.insert(), members)
        await conn.execute(tables.progress.insert(), progress)
    await rebuild_period_counts(db, guild_id, ZoneInfo("UTC"))
    async with db.transaction() as conn:
        await conn.execute(text("ANALYZE"))


async def old_rebuild(db: Database, guild_id: int, tz: ZoneInfo) -> None:
    """The rebuild before issue 8: every done row keyed in Python on the event loop, all rows rewritten."""
    p, pc = tables.progress.c, tables.period_counts.c
    async with db.transaction() as conn:
        rows = (await conn.execute(select(p.user_id, p.done_at).where(
            p.guild_id == guild_id, p.status == "done", p.done_at.is_not(None)))).all()
        counts: dict[tuple[str, int], list[datetime]] = defaultdict(list)
        for user_id, moment in rows:
            counts[(period_key(moment, tz, "week"), int(user_id))].append(moment)
            counts[(period_key(moment, tz, "month"), int(user_id))].append(moment)
        await conn.execute(tables.period_counts.delete().where(pc.guild_id == guild_id))
        await conn.execute(tables.period_counts.insert(), [
            {"guild_id": guild_id, "period": period, "user_id": user, "done_count": len(times),
             "reached_at": max(times)} for (period, user), times in counts.items()])


async def measure(rows: int, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_path=Path(tmp) / "bench.sqlite3",  # type: ignore[call-arg]
                            database_url=os.environ.get("STEPWISE_BENCH_DATABASE_URL", ""), discord_token=None)
        bot = create_bot(settings, clock=lambda: NOW, interval_job=False)
        env = simcord.Env(bot, settle_timeout=600, shard_count=1)
        await env.start()
        try:
            guild = env.create_guild("Benchmark")
            channel = guild.create_text_channel("study")
            role = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
            admin = guild.add_member(env.create_user("admin"), roles=[role])
            await env.settle()
            started = time.perf_counter()
            await seed(bot.db, guild.id, rows, rng)
            print(f"\n{rows:,} done rows ({rows // STEPS_PER_MEMBER:,} members) seeded in "
                  f"{time.perf_counter() - started:.1f} s")
            await admin.slash(channel, "config leaderboard", channel=channel, schedule="daily", time="18:00")
            gc.collect()  # as `python -m bot run` does once set up (StepwiseBot.freeze_heap)
            gc.freeze()

            change: list[float] = []
            counting: list[float] = []
            writing: list[float] = []
            command: list[float] = []
            waits: list[float] = []
            stalls: list[float] = []
            worst_each: list[float] = []
            for i in range(RUNS):
                tz = ZoneInfo(ZONES[i % len(ZONES)])
                start = time.perf_counter()
                await change_timezone(bot.db, guild.id, tz, NOW)
                change.append(time.perf_counter() - start)
                other = ZoneInfo(ZONES[(i + 1) % len(ZONES)])
                start = time.perf_counter()
                counted = await recount_periods(bot.db, guild.id, other)
                counting.append(time.perf_counter() - start)
                start = time.perf_counter()
                await change_timezone(bot.db, guild.id, other, NOW, recount=counted)
                writing.append(time.perf_counter() - start)
                async with LoopMonitor() as busy:
                    start = time.perf_counter()
                    slash = asyncio.ensure_future(admin.slash(channel, "config timezone", timezone=ZONES[i]))
                    n = 0
                    while not slash.done():  # members keep marking steps while the change runs
                        write_start = time.perf_counter()
                        await apply_changes(bot.db, guild.id, 20_000_000 + n, [StepChange(80 - i, Status.DONE)],
                                            NOW, default_tz=ZoneInfo("UTC"))
                        waits.append(time.perf_counter() - write_start)
                        n += 1
                        await asyncio.sleep(0.02)
                    result = await slash
                    command.append(time.perf_counter() - start)
                assert result.response is not None, result
                assert result.response.content.startswith("✅"), result.response.content
                stalls += busy.samples
                worst_each.append(busy.worst)
            idle_samples: list[float] = []
            idle_worst: list[float] = []
            for _ in range(RUNS):  # the baseline: the same spans of time with the bot idle (a busy machine stalls too)
                async with LoopMonitor() as idle:
                    await asyncio.sleep(statistics.median(command))
                idle_samples += idle.samples
                idle_worst.append(idle.worst)
            print_table(f"Event-loop lateness (a 2 ms timer), {rows:,} done rows (target: <= 50 ms)",
                        [("idle (baseline)", idle_samples), ("during /config timezone", stalls),
                         ("worst of each idle span", idle_worst),
                         ("worst of each /config timezone", worst_each)], baseline="idle (baseline)")
            print_table(f"Time zone change, {rows:,} done rows", [
                ("change_timezone (count, then write)", change),
                ("  counting (snapshot, no lock)", counting),
                ("  writing (one transaction, the lock)", writing),
                ("/config timezone through SimCord", command),
                ("a /done every 20 ms during it: each one", waits),
            ], unit="s")
            if rows <= 100_000:
                async with LoopMonitor() as old_stalls:
                    start = time.perf_counter()
                    await old_rebuild(bot.db, guild.id, ZoneInfo("Asia/Tokyo"))
                    old = time.perf_counter() - start
                print(f"road not taken (the old rebuild, keyed in Python on the loop): {old:.2f} s, "
                      f"worst loop stall {old_stalls.worst * 1000:.0f} ms, "
                      f"vs {statistics.median(change):.2f} s and {max(worst_each) * 1000:.1f} ms now")
        finally:
            gc.unfreeze()
            await env.shutdown()
            await bot.close()


async def main() -> None:
    rng = random.Random(2026)
    for rows in (100_000, 400_000):
        await measure(rows, rng)

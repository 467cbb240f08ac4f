"""Per-member progress at scale: one guild, 10,000 members with random progress, through SimCord.

Times /done and /progress (without the chart) as the bot spends them (bot_side_timer: the command's
handling plus its REST calls, without SimCord's settling), each beside /help measured in the same run,
plus the wall time of the whole SimCord round trip, and the chart rendering on its own.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import simcord
from sqlalchemy import func, select

from bench.common import bot_side_timer, print_table, timed
from bot.app import create_bot
from bot.config import Settings
from bot.domain.progress import Status, StepState
from bot.domain.stats import activity_grid, daily_series
from bot.domain.timeutil import local_date
from bot.ui.charts import activity_calendar, progress_chart
from db.progress import load_member, seed_members
from db.tables import progress as progress_table

MEMBERS = 10_000
ACTIVE = 300  # members who run commands in the timed part
RUNS = 300
SEED = 20260101


def random_states(rng: random.Random, total: int, now: Any) -> list[StepState]:
    done = rng.randint(0, total)
    states = []
    for step in range(1, done + 1):
        roll = rng.random()
        at = now - timedelta(days=rng.uniform(0, 120))
        if roll < 0.08:
            states.append(StepState(step, Status.SKIPPED, None, at))
        else:
            states.append(StepState(step, Status.DONE, "https://example.com" if roll > 0.8 else None, at, at))
    if done < total and rng.random() < 0.5:
        states.append(StepState(done + 1, Status.IN_PROGRESS, None, now))
    return states


async def main() -> None:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        # STEPWISE_BENCH_DATABASE_URL (as the other benches): run on PostgreSQL instead of a temporary SQLite file.
        settings = Settings(_env_file=None, database_path=Path(tmp) / "bench.sqlite3",  # type: ignore[call-arg]
                            database_url=os.environ.get("STEPWISE_BENCH_DATABASE_URL", ""))
        bot = create_bot(settings)
        _add_ping(bot)
        async with simcord.run(bot, shard_count=1) as env:
            started = time.perf_counter()
            guild = env.create_guild("Bench Hall")
            channel = guild.create_text_channel("study")
            members = [guild.add_member(env.create_user(f"m{i}")) for i in range(MEMBERS)]
            await env.settle()
            built = time.perf_counter() - started
            now = bot.clock()
            started = time.perf_counter()
            seeded_states = {m.id: random_states(rng, bot.plan.total, now) for m in members}
            await seed_members(bot.db, guild.id, seeded_states, now)
            seeded = time.perf_counter() - started
            rows = await bot.db.fetchone(select(func.count()).select_from(progress_table))
            print(f"built {MEMBERS} members in {built:.1f} s; seeded {rows[0] if rows else 0} progress rows "
                  f"in {seeded:.1f} s")

            cog: Any = bot.get_cog("Progress")
            cog.render_charts = False  # time the card; the chart is timed on its own below
            # members with steps left, so every timed /done marks one (the plan has 80; each does at most 2)
            active = rng.sample([m for m in members if len(seeded_states[m.id]) < 70], ACTIVE)

            async def ping(i: int) -> None:
                await active[i % ACTIVE].slash(channel, "bench-ping")

            async def help_(i: int) -> None:
                await active[i % ACTIVE].slash(channel, "help")

            async def done(i: int) -> None:
                await active[i % ACTIVE].slash(channel, "done")

            async def progress(i: int) -> None:
                await active[i % ACTIVE].slash(channel, "progress")

            for action in (ping, help_, done, progress):  # warm-up: first-call costs (imports, caches)
                await timed(5, action)
            walls: dict[str, list[float]] = {}
            bot_side: dict[str, list[float]] = {}
            for name, action in (("/bench-ping", ping), ("/help", help_), ("/done", done),
                                 ("/progress (no chart)", progress)):
                with bot_side_timer(bot) as samples:
                    walls[name] = await timed(RUNS, action)
                bot_side[name] = samples

            member = await load_member(bot.db, guild.id, active[0].id)
            times = member.done_times()
            await _render(times, now, bot.plan.total)  # warm-up: first imports and fonts
            chart = await timed(30, lambda _i: _render(times, now, bot.plan.total))
        await bot.close()  # SimCord never closes the bot; aiosqlite's thread must stop

        print_table(f"Bot-side time per command, {MEMBERS:,} members (without SimCord settling)",
                    [(f"{name} bot-side", s) for name, s in bot_side.items()], baseline="/bench-ping bot-side")
        print_table("Wall time per SimCord round trip (includes SimCord's own work)",
                    [(f"{name} round trip", s) for name, s in walls.items()], baseline="/bench-ping round trip")
        print_table("Chart rendering alone (worker-thread function, one call at a time)",
                    [("/bench-ping bot-side", bot_side["/bench-ping"]),
                     (f"both /progress images ({len(times)} steps done)", chart)],
                    baseline="/bench-ping bot-side")
        _verdict(bot_side, chart)


def _add_ping(bot: Any) -> None:
    """A trivial public reply, registered on this bench's bot only: the fair baseline for /done and /progress,
    which answer publicly (SimCord announces a public message to the channel, an ephemeral one like /help's
    reply it does not, so /help is the cheaper, less comparable baseline)."""
    import discord

    @discord.app_commands.command(name="bench-ping", description="Benchmark baseline: a trivial public reply")
    async def bench_ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    bot.tree.add_command(bench_ping)


async def _render(times: list[Any], now: Any, total: int) -> None:
    """Both /progress images one after the other (bench_charts times each alone, with p99)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("UTC")
    today = local_date(now, zone)
    progress_chart(daily_series(times, zone, today), total, None, "Steps done", "UTC")
    activity_calendar(activity_grid(times, zone, today), "Activity", "UTC")


def _verdict(bot_side: dict[str, list[float]], chart: list[float]) -> None:
    import statistics

    from bench.common import percentile

    print()
    for name in ("/done", "/progress (no chart)"):
        median, p99 = statistics.median(bot_side[name]), percentile(bot_side[name], 99)
        for baseline in ("/bench-ping", "/help"):
            base = statistics.median(bot_side[baseline])
            ok = median <= 3 * base and p99 < 0.050
            print(f"{name}: median {median / base:.2f}x {baseline} (target <= 3x), p99 {p99 * 1000:.1f} ms "
                  f"(target < 50 ms): {'OK' if ok else 'MISSED'}")
    median, p99 = statistics.median(chart), percentile(chart, 99)
    print(f"both images: median {median * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (target < 150 ms each, "
          f"see bench_charts): {'OK' if p99 < 0.150 else 'MISSED'}")

"""The /progress images: the steps chart and the activity calendar, each timed alone (median and p99, target
p99 < 150 ms), then /progress with both images through SimCord while a probe measures how long the event loop
stalls (the images are drawn in worker threads; target <= 50 ms).

Writes one example of each image to bench/out/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import percentile, print_table
from bot.domain.community import Cohort
from bot.domain.stats import activity_grid, daily_series, expected_by_day
from bot.ui.charts import activity_calendar, progress_chart

RUNS = 200
TARGET = 0.150
NOW = datetime(2026, 3, 20, 18, tzinfo=UTC)
TZ = ZoneInfo("America/Los_Angeles")
OUT = Path(__file__).parent / "out"


def shapes() -> dict[str, list[datetime]]:
    rng = random.Random(20260101)
    half_year = sorted(NOW - timedelta(days=rng.uniform(0, 182) ** 1.1 / 182 ** 0.1) for _ in range(80))
    return {
        "one step": [NOW - timedelta(hours=3)],
        "two weeks, 23 steps": [NOW - timedelta(days=13 - i * 13 / 23, hours=i % 5) for i in range(23)],
        "26 weeks, 80 steps": half_year,
        "year 1 + year 9999 rows": [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC), NOW],
    }


def time_calls(fn: Callable[[], bytes], runs: int = RUNS) -> list[float]:
    fn()  # warm-up: matplotlib's imports and font cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


async def main() -> None:
    today = NOW.astimezone(TZ).date()
    cohort = Cohort(today - timedelta(weeks=10), 5.0)
    rows: list[tuple[str, list[float]]] = []
    for name, times in shapes().items():
        series = daily_series(times, TZ, today)
        pace = expected_by_day(series.days, cohort.expected, 80)
        grid = activity_grid(times, TZ, today)
        rows.append((f"steps chart: {name}", time_calls(lambda s=series, p=pace: progress_chart(s, 80, p, "Steps done",
                                                                                                 TZ.key))))
        rows.append((f"calendar: {name}", time_calls(lambda g=grid: activity_calendar(g, "Activity",
                                                                                       TZ.key))))
        if name == "26 weeks, 80 steps":
            OUT.mkdir(exist_ok=True)
            (OUT / "progress-chart.png").write_bytes(progress_chart(series, 80, pace, "Steps done", TZ.key))
            (OUT / "activity-calendar.png").write_bytes(activity_calendar(grid, "Activity", TZ.key))
    print_table(f"Image rendering alone, one call at a time ({RUNS} runs each; target p99 < 150 ms)", rows)
    walls, lag = await progress_with_stall_probe(render=True)
    walls_off, lag_off = await progress_with_stall_probe(render=False)
    print_table("/progress through SimCord (round trip) and how late a 2-ms ticker on the event loop woke",
                [("/progress with both images", walls), ("/progress, images turned off", walls_off),
                 ("loop lateness, with images", lag), ("loop lateness, images off", lag_off)])
    print()
    for name, samples in rows:
        p99 = percentile(samples, 99)
        print(f"{name}: median {statistics.median(samples) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
              f"(target < 150 ms): {'OK' if p99 < TARGET else 'MISSED'}")
    print(f"event-loop stall during /progress with both images: p99 {percentile(lag, 99) * 1000:.1f} ms, max "
          f"{max(lag) * 1000:.1f} ms (without images: max {max(lag_off) * 1000:.1f} ms; target <= 50 ms): "
          f"{'OK' if percentile(lag, 99) <= 0.050 else 'MISSED'}")
    print(f"examples: {OUT / 'progress-chart.png'}, {OUT / 'activity-calendar.png'}")


async def progress_with_stall_probe(render: bool, runs: int = 40) -> tuple[list[float], list[float]]:
    """/progress with both images through SimCord, with a 2-ms ticker measuring how late the loop wakes it."""
    import simcord

    from bot.app import create_bot
    from bot.config import Settings
    from bot.domain.progress import Status
    from db.progress import StepChange, apply_changes

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_path=Path(tmp) / "bench.sqlite3")  # type: ignore[call-arg]
        bot = create_bot(settings)
        async with simcord.run(bot, shard_count=1) as env:
            guild = env.create_guild("Bench Hall")
            channel = guild.create_text_channel("study")
            member = guild.add_member(env.create_user("bench"))
            await env.settle()
            now = bot.clock()
            rng = random.Random(7)
            changes = [StepChange(n, Status.DONE, done_at=now - timedelta(days=rng.uniform(0, 180)))
                       for n in range(1, 81)]
            await apply_changes(bot.db, guild.id, member.id, changes, now, default_tz=ZoneInfo("UTC"),
                                record_history=False)
            cog: Any = bot.get_cog("Progress")
            cog.render_charts = render
            await member.slash(channel, "progress")  # warm-up
            lags: list[float] = []
            running = True

            async def probe() -> None:
                while running:
                    start = time.perf_counter()
                    await asyncio.sleep(0.002)
                    lags.append(max(0.0, time.perf_counter() - start - 0.002))

            task = asyncio.create_task(probe())
            walls = []
            for _ in range(runs):
                start = time.perf_counter()
                result: Any = await member.slash(channel, "progress")
                walls.append(time.perf_counter() - start)
                assert len(result.response.attachments) == (2 if render else 0)
            running = False
            await task
        await bot.close()
    return walls, lags



"""How long the demo takes to answer, after it has been running a while (issue 10, rough edge 7).

Builds the demo world as `make demo` does, moves the clock 72 h (so the simulated world has grown: DMs,
posts, the transcript SimCord keeps), then drives 100 mixed member actions through the Env and reports
the slowest, with the time the garbage collector spent in full (generation 2) passes meanwhile.

    .venv/bin/python -m bench.demo_actions              # as the demo runs (world frozen out of gc)
    .venv/bin/python -m bench.demo_actions --no-freeze  # as it ran before
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bot import demo
from bot.config import Settings


class GcWatch:
    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: list[tuple[int, float]] = []

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self.started))


async def run(freeze: bool, actions: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_path=Path(tmp) / "demo.sqlite3",  # type: ignore[call-arg]
                            discord_token=None)
        bot = demo.demo_bot(settings)
        env = demo.demo_env(bot)
        if not freeze:
            demo.freeze_world = lambda: None  # type: ignore[assignment]
        await env.start()
        try:
            world = await demo.open_world(env, bot)
            await world.clock.advance(72)  # "a demo that had been running for a while"
            members, channel = world.members, world.channel
            script: list[tuple[str, Any]] = [
                ("/plan step", lambda m: m.slash(channel, "plan step", number=57)),
                ("/plan next", lambda m: m.slash(channel, "plan next")),
                ("/progress", lambda m: m.slash(channel, "progress")),
                ("/leaderboard", lambda m: m.slash(channel, "leaderboard")),
                ("/done", lambda m: m.slash(channel, "done")),
                ("/undo", lambda m: m.slash(channel, "undo")),
                ("/buddies", lambda m: m.slash(channel, "buddies")),
                ("/remind status", lambda m: m.slash(channel, "remind status")),
                ("/plan step 0", lambda m: m.slash(channel, "plan step", number=0)),
                ("/help", lambda m: m.slash(channel, "help")),
            ]
            watch = GcWatch()
            gc.callbacks.append(watch)
            timings: list[tuple[float, str]] = []
            try:
                for index in range(actions):
                    label, act = script[index % len(script)]
                    member = members[(index * 7) % len(members)]
                    started = time.perf_counter()
                    await act(member)
                    timings.append((time.perf_counter() - started, label))
            finally:
                gc.callbacks.remove(watch)
            values = sorted(t for t, _ in timings)
            full = [p for g, p in watch.pauses if g == 2]
            median = statistics.median(values) * 1000
            print(f"freeze={'on' if freeze else 'off'}: {actions} actions, median {median:.0f} ms,"
                  f" p90 {values[int(len(values)*0.9)]*1000:.0f} ms, max {values[-1]*1000:.0f} ms"
                  f" ({max(timings)[1]}); gen-2 collections {len(full)}"
                  f" totalling {sum(full)*1000:.0f} ms (longest {max(full, default=0)*1000:.0f} ms);"
                  f" gc.get_freeze_count()={gc.get_freeze_count()}, tracked objects {len(gc.get_objects())}")
            print("slowest:", ", ".join(f"{label} {t*1000:.0f} ms" for t, label in sorted(timings)[-5:]))
        finally:
            await env.shutdown()
            await bot.close()
            gc.unfreeze()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-freeze", action="store_true")
    parser.add_argument("--actions", type=int, default=100)
    args = parser.parse_args(argv)
    asyncio.run(run(not args.no_freeze, args.actions))


if __name__ == "__main__":
    main()

"""Shared benchmark tools: timing through SimCord, and tables of median and p99."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bot.app import StepwiseBot


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def print_table(title: str, rows: Sequence[tuple[str, Sequence[float]]], baseline: str | None = None,
                unit: str = "ms") -> None:
    """One row per measurement: n, median, p99, and the median as a multiple of the baseline row's median."""
    scale = 1000.0 if unit == "ms" else 1.0
    base = None
    if baseline is not None:
        base = next((statistics.median(s) for name, s in rows if name == baseline), None)
    print(f"\n{title}")
    print(f"{'measurement':<44} {'n':>6} {'median ' + unit:>12} {'p99 ' + unit:>12} {'x baseline':>11}")
    for name, samples in rows:
        median = statistics.median(samples)
        ratio = f"{median / base:.2f}" if base else "-"
        p99 = percentile(samples, 99)
        print(f"{name:<44} {len(samples):>6} {median * scale:>12.3f} {p99 * scale:>12.3f} {ratio:>11}")


async def timed(n: int, action: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples: list[float] = []
    for i in range(n):
        start = time.perf_counter()
        await action(i)
        samples.append(time.perf_counter() - start)
    return samples


@contextmanager
def bot_side_timer(bot: StepwiseBot) -> Iterator[list[float]]:
    """Record how long the bot itself spends on each application command (callback plus its REST calls),
    leaving out SimCord's settling. Wraps the tree's dispatch for the duration of the block."""
    samples: list[float] = []
    tree: Any = bot.tree
    original = tree._call

    async def wrapped(interaction: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original(interaction)
        finally:
            samples.append(time.perf_counter() - start)

    tree._call = wrapped
    try:
        yield samples
    finally:
        tree._call = original


class LoopMonitor:
    """Measures event-loop stalls: a task asks to wake every `tick` seconds and records how late it woke.

    Lateness beyond a millisecond or so means something ran on the loop without yielding (or held the GIL).
    `async with LoopMonitor() as stalls:` ... then `stalls.samples` (seconds late per wake-up) and `stalls.worst`.
    """

    def __init__(self, tick: float = 0.002) -> None:
        self.tick = tick
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.samples.append(max(0.0, time.perf_counter() - start - self.tick))

    async def __aenter__(self) -> LoopMonitor:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def worst(self) -> float:
        return max(self.samples, default=0.0)

"""Shared benchmark tools: timing through SimCord, and tables of median and p99."""

from __future__ import annotations

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
        p99 = percentile(samples, 99) * scale
        print(f"{name:<44} {len(samples):>6} {median * scale:>12.3f} {p99:>12.3f} {ratio:>11}")


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

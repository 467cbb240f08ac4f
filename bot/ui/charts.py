"""PNG charts with matplotlib's Agg backend. Blocking: call from a worker thread (asyncio.to_thread).

Uses the object-oriented API (a Figure with its own Agg canvas), never pyplot's
global state, so charts can be drawn in several threads at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

BRAND_HEX = "#5B8DEF"
GOAL_HEX = "#9AA0A6"
MIN_SPAN = timedelta(days=2)


def progress_chart(series: Sequence[tuple[datetime, int]], total: int, title: str) -> bytes:
    """Cumulative steps done over time as a step line, with the plan's total as a dashed goal line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes: Any = figure.add_subplot()
    if series:
        times = [t for t, _ in series]
        counts = [c for _, c in series]
        axes.step([times[0], *times], [0, *counts], where="post", color=BRAND_HEX, linewidth=2)
        axes.fill_between([times[0], *times], [0, *counts], step="post", color=BRAND_HEX, alpha=0.15)
        if times[-1] - times[0] < MIN_SPAN:  # a day or two of data: give the axis room to label
            axes.set_xlim(times[0] - MIN_SPAN / 2, times[-1] + MIN_SPAN / 2)
        locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.axhline(total, color=GOAL_HEX, linestyle="--", linewidth=1)
    axes.text(0.01, total, f" goal: {total}", color=GOAL_HEX, va="bottom", fontsize=8,
              transform=axes.get_yaxis_transform())
    axes.set_ylim(0, total * 1.1 if total else 1)
    axes.set_ylabel("steps done")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

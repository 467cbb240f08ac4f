"""PNG charts with matplotlib's Agg backend. Blocking: call from a worker thread (asyncio.to_thread).

Uses the object-oriented API (a Figure with its own Agg canvas), never pyplot's global state, so charts can
be drawn in several threads at once.

Both charts sit on a dark rounded card with a transparent margin: light text on the card reads the same on
Discord's dark theme (where the card looks native) and on the light theme (where it is a dark tile), and the
colours are mid-saturation so they hold on both. The x axis uses day indexes with labels written here, so
a label is always the day it stands under (matplotlib's concise date labels once put "Jan" under December).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from bot.stats import ActivityGrid, DailySeries

# Palette: Discord-like greys with a blue brand accent.
CARD_HEX = "#232428"
TEXT_HEX = "#E3E5E8"
MUTED_HEX = "#A3A9B2"
GRID_HEX = "#3A3C42"
BAR_HEX = "#5B8DEF"
LINE_HEX = "#F2C14E"
PACE_HEX = "#E67E6C"
GOAL_HEX = "#A3A9B2"
CALENDAR_LEVELS = ("#34363C", "#274B85", "#3569BF", "#5B8DEF", "#A8C4FF")  # 0, 1, 2, 3, 4+ steps

WIDTH_IN, DPI = 5.0, 160  # 800 px wide: Discord shows embed images up to about 400 px, so this is crisp at 2x
FONT = "DejaVu Sans"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PROGRESS_SIZE = (800, 432)
CALENDAR_SIZE = (800, 288)


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.patch.set_alpha(0)
    card = FancyBboxPatch((0.004, 0.006), 0.992, 0.988, boxstyle="round,pad=0,rounding_size=0.02",
                          transform=figure.transFigure, facecolor=CARD_HEX, edgecolor="none",
                          mutation_aspect=WIDTH_IN / height_in, zorder=-10)
    figure.patches.append(card)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", transparent=False, facecolor=(0, 0, 0, 0))
    return buffer.getvalue()


def _style(axes: Any) -> None:
    axes.set_facecolor("none")
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID_HEX)
    axes.tick_params(colors=MUTED_HEX, labelsize=7, length=0, pad=3)
    axes.grid(axis="y", color=GRID_HEX, linewidth=0.6)
    axes.set_axisbelow(True)


def _nice_ticks(top: int, most: int) -> list[int]:
    """0 and whole-number steps up to `top`, at most `most` + 1 of them (1, 2, 5, 10, 20, 25, 50 ... apart)."""
    for gap in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / gap <= most:
            return list(range(0, top + 1, gap))
    return [0, top]


def _day_label(day: date, previous: date | None) -> str:
    """'Mar 3', or '3' when the previous label is in the same month (the month is then read from it)."""
    if previous is not None and previous.month == day.month and previous.year == day.year:
        return str(day.day)
    return f"{MONTHS[day.month - 1]} {day.day}"


def _date_ticks(days: Sequence[date]) -> tuple[list[int], list[str]]:
    """Few enough labels to read: every day, every 2nd, Mondays, or every 2nd/4th Monday; today always."""
    count = len(days)
    if count <= 16:
        every = 2
        picks = [i for i in range(count) if (count - 1 - i) % every == 0]
    else:
        every = 7 if count <= 63 else 14 if count <= 126 else 28
        mondays = [i for i, d in enumerate(days) if d.weekday() == 0]
        picks = mondays[::-1][:: every // 7][::-1]
        picks = [i for i in picks if count - 1 - i >= max(2, every // 4)]  # leave room for "today"
        picks.append(count - 1)
    labels: list[str] = []
    previous: date | None = None
    for i in picks:
        labels.append(_day_label(days[i], previous))
        previous = days[i]
    labels[-1] = "today"
    return picks, labels


def progress_chart(series: DailySeries, total: int, pace: Sequence[int] | None = None, title: str = "") -> bytes:
    """Steps done per local day (bars, below) and in total (line, above) against the plan's total and, when
    the server has a cohort, the pace it expects. With no step done, a short note instead of empty axes."""
    figure = _figure(PROGRESS_SIZE[1] / DPI)
    figure.text(0.035, 0.93, title or "Your steps", color=TEXT_HEX, fontsize=9.5, fontweight="bold",
                va="center", family=FONT)
    if series.done == 0:
        figure.text(0.5, 0.5, "No steps done yet", color=TEXT_HEX, fontsize=12, ha="center", va="center")
        figure.text(0.5, 0.38, "Mark one with /done and your chart starts here.", color=MUTED_HEX, fontsize=8.5,
                    ha="center", va="center")
        return _png(figure)

    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D

    count = len(series.days)
    xs = list(range(count))
    grid = figure.add_gridspec(2, 1, height_ratios=(2.3, 1), hspace=0.2, left=0.075, right=0.925, top=0.8,
                               bottom=0.1)
    top: Any = figure.add_subplot(grid[0])
    bottom: Any = figure.add_subplot(grid[1], sharex=top)
    for axes in (top, bottom):
        _style(axes)

    # Above: the running total, the goal and the cohort's pace (from the day it expects a first step).
    ceiling = max(total, series.done, max(pace) if pace else 0, 1)
    top.fill_between(xs, series.cumulative, step="mid", color=LINE_HEX, alpha=0.13, linewidth=0)
    top.step(xs, series.cumulative, where="mid", color=LINE_HEX, linewidth=1.8)
    handles = [Line2D([], [], color=LINE_HEX, linewidth=1.8), Line2D([], [], color=BAR_HEX, linewidth=5)]
    names = ["done in total", "done that day"]
    paced = [i for i, n in enumerate(pace or []) if n > 0]
    if pace and paced:
        from_day = max(0, paced[0] - 1)
        top.step(xs[from_day:], list(pace)[from_day:], where="mid", color=PACE_HEX, linewidth=1.2,
                 linestyle=(0, (4, 2)))
        handles.append(Line2D([], [], color=PACE_HEX, linewidth=1.2, linestyle=(0, (4, 2))))
        names.append("cohort pace")
        if abs(pace[-1] - series.done) > ceiling * 0.07:
            top.annotate(str(pace[-1]), (count - 1, pace[-1]), xytext=(5, 0), textcoords="offset points",
                         color=PACE_HEX, fontsize=7, va="center", ha="left")
    top.axhline(total, color=GOAL_HEX, linewidth=0.9, linestyle=(0, (1, 2)))
    top.text(1.01, total, f"plan\n{total}", transform=top.get_yaxis_transform(), color=MUTED_HEX, fontsize=6.5,
             va="center", ha="left", linespacing=0.95)
    top.annotate(str(series.done), (count - 1, series.done), xytext=(5, 0), textcoords="offset points",
                 color=LINE_HEX, fontsize=8, fontweight="bold", va="center", ha="left")
    top.set_ylim(0, ceiling * 1.08)
    top.set_yticks(_nice_ticks(ceiling, 4))
    top.tick_params(labelbottom=False)
    figure.legend(handles, names, loc="center right", bbox_to_anchor=(0.97, 0.9), ncol=len(names), fontsize=7,
                  frameon=False, labelcolor=MUTED_HEX, handlelength=1.6, columnspacing=1.2)

    # Below: steps done each day, one polygon collection (bar() would make a patch per day).
    width = 0.72 if count <= 60 else 0.9
    bars = [[(x - width / 2, 0), (x - width / 2, n), (x + width / 2, n), (x + width / 2, 0)]
            for x, n in zip(xs, series.per_day, strict=True) if n]
    bottom.add_collection(PolyCollection(bars, facecolors=BAR_HEX, edgecolors="none"))
    most = max(series.per_day, default=0)
    bottom.set_ylim(0, max(most, 1) * 1.15)
    bottom.set_yticks(_nice_ticks(max(most, 1), 2))
    bottom.text(1.01, 0.5, "per\nday", transform=bottom.transAxes, color=MUTED_HEX, fontsize=6.5, va="center",
                ha="left", linespacing=0.95)
    ticks, labels = _date_ticks(series.days)
    bottom.set_xticks(ticks, labels)
    bottom.set_xlim(-0.6, count - 0.4)
    return _png(figure)


def activity_calendar(grid: ActivityGrid, title: str = "", zone: str = "") -> bytes:
    """A GitHub-style heatmap: one column per week (Monday on top), one square per local day, shaded by the
    steps done that day, with month labels above and a legend below."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    width, height = CALENDAR_SIZE
    figure = _figure(height / DPI)
    weeks = max(1, len(grid.counts))
    cell = min(25.5, 663 / weeks)  # pixels; the axes are sized so one data unit is one square cell
    left, bottom = 60.0, 40.0
    axes: Any = figure.add_axes((left / width, bottom / height, weeks * cell / width, 7 * cell / height))
    axes.set_axis_off()
    axes.set_xlim(0, weeks)
    axes.set_ylim(7, 0)
    squares, colours = [], []
    for week, column in enumerate(grid.counts):
        for weekday, n in enumerate(column):
            if n is None:
                continue
            squares.append(Rectangle((week + 0.09, weekday + 0.09), 0.82, 0.82))
            colours.append(CALENDAR_LEVELS[min(n, len(CALENDAR_LEVELS) - 1)])
    axes.add_collection(PatchCollection(squares, facecolors=colours, edgecolors="none"))
    last = (grid.today - grid.start).days
    if 0 <= last < weeks * 7:
        axes.add_patch(Rectangle((last // 7 + 0.03, last % 7 + 0.03), 0.94, 0.94, fill=False, edgecolor=TEXT_HEX,
                                 linewidth=0.9))
    for weekday, name in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        axes.text(-0.3, weekday + 0.5, name, color=MUTED_HEX, fontsize=6.5, ha="right", va="center")
    for week, label in _month_labels(grid, weeks):
        axes.text(week + 0.09, -0.25, label, color=MUTED_HEX, fontsize=6.5, ha="left", va="bottom")
    # The legend, in the grid's own units so its squares match the calendar's.
    legend_x = weeks - 5 * 1.0
    axes.text(legend_x - 0.25, 7.75, "Less", color=MUTED_HEX, fontsize=6.5, ha="right", va="center", clip_on=False)
    for i, colour in enumerate(CALENDAR_LEVELS):
        axes.add_patch(Rectangle((legend_x + i + 0.09, 7.34), 0.82, 0.82, facecolor=colour, edgecolor="none",
                                 clip_on=False))
    axes.text(weeks + 0.25, 7.75, "More", color=MUTED_HEX, fontsize=6.5, ha="left", va="center", clip_on=False)
    axes.text(0.09, 7.75, f"Days in {zone or 'your time zone'} · outlined: today", color=MUTED_HEX, fontsize=6.5,
              ha="left", va="center", clip_on=False)

    total, active = grid.total, grid.active_days
    figure.text(0.035, 0.9, title or "Activity", color=TEXT_HEX, fontsize=9.5, fontweight="bold", va="center")
    summary = (f"{total} step{'s' if total != 1 else ''} on {active} day{'s' if active != 1 else ''} "
               f"in the last {weeks} weeks" if total else f"No steps done in the last {weeks} weeks yet")
    figure.text(0.965, 0.9, summary, color=MUTED_HEX, fontsize=7, ha="right", va="center")
    return _png(figure)


def _month_labels(grid: ActivityGrid, weeks: int) -> list[tuple[int, str]]:
    """(week column, label) for each column holding the 1st of a month; the first column gets its month too
    unless the next label follows within three columns. January shows its year."""
    labels: list[tuple[int, str]] = []
    for week in range(weeks):
        firsts = [grid.day(week, d) for d in range(7) if grid.day(week, d).day == 1]
        if firsts:
            day = firsts[0]
            labels.append((week, MONTHS[day.month - 1] + (f" {day.year}" if day.month == 1 else "")))
    first = grid.day(0, 0)
    if not labels or labels[0][0] > 3:
        labels.insert(0, (0, MONTHS[first.month - 1]))
    return labels

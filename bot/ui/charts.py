"""The /progress images as PNGs, drawn with Pillow. Blocking: call from a worker thread (asyncio.to_thread).

Every shape is a horizontal or vertical line, a bar or a square, so Pillow draws them pixel-exact without
antialiasing, in about 10 ms (matplotlib took 40-60 ms for the same picture); text uses the DejaVu Sans
that matplotlib ships. Nothing is shared between calls except read-only caches and per-thread fonts, so
charts can be drawn in several threads at once.

Both charts sit on a dark rounded card with a transparent margin: light text on the card reads the same on
Discord's dark theme (where the card looks native) and on the light theme (where it is a dark tile), and the
colours are mid-saturation so they hold on both. Each x label is written here from the day it stands under
(matplotlib's concise date labels once put "Jan" under December's days).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import itertools
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bot.domain.stats import ActivityGrid, DailySeries

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

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# 800 px wide: Discord shows an embed's image about 400 px wide, so it is crisp at 2x, and text must be
# about 20 px here to read like Discord's own small text there.
PROGRESS_SIZE = (800, 444)
CALENDAR_SIZE = (800, 324)
TITLE_PX, LABEL_PX, SMALL_PX = 30, 20, 19


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


def _date_ticks(days: Sequence[date], slot: float, min_gap: float = 88) -> tuple[list[int], list[str]]:
    """Day indexes to label and their labels: every 2nd day, or Mondays (every 1st, 2nd or 4th, whichever
    leaves `min_gap` pixels between labels), always ending with "today"."""
    count = len(days)
    if count <= 16:
        picks = [i for i in range(count) if (count - 1 - i) % 2 == 0]
    else:
        mondays = [i for i, d in enumerate(days) if d.weekday() == 0]
        every = next((n for n in (1, 2, 4, 8) if n * 7 * slot >= min_gap), 8)
        picks = mondays[::-1][::every][::-1]
    picks = [i for i in picks if i != count - 1 and (count - 1 - i) * slot >= min_gap] + [count - 1]
    labels: list[str] = []
    previous: date | None = None
    for i in picks:
        labels.append(_day_label(days[i], previous))
        previous = days[i]
    labels[-1] = "today"
    return picks, labels


class _Canvas:
    """A transparent PNG with the dark rounded card, and the few drawing helpers the charts need."""

    def __init__(self, width: int, height: int) -> None:
        from PIL import Image, ImageDraw

        self.image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        self.image.paste(_rgb(CARD_HEX), (0, 0), _card_mask(width, height))
        self.draw = ImageDraw.Draw(self.image)

    def text(self, xy: tuple[float, float], text: str, *, size: int = 14, colour: str = MUTED_HEX,
             anchor: str = "lm", bold: bool = False) -> float:
        """Draw `text`; return its width in pixels."""
        font = _font(size, bold)
        self.draw.text(xy, text, font=font, fill=_rgb(colour), anchor=anchor)
        return float(self.draw.textlength(text, font=font))

    def hline(self, x0: float, x1: float, y: float, colour: str, width: int = 1) -> None:
        top = round(y - width / 2)
        self.draw.rectangle((round(x0), top, round(x1) - 1, top + width - 1), fill=_rgb(colour))

    def dashed(self, points: Sequence[tuple[float, float]], colour: str, width: int, on: float,
               off: float) -> None:
        """A dashed polyline of horizontal and vertical segments, the pattern running on across corners."""
        period, start = on + off, 0.0
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            length = abs(x1 - x0) + abs(y1 - y0)
            if length > 0:
                for k in range(int(start // period), int((start + length) // period) + 1):
                    lo, hi = max(start, k * period), min(start + length, k * period + on)
                    if lo < hi:
                        a, b = (lo - start) / length, (hi - start) / length
                        self.draw.line((x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b,
                                        y0 + (y1 - y0) * b), fill=_rgb(colour), width=width)
            start += length

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", compress_level=3)
        return buffer.getvalue()


def _blend(front: str, back: str, alpha: float) -> str:
    f, b = _rgb(front), _rgb(back)
    return "#" + "".join(f"{round(fc * alpha + bc * (1 - alpha)):02X}" for fc, bc in zip(f, b, strict=True))


def progress_chart(series: DailySeries, total: int, pace: Sequence[int] | None = None, title: str = "",
                   zone: str = "") -> bytes:
    """Steps done per local day (bars, below) and in total (a line, above) against the plan's total and, when
    the server has a cohort, the pace it expects. With no step done, a short note instead of empty axes."""
    width, height = PROGRESS_SIZE
    canvas = _Canvas(width, height)
    canvas.text((28, 38), title or "Steps done", size=TITLE_PX, colour=TEXT_HEX, bold=True)
    if zone:
        canvas.text((width - 28, 38), f"days in {zone}", size=LABEL_PX, anchor="rm")
    if series.done == 0:
        canvas.text((width / 2, height / 2 - 10), "No steps done yet", size=34, colour=TEXT_HEX, anchor="mm")
        canvas.text((width / 2, height / 2 + 36), "Mark one with /done and your chart starts here.", size=22,
                    anchor="mm")
        return canvas.png()

    left, right = 74, 722
    top, zero = 134, 294  # the running total's panel
    bars_top, bars_zero = 328, 384  # the per-day panel
    count = len(series.days)
    slot = (right - left) / count

    # The legend, measured so that its entries never run into each other.
    keys: list[tuple[str, str, str]] = [("done in total", LINE_HEX, "line"), ("done that day", BAR_HEX, "bar")]
    paced = [i for i, n in enumerate(pace or []) if n > 0]
    if pace and paced:
        keys.append(("cohort pace", PACE_HEX, "dash"))
    x, row = 28.0, 88
    for name, colour, kind in keys:
        if kind == "line":
            canvas.hline(x, x + 30, row, colour, 5)
        elif kind == "bar":
            canvas.draw.rectangle((round(x + 5), row - 9, round(x + 25), row + 9), fill=_rgb(colour))
        else:
            canvas.dashed([(x, row), (x + 30, row)], colour, 3, 11, 5)
        x += 40 + canvas.text((x + 40, row), name, size=LABEL_PX) + 32

    highest = max(total, series.done, max(pace) if pace else 0, 1)
    ceiling = highest * 1.08

    def y_total(value: float) -> float:
        return zero - value / ceiling * (zero - top)

    def centre(i: int) -> float:
        return left + (i + 0.5) * slot

    def steps(values: Sequence[int], first: int = 0) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        for i in range(first, count):
            y = y_total(values[i])
            points += [(left + i * slot, y), (left + (i + 1) * slot, y)]
        return points

    # Above: the grid, the filled running total, the cohort's pace, the plan's total.
    line = steps(series.cumulative)
    canvas.draw.polygon([*line, (right, zero), (left, zero)], fill=_rgb(_blend(LINE_HEX, CARD_HEX, 0.14)))
    for value in _nice_ticks(highest, 4):
        y = y_total(value)
        canvas.hline(left, right, y, GRID_HEX)
        canvas.text((left - 10, y), str(value), size=LABEL_PX, anchor="rm")
    goal = y_total(total)
    for dot in range(left, right, 7):
        canvas.draw.rectangle((dot, round(goal) - 1, dot + 2, round(goal) + 1), fill=_rgb(GOAL_HEX))
    canvas.text((left + 6, goal - 8), f"plan: {total} steps", size=SMALL_PX, anchor="ls")
    if pace and paced:
        canvas.dashed(steps(pace, max(0, paced[0] - 1)), PACE_HEX, 3, 11, 5)
    canvas.draw.line(line, fill=_rgb(LINE_HEX), width=5, joint="curve")
    done_y = y_total(series.done)
    canvas.text((right + 10, done_y), str(series.done), size=24, colour=LINE_HEX, bold=True)
    if pace and paced and abs(y_total(pace[-1]) - done_y) >= 24:
        canvas.text((right + 10, y_total(pace[-1])), str(pace[-1]), size=LABEL_PX, colour=PACE_HEX)

    if series.before == 0 and sum(1 for n in series.per_day if n) == 1:  # a first chart: say what it will show
        note, at = "A first step! Each active day adds a bar below.", ((left + right) / 2, (top + zero) / 2)
        x0, y0, x1, y1 = canvas.draw.textbbox(at, note, font=_font(21), anchor="mm")
        canvas.draw.rectangle((x0 - 12, y0 - 8, x1 + 12, y1 + 8), fill=_rgb(CARD_HEX))  # over the grid lines
        canvas.text(at, note, size=21, anchor="mm")

    # Below: steps done each day.
    most = max(max(series.per_day, default=0), 1)
    scale = (bars_zero - bars_top) / (most * 1.1)
    for value in (0, most):  # the panel is short: its baseline and its tallest bar
        y = bars_zero - value * scale
        canvas.hline(left, right, y, GRID_HEX)
        canvas.text((left - 10, y), str(value), size=LABEL_PX, anchor="rm")
    half = max(0.5, slot * (0.36 if count <= 60 else 0.42))
    for i, n in enumerate(series.per_day):
        if n:
            c = centre(i)
            canvas.draw.rectangle((round(c - half), round(bars_zero - n * scale), max(round(c - half),
                                   round(c + half) - 1), bars_zero - 1), fill=_rgb(BAR_HEX))
    for i, label in zip(*_date_ticks(series.days, slot), strict=True):
        canvas.text((min(centre(i), right - 14), bars_zero + 12), label, size=LABEL_PX, anchor="ma")
    return canvas.png()


def activity_calendar(grid: ActivityGrid, title: str = "", zone: str = "") -> bytes:
    """A GitHub-style heatmap: one column per week (Monday on top), one square per local day, shaded by the
    steps done that day, with month labels above and a legend below."""
    width, height = CALENDAR_SIZE
    canvas = _Canvas(width, height)
    draw = canvas.draw
    weeks = max(1, len(grid.counts))
    cell = max(4, min(25, 650 // weeks))
    gap = max(1, round(cell * 0.16))
    left, top = 80, 98
    right = left + weeks * cell
    colours = [_rgb(c) for c in CALENDAR_LEVELS]
    for week, column in enumerate(grid.counts):
        for weekday, n in enumerate(column):
            if n is None:
                continue
            x, y = left + week * cell, top + weekday * cell
            draw.rounded_rectangle((x + gap // 2, y + gap // 2, x + cell - 1 - (gap + 1) // 2,
                                    y + cell - 1 - (gap + 1) // 2), radius=max(1, cell // 8),
                                   fill=colours[min(n, len(colours) - 1)])
    last = (grid.today - grid.start).days
    if 0 <= last < weeks * 7:
        x, y = left + last // 7 * cell, top + last % 7 * cell
        draw.rounded_rectangle((x, y, x + cell - 1, y + cell - 1), radius=max(1, cell // 6),
                               outline=_rgb(TEXT_HEX), width=2)
    label_px = LABEL_PX if cell >= 20 else 14  # a calendar of many weeks has smaller cells
    for weekday, name in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        canvas.text((left - 10, top + weekday * cell + cell / 2), name, size=label_px, anchor="rm")
    free = 0.0
    for week, label in _month_labels(grid, weeks):
        x = left + week * cell + gap // 2
        if x >= free:  # never one month's name over another's
            free = x + canvas.text((x, top - 10), label, size=label_px, anchor="ls") + 8

    # Below: what the days are, and the legend (right-aligned with the grid).
    baseline = top + 7 * cell + 26
    square = min(cell, 25)
    edge = max(right, width - 70)  # a short calendar (few weeks) still has its legend at the right
    more = canvas.text((edge, baseline), "More", size=SMALL_PX, anchor="rm")
    legend = round(edge - more - 8 - len(colours) * square)
    for i, colour in enumerate(colours):
        x = legend + i * square
        draw.rounded_rectangle((x + 2, baseline - square // 2 + 2, x + square - 3, baseline + square // 2 - 2),
                               radius=3, fill=colour)
    less = canvas.text((legend - 6, baseline), "Less", size=SMALL_PX, anchor="rm")
    room = legend - 6 - less - 20 - (left + gap // 2)
    place = zone or "your time zone"
    for note in (f"Days in {place} · outlined: today", f"Days in {place}",
                 f"Days in {place.rsplit('/', 1)[-1].replace('_', ' ')}"):
        if canvas.draw.textlength(note, font=_font(SMALL_PX)) <= room:
            canvas.text((left + gap // 2, baseline), note, size=SMALL_PX)
            break

    total, active = grid.total, grid.active_days
    heading = canvas.text((28, 38), title or "Activity", size=TITLE_PX, colour=TEXT_HEX, bold=True)
    steps, days = f"{total} step{'s' if total != 1 else ''}", f"{active} day{'s' if active != 1 else ''}"
    for summary in ((f"{steps} on {days} in the last {weeks} weeks", f"{steps} on {days}") if total else
                    (f"No steps done in the last {weeks} weeks", "No steps done yet")):
        if canvas.draw.textlength(summary, font=_font(LABEL_PX)) <= width - 56 - heading - 24:
            canvas.text((width - 28, 38), summary, size=LABEL_PX, anchor="rm")
            break
    return canvas.png()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


@functools.cache
def _card_mask(width: int, height: int) -> Any:
    """The card's rounded shape as an antialiased 8-bit mask (drawn at 4x, then reduced). Cached and only
    read afterwards, so threads share it safely."""
    from PIL import Image, ImageDraw

    scale = 4
    big = Image.new("L", (width * scale, height * scale), 0)
    ImageDraw.Draw(big).rounded_rectangle((3 * scale, 2 * scale, (width - 3) * scale - 1, (height - 2) * scale - 1),
                                          radius=16 * scale, fill=255)
    return big.resize((width, height), Image.Resampling.LANCZOS)


@functools.cache
def _font_path(bold: bool) -> str | None:
    """DejaVu Sans from matplotlib's data folder, found without importing matplotlib (which costs ~150 ms)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:  # pragma: no cover - matplotlib is a dependency
        return None
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / f"DejaVuSans{'-Bold' if bold else ''}.ttf"
    return str(path) if path.is_file() else None


_fonts = threading.local()  # a FreeType face is not safe to share between threads: one set per thread


def _font(size: int, bold: bool = False) -> Any:
    from PIL import ImageFont

    cache: dict[tuple[int, bool], Any] = _fonts.__dict__.setdefault("cache", {})
    if (size, bold) not in cache:
        path = _font_path(bold)
        cache[size, bold] = ImageFont.truetype(path, size) if path else ImageFont.load_default(size)
    return cache[size, bold]


def _month_labels(grid: ActivityGrid, weeks: int) -> list[tuple[int, str]]:
    """(week column, label) for each column holding the 1st of a month; the first column gets its month too
    unless the next label follows within three columns."""
    labels: list[tuple[int, str]] = []
    for week in range(weeks):
        firsts = [grid.day(week, d) for d in range(7) if grid.day(week, d).day == 1]
        if firsts:
            day = firsts[0]
            labels.append((week, MONTHS[day.month - 1]))
    first = grid.day(0, 0)
    if not labels or labels[0][0] > 3:
        labels.insert(0, (0, MONTHS[first.month - 1]))
    return labels

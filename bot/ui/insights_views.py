"""/insights for organisers: the embed (text that fits Discord's limits) and one PNG with the funnel, the slowest
steps and the weekly active learners.

The chart is drawn with matplotlib's object API on the Agg canvas: a `Figure` of its own per call, no pyplot
(whose global figure registry is not thread-safe) and no rcParams changes, so it can run in
`asyncio.to_thread`, several at once. matplotlib keys its FreeType faces by thread. The house look comes from
bot.ui.charts: the same palette, the dark rounded card with a transparent margin (its antialiased mask),
800 px wide for Discord's ~400 px preview, with 18-26 px text.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import discord

from bot.domain.insights import (
    MIN_TIMED_MEMBERS,
    STALLED_AFTER,
    FunnelStep,
    Insights,
    StepDuration,
    WeekActive,
)
from bot.ui.charts import (
    BAR_HEX,
    CARD_HEX,
    GRID_HEX,
    LINE_HEX,
    MONTHS,
    MUTED_HEX,
    PACE_HEX,
    TEXT_HEX,
    _blend,
    _card_mask,
)
from bot.ui.names import unknown_label
from bot.ui.plan_views import BRAND, bar, escape

CHART_FILENAME = "insights.png"
CHART_SIZE = (800, 600)  # px; shown about 400 x 300 in an embed
TITLE_LIMIT, DESCRIPTION_LIMIT, FIELD_LIMIT, FIELDS_LIMIT, TOTAL_LIMIT = 256, 4096, 1024, 25, 6000
FUNNEL_ROWS = 14  # a long plan's funnel field shows about this many steps (the chart shows them all)
NAME_MAX = 32  # Discord's display names are at most 32 characters
STEP_TITLE_MAX = 40
SPARK = "▁▂▃▄▅▆▇█"


# ---------------------------------------------------------------------------------------------- text


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def _percent(share: float) -> str:
    value = share * 100
    if 0 < value < 1:
        return "<1%"
    if 99 < value < 100:
        return ">99%"
    return f"{round(value)}%"


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _step_title(insights: Insights, step: int) -> str:
    return escape(_short(insights.title_of(step), STEP_TITLE_MAX))


def _name(names: Mapping[int, str], user_id: int) -> str:
    """A member's display name as text: Markdown and mentions escaped, never `<@id>`."""
    raw = names.get(user_id)
    return escape(_short(raw, NAME_MAX)) if raw else unknown_label(user_id)


def _fit(lines: Sequence[str], limit: int = FIELD_LIMIT) -> str:
    """As many whole lines as fit in `limit` characters."""
    kept: list[str] = []
    size = -1
    for line in lines:
        if size + 1 + len(line) > limit:
            break
        kept.append(line)
        size += 1 + len(line)
    return "\n".join(kept) or lines[0][:limit]


def _drops_value(insights: Insights) -> str:
    if not insights.biggest_drops:
        return f"Nobody is stopped: all {_plural(insights.members, 'member')} finished the track."
    lines = []
    for f in insights.biggest_drops:
        lines.append(f"**Step {f.step}** · {_step_title(insights, f.step)}: **{f.drop_from_previous:,}** on it "
                     f"({_percent(f.drop_from_previous / insights.members)} of all, "
                     f"{_percent(f.drop_share)} of those who got there)")
    return _fit(lines)


def _funnel_rows(insights: Insights) -> tuple[list[FunnelStep], bool]:
    """The steps the funnel field lists: all of a short plan; else evenly spaced ones, the biggest drops and the
    last step. True when some are left out."""
    funnel = insights.funnel
    if len(funnel) <= FUNNEL_ROWS + 2:
        return list(funnel), False
    every = -(-len(funnel) // FUNNEL_ROWS)
    picks = set(range(0, len(funnel), every)) | {len(funnel) - 1}
    picks |= {f.step - 1 for f in insights.biggest_drops}
    return [funnel[i] for i in sorted(picks)], True


def _funnel_value(insights: Insights) -> str:
    rows, thinned = _funnel_rows(insights)
    width = len(str(rows[-1].step))
    drops = {f.step for f in insights.biggest_drops}
    lines = [f"`{'start':<{5 + width}}` {bar(1, 1)} {insights.members:,}"]
    for f in rows:
        mark = " ⬅" if f.step in drops else ""
        lines.append(f"`step {f.step:>{width}}` {bar(f.reached, insights.members)} {f.reached:,} "
                     f"({_percent(f.share_of_start)}){mark}")
    if thinned:
        lines.append("Some steps left out here: the chart shows every step.")
    return _fit(lines)


def _duration_line(insights: Insights, d: StepDuration) -> str:
    return (f"**Step {d.step}** · {_step_title(insights, d.step)}: median **{_plural(d.median_days, 'day')}**, "
            f"90% within {_plural(d.p90_days, 'day')} ({_plural(d.members, 'member')})")


def _slowest_value(insights: Insights) -> str:
    rule = (f"Days from the previous step done (or from starting) to done. Steps fewer than {MIN_TIMED_MEMBERS} "
            "members have done are not ranked")
    if not insights.durations:
        return "No step has been done yet: durations appear as members mark steps done."
    if not insights.slowest:
        return (f"No step has been done by {MIN_TIMED_MEMBERS} members yet, so none is ranked "
                f"({_plural(insights.thin_steps, 'step')} done by fewer).")
    thin = f" ({insights.thin_steps:,} here)." if insights.thin_steps else "."
    return _fit([*(_duration_line(insights, d) for d in insights.slowest), f"*{rule}{thin}*"])


def _day_label(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}"


def _spark(weeks: Sequence[WeekActive]) -> str:
    top = max((w.active for w in weeks), default=0)
    if top == 0:
        return SPARK[0] * len(weeks)
    return "".join(SPARK[0] if w.active == 0 else SPARK[max(1, round(w.active / top * (len(SPARK) - 1)))]
                   for w in weeks)


def _weeks_value(insights: Insights) -> str:
    weeks = insights.weeks
    peak = max(weeks, key=lambda w: (w.active, w.start))
    last = weeks[-2].active if len(weeks) > 1 else 0
    line = (f"`{_spark(weeks)}` this week so far **{weeks[-1].active:,}** · last week {last:,}"
            f" · peak {peak.active:,} (week of {_day_label(peak.start)})" if peak.active else
            f"`{_spark(weeks)}` nobody marked a step in the last {len(weeks)} weeks")
    return line[:FIELD_LIMIT]


def _stalled_value(insights: Insights, names: Mapping[int, str]) -> str:
    stalled = insights.stalled
    days = STALLED_AFTER.days
    if stalled.total == 0:
        return f"Nobody: no member has been on the same step for more than {days} days."
    lines = [f"**{stalled.total:,}** {'member has' if stalled.total == 1 else 'members have'} been on the same "
             f"step for more than {days} days{':' if stalled.shown else '.'}"]
    items = [f"• {_name(names, s.user_id)} · step {s.step} · {_plural(s.days, 'day')}" for s in stalled.shown]
    for keep in range(len(items), -1, -1):  # as many names as fit, and how many more there are
        left = len(items) - keep + stalled.more
        text = "\n".join([*lines, *items[:keep], *([f"…and {left:,} more."] if left and items else [])])
        if len(text) <= FIELD_LIMIT:
            return text
    return lines[0]


def chart_wanted(insights: Insights) -> bool:
    """Whether the reply has a chart: not for a track nobody follows (the embed says so in words)."""
    return insights.members > 0


def insights_embed(insights: Insights, *, track_name: str, names: Mapping[int, str],
                   with_chart: bool = True) -> discord.Embed:
    """The organiser's reply. `names`: display names of the stalled members as typed (this escapes them; never
    pass already escaped names: member_names(..., escaped=False)); a missing one shows as 'member …1234'.
    With `with_chart` and when `chart_wanted`, the embed shows the PNG attached as CHART_FILENAME."""
    track = escape(_short(track_name, 120))
    embed = discord.Embed(title=f"Insights · {track}"[:TITLE_LIMIT], colour=BRAND)
    if insights.members == 0:
        embed.description = (f"Nobody follows **{track}** yet. Once members mark steps, this shows where they "
                             "stop, how long each step takes, who is active each week and who is stuck.")
        embed.set_footer(text="Only you can see this.")
        return embed
    this_week = insights.this_week.active
    embed.description = (
        f"**{_plural(insights.members, 'member')}** on **{track}** ({insights.plan.total:,} steps) · "
        f"**{insights.finished:,}** finished ({_percent(insights.finished / insights.members)})\n"
        f"**{this_week:,}** active this week so far."
    )[:DESCRIPTION_LIMIT]
    embed.add_field(name="Where members stop", value=_drops_value(insights), inline=False)
    embed.add_field(name="Funnel: members who did each step or got past it", value=_funnel_value(insights),
                    inline=False)
    embed.add_field(name="Slowest steps", value=_slowest_value(insights), inline=False)
    embed.add_field(name=f"Active learners, last {len(insights.weeks)} weeks", value=_weeks_value(insights),
                    inline=False)
    embed.add_field(name="Stalled", value=_stalled_value(insights, names), inline=False)
    embed.set_footer(text="Only you can see this · members hidden from leaderboards are counted · names never ping")
    if with_chart and chart_wanted(insights):
        embed.set_image(url=f"attachment://{CHART_FILENAME}")
    return embed


# ---------------------------------------------------------------------------------------------- chart

PX = 0.72  # points per pixel at 100 dpi
TITLE_PT, LABEL_PT, SMALL_PT = 24 * PX, 18 * PX, 16 * PX
FADED_BAR_HEX = _blend(BAR_HEX, CARD_HEX, 0.45)
DENSE_STEPS = 60  # above this many steps, the funnel is one filled outline instead of a bar per step


def _style_axes(ax: Any) -> None:
    ax.set_facecolor(CARD_HEX)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID_HEX)
    ax.tick_params(colors=MUTED_HEX, labelsize=SMALL_PT, length=0, pad=6)
    ax.grid(axis="y", color=GRID_HEX, linewidth=1)
    ax.set_axisbelow(True)


def _integer_ticks(top: int, most: int) -> list[int]:
    for gap in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000):
        if top / gap <= most:
            return list(range(0, top + 1, gap))
    gap = 10 ** (len(str(top)) - 1)
    return list(range(0, top + 1, gap))


def _set_ticks(setter: Any, values: Sequence[int]) -> None:
    setter(values, [f"{v:,}" for v in values])


def _step_ticks(count: int) -> list[int]:
    if count <= 16:
        return list(range(1, count + 1))
    gap = next(g for g in (2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000) if count / g <= 9)
    return [1, *range(gap, count + 1, gap)]


def _label_positions(xs: Sequence[float], width: float, lo: float, hi: float) -> list[float]:
    """Centres (axes fraction) for labels `width` wide near `xs` (sorted), none overlapping, all within lo..hi."""
    placed: list[float] = []
    for x in xs:
        placed.append(max(x, lo + width / 2, placed[-1] + width if placed else lo))
    placed[-1] = min(placed[-1], hi - width / 2)
    for i in range(len(placed) - 2, -1, -1):  # pushed past the right edge: slide the others back left
        placed[i] = min(placed[i], placed[i + 1] - width)
    return placed


def _draw_funnel(fig: Any, insights: Insights, rect: Sequence[float]) -> None:
    from matplotlib.patches import Polygon

    ax = fig.add_axes(rect)
    _style_axes(ax)
    count = len(insights.funnel)
    members = insights.members
    reached = [f.reached for f in insights.funnel]
    slots = max(count, 8)  # a short plan keeps narrow bars, centred
    pad = (slots - count) / 2
    ax.set_xlim(0.5 - pad, count + 0.5 + pad)
    ax.set_ylim(0, members * 1.6)  # headroom over the 'all members' line for the drops' labels
    drops = {f.step for f in insights.biggest_drops}
    if count <= DENSE_STEPS:
        colours = [PACE_HEX if step in drops else BAR_HEX for step in range(1, count + 1)]
        ax.bar(range(1, count + 1), reached, width=0.72, color=colours, linewidth=0)
    else:
        # One outline for all the bars (added as an artist: the limits are set above, and add_patch would walk
        # its 1,000 vertices to update them).
        outline = [(0.5, 0.0)]
        for step, value in enumerate(reached, start=1):
            outline += [(step - 0.5, value), (step + 0.5, value)]
        outline.append((count + 0.5, 0.0))
        ax.add_artist(Polygon(outline, closed=True, facecolor=BAR_HEX, linewidth=0))
        wide = max(1.0, count / 160)  # at least ~4 px, so a drop reads at 500 steps
        ax.bar(sorted(drops), [reached[s - 1] for s in sorted(drops)], width=wide, color=PACE_HEX, linewidth=0)
    ax.axhline(members, color=MUTED_HEX, linewidth=1.5, linestyle=(0, (2, 3)))
    _set_ticks(ax.set_yticks, _integer_ticks(members, 3))
    ax.set_xticks(_step_ticks(count))

    # The biggest drops, labelled above the bars (in the headroom over the "all members" line).
    chosen = sorted(insights.biggest_drops, key=lambda f: f.step)
    if chosen:
        lo, hi = ax.get_xlim()
        xs = [(f.step - lo) / (hi - lo) for f in chosen]
        for f, x in zip(chosen, _label_positions(xs, 0.15, 0.0, 1.0), strict=True):
            ax.annotate(f"step {f.step}\n{f.drop_from_previous:,} stop", xy=(f.step, f.reached),
                        xytext=(x, 0.86), textcoords="axes fraction", ha="center", va="center",
                        linespacing=1.1,
                        fontsize=SMALL_PT, color=PACE_HEX, fontweight="bold", parse_math=False,
                        arrowprops={"arrowstyle": "-", "color": PACE_HEX, "linewidth": 1.2, "shrinkA": 10,
                                    "shrinkB": 1})


def _draw_slowest(fig: Any, insights: Insights, rect: Sequence[float]) -> None:
    ax = fig.add_axes(rect)
    _style_axes(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=GRID_HEX, linewidth=1)
    slowest = list(insights.slowest)
    if not slowest:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.spines["bottom"].set_visible(False)
        note = ("No step done yet" if not insights.durations else
                f"No step done by {MIN_TIMED_MEMBERS}\nmembers yet")
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=LABEL_PT,
                color=MUTED_HEX, parse_math=False)
        return
    rows = list(range(len(slowest)))[::-1]  # the slowest on top
    top = max(d.p90_days for d in slowest)
    ax.barh(rows, [d.p90_days for d in slowest], height=0.62, color=FADED_BAR_HEX, linewidth=0)
    ax.barh(rows, [d.median_days for d in slowest], height=0.62, color=BAR_HEX, linewidth=0)
    ax.set_xlim(0, max(top, 1) * 1.45)
    ax.set_ylim(-0.6, max(len(slowest), 3) - 0.4)
    ax.set_yticks(rows, [f"step {d.step}" for d in slowest])
    _set_ticks(ax.set_xticks, _integer_ticks(max(top, 1), 3))
    for row, d in zip(rows, slowest, strict=True):
        ax.text(d.p90_days + max(top, 1) * 0.03, row, f"{d.median_days} · {d.p90_days}", va="center",
                fontsize=SMALL_PT, color=TEXT_HEX, parse_math=False)
    ax.set_xlabel("days: median (solid) · 90% within (faded)", fontsize=SMALL_PT, color=MUTED_HEX, labelpad=4)


def _draw_weeks(fig: Any, insights: Insights, rect: Sequence[float]) -> None:
    ax = fig.add_axes(rect)
    _style_axes(ax)
    weeks = insights.weeks
    values = [w.active for w in weeks]
    xs = list(range(len(weeks)))
    top = max(*values, 1)
    ax.set_xlim(-0.4, len(weeks) - 0.6)
    ax.set_ylim(0, top * 1.3)
    ax.fill_between(xs, values, color=_blend(LINE_HEX, CARD_HEX, 0.14), linewidth=0)
    ax.plot(xs[:-1], values[:-1], color=LINE_HEX, linewidth=3, marker="o", markersize=5)
    ax.plot(xs[-2:], values[-2:], color=LINE_HEX, linewidth=2, linestyle=(0, (2, 2)))  # the week so far
    ax.plot([xs[-1]], [values[-1]], marker="o", markersize=8, markerfacecolor=CARD_HEX, markeredgecolor=LINE_HEX,
            markeredgewidth=2.5, linestyle="none")
    ax.annotate(f"{values[-1]:,}", xy=(xs[-1], values[-1]), xytext=(0, 10), textcoords="offset points",
                ha="center", va="bottom", fontsize=LABEL_PT, color=LINE_HEX, fontweight="bold")
    picks = [i for i in xs if (len(xs) - 1 - i) % 4 == 0]
    ax.set_xticks(picks, [_day_label(weeks[i].start) if i != xs[-1] else "this wk" for i in picks])
    _set_ticks(ax.set_yticks, _integer_ticks(top, 3))
    if not any(values):
        ax.text(0.5, 0.55, f"Nobody active in {len(weeks)} weeks", transform=ax.transAxes, ha="center",
                va="center", fontsize=LABEL_PT, color=MUTED_HEX, parse_math=False)


def _box(left: float, top: float, width: float, height: float) -> tuple[float, float, float, float]:
    """An axes rectangle given in pixels from the chart's top left, as matplotlib's figure fractions."""
    w, h = CHART_SIZE
    return left / w, 1 - (top + height) / h, width / w, height / h


def _text(fig: Any, x: float, y: float, text: str, *, size: float = LABEL_PT, colour: str = TEXT_HEX,
          ha: str = "left", bold: bool = False) -> Any:
    """Text at (x, y) pixels from the chart's top left, vertically centred; `$` is just a dollar sign."""
    width, height = CHART_SIZE
    return fig.text(x / width, 1 - y / height, text, ha=ha, va="center", fontsize=size, color=colour,
                    fontweight="bold" if bold else "normal", parse_math=False)


def insights_chart(insights: Insights, track_name: str) -> bytes:
    """The PNG for /insights (CHART_SIZE): the funnel with the biggest drops marked, the slowest steps' median
    and 90th percentile days, and active learners per week. Blocking: run it in asyncio.to_thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    width, height = CHART_SIZE
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor=CARD_HEX)
    canvas: Any = FigureCanvasAgg(fig)  # matplotlib's stubs leave draw() untyped
    title = _short(track_name, 40)
    heading = _text(fig, 28, 38, title, size=TITLE_PT, bold=True)
    room = width - 56.0
    renderer = canvas.get_renderer()
    if insights.members:
        counts = _text(fig, width - 28, 38, f"{insights.members:,} members · {insights.finished:,} finished",
                       colour=MUTED_HEX, ha="right")
        room -= 24 + counts.get_window_extent(renderer).width
    while len(title) > 1 and heading.get_window_extent(renderer).width > room:  # a long name: shortened
        title = _short(title, max(1, len(title) - 3))
        heading.set_text(title)
    if insights.members == 0:
        _text(fig, width / 2, height * 0.45, "Nobody follows this track yet", size=34 * PX, ha="center")
        _text(fig, width / 2, height * 0.55, "When members mark steps, their funnel starts here.", size=22 * PX,
              colour=MUTED_HEX, ha="center")
    else:
        _text(fig, 28, 80, f"Members who did each step or got past it (dotted: all {insights.members:,})")
        _draw_funnel(fig, insights, _box(80, 100, 690, 190))
        _text(fig, 28, 345, f"Slowest steps (done by {MIN_TIMED_MEMBERS}+)")
        _draw_slowest(fig, insights, _box(100, 372, 260, 156))
        _text(fig, 430, 345, "Active learners per week")
        _draw_weeks(fig, insights, _box(470, 372, 300, 156))
    canvas.draw()
    image = Image.frombytes("RGBA", canvas.get_width_height(), bytes(canvas.buffer_rgba()))
    image.putalpha(_card_mask(width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()

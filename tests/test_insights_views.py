"""The /insights embed and chart (bot.ui.insights_views): Discord's limits for any plan and any crowd, names
as text (never a mention), the empty states, and PNGs of the expected size, also drawn from several threads.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import discord
import pytest
import simcord
from PIL import Image

from bot.domain.insights import STALLED_SHOWN, Insights, InsightsInput, Stalled, compute_insights
from bot.domain.plan import Plan, parse_plan
from bot.ui.charts import CARD_HEX, PACE_HEX, _rgb
from bot.ui.insights_views import CHART_FILENAME, CHART_SIZE, chart_wanted, insights_chart, insights_embed
from bot.ui.names import member_names
from tests.conftest import World
from tests.helpers import bot_of

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
TODAY = date(2026, 3, 20)
PNG = b"\x89PNG\r\n\x1a\n"


def plan_of(steps: int, title: str = "Topic") -> Plan:
    return parse_plan("\n".join(f"- [ ] {n}. {title} {n} (Exercise {n})" for n in range(1, steps + 1)))


def busy(plan: Plan, *, stalled: int = 30, members_per_step: int = 4) -> Insights:
    """Every step with members on it and timed, twelve active weeks, `stalled` stalled members."""
    n = plan.total
    on_step = {k: members_per_step + k % 5 for k in range(1, n + 1)}
    on_step[min(3, n)] += 40
    durations = {k: {k % 9: 3, k % 17 + 10: 2} for k in range(1, n + 1)}
    weekly = [(TODAY - timedelta(days=TODAY.weekday(), weeks=i), 10 + i) for i in range(12)]
    people = [Stalled(10**17 + i, i % n + 1, NOW - timedelta(days=15 + i % 90)) for i in range(stalled)]
    return compute_insights(InsightsInput(plan, on_step, 7, durations, weekly, people, stalled, NOW, TODAY))


def empty(plan: Plan) -> Insights:
    return compute_insights(InsightsInput(plan, {}, 0, {}, [], [], 0, NOW, TODAY))


def text_of(embed: discord.Embed) -> str:
    parts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for f in embed.fields:
        assert 0 < len(f.name or "") <= 256
        assert 0 < len(f.value or "") <= 1024, f.name
    assert len(embed.footer.text or "") <= 2048
    assert len(embed) <= 6000


# ---------------------------------------------------------------------------------------------- embed


@pytest.mark.parametrize("steps", [1, 12, 80, 500])
def test_the_embed_stays_within_discords_limits(steps: int) -> None:
    embed = insights_embed(busy(plan_of(steps)), track_name="Backend", names={})
    assert_within_limits(embed)


def test_five_hundred_steps_ten_thousand_stalled_and_everything_long() -> None:
    """Titles, names and the track name at their worst (long, and full of characters that escaping doubles)."""
    plan = plan_of(500, "*_`|" * 60)
    insights = busy(plan, stalled=10_000)
    names = {10**17 + i: "*_~`|>" * 10 for i in range(10_000)}
    embed = insights_embed(insights, track_name="_*" * 300, names=names)
    assert_within_limits(embed)
    stalled = embed.fields[-1].value or ""
    assert "**10,000** members have been on the same step for more than 14 days:" in stalled
    assert stalled.count("\n• ") == STALLED_SHOWN
    assert stalled.endswith(f"…and {10_000 - STALLED_SHOWN:,} more.")
    funnel = embed.fields[1].value or ""
    assert "`step 500`" in funnel  # the last step is always listed
    assert "the chart shows every step" in funnel


def test_names_show_as_text_never_as_mentions() -> None:
    insights = busy(plan_of(5), stalled=4)
    ids = [s.user_id for s in insights.stalled.shown]
    names = {ids[0]: "**x**", ids[1]: "@everyone", ids[2]: "<@123456789012345678> @here"}
    text = text_of(insights_embed(insights, track_name="Backend", names=names))
    assert "\\*\\*x\\*\\*" in text
    assert "**x**" not in text
    assert "@everyone" not in text
    assert "@\u200beveryone" in text
    assert "@here" not in text
    assert "<@123456789012345678>" not in text
    assert f"member …{str(ids[3])[-4:]}" in text  # a name the caller could not find
    assert not re.search(r"<@[!&]?\d+>", text)


async def test_names_looked_up_as_typed_are_escaped_once(env: simcord.Env, world: World) -> None:
    """The wiring: member_names(escaped=False) gives the names as typed, and the embed escapes them once."""
    tricky = world.guild.add_member(env.create_user("tricky"), nick="**x** @everyone")
    await env.settle()
    plan = plan_of(3)
    stalled = [Stalled(tricky.id, 2, NOW - timedelta(days=20)), Stalled(world.bob.id, 1, NOW - timedelta(days=16))]
    insights = compute_insights(InsightsInput(plan, {1: 1, 2: 1}, 0, {}, [], stalled, 2, NOW, TODAY))
    guild = bot_of(env).get_guild(world.guild.id)
    names = await member_names(guild, [s.user_id for s in insights.stalled.shown], escaped=False)
    assert names == {tricky.id: "**x** @everyone", world.bob.id: "bob"}
    value = insights_embed(insights, track_name="T", names=names).fields[-1].value or ""
    assert value.splitlines()[1:] == ["• \\*\\*x\\*\\* @\u200beveryone · step 2 · 20 days", "• bob · step 1 · 16 days"]


def test_plan_and_track_text_is_escaped() -> None:
    insights = busy(plan_of(3, "**Loud** _title_"))
    text = text_of(insights_embed(insights, track_name="**Track** @everyone", names={}))
    assert "\\*\\*Loud\\*\\* \\_title\\_" in text
    assert "**Loud**" not in text
    assert "**\\*\\*Track\\*\\* @\u200beveryone**" in text


def test_the_biggest_drops_come_first_with_their_share() -> None:
    insights = busy(plan_of(12))
    drops = insights_embed(insights, track_name="T", names={}).fields[0]
    assert drops.name == "Where members stop"
    first = (drops.value or "").splitlines()[0]
    top = insights.biggest_drops[0]
    assert first.startswith(f"**Step {top.step}** · Topic {top.step}: **{top.drop_from_previous}** on it")


def test_a_track_nobody_follows() -> None:
    embed = insights_embed(empty(plan_of(5)), track_name="Backend", names={})
    assert_within_limits(embed)
    assert "Nobody follows **Backend** yet" in (embed.description or "")
    assert embed.fields == []
    assert not chart_wanted(empty(plan_of(5)))
    assert embed.image.url is None  # no chart to show for an empty track


def test_no_durations_yet_and_nobody_stalled() -> None:
    plan = plan_of(6)
    insights = compute_insights(InsightsInput(plan, {1: 5}, 0, {}, [], [], 0, NOW, TODAY))
    embed = insights_embed(insights, track_name="Backend", names={})
    assert_within_limits(embed)
    fields = {f.name: f.value or "" for f in embed.fields}
    assert fields["Slowest steps"].startswith("No step has been done yet")
    assert fields["Stalled"].startswith("Nobody: no member has been on the same step for more than 14 days")
    assert "nobody marked a step in the last 12 weeks" in fields["Active learners, last 12 weeks"]
    assert embed.image.url == f"attachment://{CHART_FILENAME}"


def test_durations_of_too_few_members_are_not_ranked_and_the_embed_says_so() -> None:
    plan = plan_of(3)
    thin = compute_insights(InsightsInput(plan, {3: 2}, 0, {1: {4: 2}, 2: {1: 1}}, [], [], 0, NOW, TODAY))
    value = {f.name: f.value for f in insights_embed(thin, track_name="T", names={}).fields}["Slowest steps"]
    assert value == "No step has been done by 3 members yet, so none is ranked (2 steps done by fewer)."
    ranked = busy(plan)
    value = {f.name: f.value for f in insights_embed(ranked, track_name="T", names={}).fields}["Slowest steps"]
    assert "fewer than 3 members have done are not ranked" in (value or "")
    assert "median **" in (value or "")


def test_everybody_finished() -> None:
    insights = compute_insights(InsightsInput(plan_of(4), {}, 9, {}, [], [], 0, NOW, TODAY))
    embed = insights_embed(insights, track_name="T", names={})
    assert embed.fields[0].value == "Nobody is stopped: all 9 members finished the track."
    assert "**9** finished (100%)" in (embed.description or "")


# ---------------------------------------------------------------------------------------------- chart


def image_of(data: bytes) -> Image.Image:
    assert data.startswith(PNG)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("steps", [1, 2, 12, 80, 500])
def test_the_chart_is_a_png_of_the_chart_size(steps: int) -> None:
    data = insights_chart(busy(plan_of(steps)), "Backend")
    image = image_of(data)
    assert image.size == CHART_SIZE
    assert image.mode == "RGBA"
    assert 10_000 < len(data) < 1_000_000
    assert image.getpixel((0, 0))[3] == 0  # the card's rounded corner: transparent
    assert image.getpixel((400, 300))[3] == 255


@pytest.mark.parametrize("steps", [1, 80, 500])
def test_the_biggest_drops_are_highlighted(steps: int) -> None:
    """The highlight colour is in the funnel panel (bars and labels), so even 500 steps show where they are."""
    image = image_of(insights_chart(busy(plan_of(steps)), "Backend")).convert("RGB")
    funnel = image.crop((80, 100, 770, 290))
    assert _rgb(PACE_HEX) in {colour for _, colour in funnel.getcolors(maxcolors=1 << 20) or []}


def test_the_chart_of_an_empty_track_and_of_a_track_without_durations() -> None:
    assert image_of(insights_chart(empty(plan_of(3)), "Nobody here")).size == CHART_SIZE
    plan = plan_of(3)
    started = compute_insights(InsightsInput(plan, {1: 2}, 0, {}, [], [], 0, NOW, TODAY))
    assert image_of(insights_chart(started, "Just started")).size == CHART_SIZE


def test_a_long_track_name_is_shortened_to_fit_the_card() -> None:
    image = image_of(insights_chart(empty(plan_of(1)), "W" * 200)).convert("RGB")
    margin = image.crop((CHART_SIZE[0] - 26, 20, CHART_SIZE[0] - 8, 56))  # right of where the title may end
    assert {colour for _, colour in margin.getcolors() or []} == {_rgb(CARD_HEX)}


def test_text_that_looks_like_mathtext_is_drawn_as_it_is() -> None:
    assert image_of(insights_chart(busy(plan_of(3)), "Costs $5 and $x^2$ \\frac")).size == CHART_SIZE


def test_charts_drawn_in_threads_at_once_are_the_charts_drawn_one_by_one() -> None:
    cases = [(busy(plan_of(n)), f"Track {n}") for n in (1, 7, 80, 500)] * 2
    alone = [insights_chart(insights, name) for insights, name in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda case: insights_chart(*case), cases))
    assert together == alone

"""/leaderboard as members see it: order and ties, pages, own rank, hidden members, weeks and months far from UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import simcord

from db.settings import set_guild_timezone
from tests.community_support import bot_of, mark_done, set_visible
from tests.conftest import World
from tests.helpers import button_labels, embed_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock starts here


def lines(result: simcord.InteractionResult) -> list[str]:
    assert result.response is not None
    return (result.response.embeds[0].description or "").splitlines()


def you(result: simcord.InteractionResult) -> str:
    assert result.response is not None
    return {f.name: f.value for f in result.response.embeds[0].fields}["You"]


async def test_ranks_by_steps_and_ties_go_to_whoever_got_there_first(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.bob.id, range(1, 4), T0 - timedelta(hours=5))  # 3 steps, reached first
    await mark_done(env, g, world.alice.id, range(1, 4), T0 - timedelta(hours=2))  # 3 steps, later
    await mark_done(env, g, 5001, range(1, 6), T0 - timedelta(hours=1))  # 5 steps
    result = await world.alice.slash(world.channel, "leaderboard")
    assert not result.ephemeral
    assert lines(result) == [
        "🥇 a member who left · **5** steps",
        "🥈 bob · **3** steps",
        "🥉 alice · **3** steps ← you",
    ]
    assert you(result) == "You are **#3** of 3 with **3 steps**."
    assert result.response.embeds[0].title == "🏆 Leaderboard · All time"
    assert button_labels(result.response) == []  # one page: no pager


async def test_ten_a_page_with_the_callers_rank_shown_even_off_the_page(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    for i in range(24):  # 24 other members with 30..7 steps
        await mark_done(env, g, 6000 + i, range(1, 31 - i), T0 - timedelta(days=1))
    await mark_done(env, g, world.alice.id, range(1, 9), T0 - timedelta(hours=1))  # 8 steps: rank 24 of 25
    first = await world.alice.slash(world.channel, "leaderboard", period="all")
    assert len(lines(first)) == 10
    assert lines(first)[0] == "🥇 a member who left · **30** steps"
    assert you(first) == "You are **#24** of 25 with **8 steps**."
    assert button_labels(first.response) == ["◀ Previous", "Page 1 of 3", "Next ▶"]
    second = await world.alice.click(first.response.message, label="Next ▶")
    assert lines(second)[0] == "`#11` a member who left · **20** steps"
    third = await world.alice.click(second.response.message, label="Next ▶")
    assert lines(third)[3] == "`#24` alice · **8** steps ← you"
    assert button_labels(third.response) == ["◀ Previous", "Page 3 of 3", "Next ▶"]
    refused = await world.bob.click(third.response.message, label="◀ Previous")
    assert refused.ephemeral
    assert "run it yourself" in refused.response.content


async def test_pages_keep_working_after_a_restart(env: simcord.Env, world: World) -> None:
    for i in range(12):
        await mark_done(env, world.guild.id, 7000 + i, range(1, 20 - i), T0 - timedelta(days=1))
    shown = await world.alice.slash(world.channel, "leaderboard")
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    moved = await world.alice.click(shown.response.message, label="Next ▶")
    assert lines(moved) == ["`#11` a member who left · **9** steps", "`#12` a member who left · **8** steps"]


async def test_hidden_members_are_left_out_and_told_why(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 10), T0)
    await mark_done(env, g, world.bob.id, range(1, 3), T0)
    await set_visible(env, g, world.alice.id, False)
    for period in ("all", "week", "month"):
        seen_by_bob = await world.bob.slash(world.channel, "leaderboard", period=period)
        assert lines(seen_by_bob) == ["🥇 bob · **2** steps ← you"], period
        mine = await world.alice.slash(world.channel, "leaderboard", period=period)
        assert "alice" not in "\n".join(lines(mine))
        assert "You are hidden from leaderboards" in you(mine)


async def test_empty_board_and_a_member_with_nothing_yet(world: World) -> None:
    result = await world.alice.slash(world.channel, "leaderboard", period="week")
    text = embed_text(result)
    assert "Nobody has finished a step this week" in text
    assert you(result) == "You have no steps done this week. Mark one with `/done` to join the board."


async def test_week_follows_the_server_time_zone_far_from_utc(env: simcord.Env, world: World) -> None:
    """Kiritimati is UTC+14: its week starts on Sunday 10:00 UTC, while in UTC it is still last week."""
    g = world.guild.id
    now = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # Monday 14:00 in Kiritimati, Monday 00:00 in UTC
    await env.restart_bot(env.make_bot(clock=lambda: now))  # type: ignore[attr-defined]
    await set_guild_timezone(bot_of(env).db, g, "Pacific/Kiritimati")
    await mark_done(env, g, world.alice.id, [1], datetime(2026, 1, 4, 9, 59, tzinfo=UTC))  # Sunday 23:59 there
    await mark_done(env, g, world.bob.id, [1], datetime(2026, 1, 4, 10, 0, tzinfo=UTC))  # Monday 00:00 there
    week = await world.alice.slash(world.channel, "leaderboard", period="week")
    assert lines(week) == ["🥇 bob · **1** step"]
    assert week.response.embeds[0].title == "🏆 Leaderboard · This week (since Mon 5 Jan)"
    assert "Pacific/Kiritimati" in (week.response.embeds[0].footer.text or "")
    assert you(week).startswith("You have no steps done this week")


@pytest.mark.parametrize(
    ("zone", "counted", "title"),
    [
        ("Pacific/Kiritimati", ["alice", "bob"], "This month (January 2026)"),  # UTC+14: both are in January
        ("UTC", ["bob"], "This month (January 2026)"),  # alice's step was on 31 December
        ("Pacific/Pago_Pago", ["alice", "bob"], "This month (December 2025)"),  # UTC-11: still December
    ],
)
async def test_month_follows_the_server_time_zone(env: simcord.Env, world: World, zone: str,
                                                  counted: list[str], title: str) -> None:
    """Now is 1 January 09:00 UTC. Alice's step was 31 December 10:30 UTC, Bob's 1 January 00:30 UTC."""
    g = world.guild.id
    now = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    await env.restart_bot(env.make_bot(clock=lambda: now))  # type: ignore[attr-defined]
    await set_guild_timezone(bot_of(env).db, g, zone)
    await mark_done(env, g, world.alice.id, [1], datetime(2025, 12, 31, 10, 30, tzinfo=UTC))
    await mark_done(env, g, world.bob.id, [1], datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    result = await world.alice.slash(world.channel, "leaderboard", period="month")
    shown = "\n".join(lines(result))
    ids = {"alice": world.alice.id, "bob": world.bob.id}
    assert sorted(n for n, i in ids.items() if f" {n} ·" in shown) == counted
    assert result.response.embeds[0].title == f"🏆 Leaderboard · {title}"


async def test_mentions_never_ping(env: simcord.Env, world: World) -> None:
    await mark_done(env, world.guild.id, world.bob.id, [1], T0 - timedelta(hours=1))
    await world.alice.slash(world.channel, "leaderboard")
    posts = [r for r in env.http_requests if r.method == "POST" and r.path.endswith("/callback")]
    payload = posts[-1].json["data"]
    assert payload["allowed_mentions"] == {"parse": []}

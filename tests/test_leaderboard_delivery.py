"""Scheduled leaderboard posts are exactly once under faults (issue 8, section 2).

Each slot is claimed (committed, with a nonce derived from the server and the slot) before the send, then
recorded as posted or failed. A claim that never got posted (a crash, a network error that is not an HTTP
answer) is tried again within the slot's 6-hour window after a short grace period, with the same nonce, and
never posted twice; every failure shows in `/config show`.

The faults are real ones at the network layer: discord.py's `HTTPClient.send_message` raising
`aiohttp.ClientOSError` (before or after Discord created the message), or the tick being cancelled mid-send as
`close()` does, then a restart on the same database file. SimCord ignores nonces, so what keeps a retry from
posting twice here is our own check of the channel, not Discord's nonce window.

Before the fix, the three fault tests failed: the slot was lost (no post at all) and `/config show` said
"none 🎉"; with the answer lost after delivery, nothing was recorded either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import pytest
import simcord

from db.community import get_settings
from tests.community_support import add_admin, bot_of, mark_done
from tests.conftest import World
from tests.helpers import embed_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SLOT1 = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)  # 18:00 in Auckland
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


@pytest.fixture
async def board(env: simcord.Env, world: World, admin: simcord.MemberActor) -> simcord.ChannelHandle:
    channel = world.guild.create_text_channel("leaderboard")
    await admin.slash(world.channel, "config timezone", timezone="Pacific/Auckland")
    await admin.slash(world.channel, "config leaderboard", channel=channel, schedule="daily", time="18:00")
    await mark_done(env, world.guild.id, world.alice.id, range(1, 4), T0)
    return channel


def bot_posts(channel: simcord.ChannelHandle) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.bot]


def post_nonces(env: simcord.Env, channel: simcord.ChannelHandle) -> list[str | None]:
    """The nonce of every attempt to post in `channel` that reached SimCord's transport."""
    return [(r.json or {}).get("nonce") for r in env.http_requests
            if r.method == "POST" and r.path == f"/channels/{channel.id}/messages"]


def fail_sends(env: simcord.Env, monkeypatch: pytest.MonkeyPatch, channel: simcord.ChannelHandle,
               error: Callable[[], BaseException], *, after_delivery: bool = False, times: int = 1) -> list[Any]:
    """Make the bot's next `times` message sends to `channel` raise `error()` from discord.py's HTTP layer.

    `after_delivery`: Discord creates the message, then the answer is lost (the connection drops on the way
    back). Returns the payloads the bot tried to send.
    """
    http = bot_of(env).http
    original = http.send_message
    tried: list[Any] = []
    left = [times]

    async def send_message(channel_id: int, *, params: Any) -> Any:
        if int(channel_id) == channel.id and left[0] > 0:
            left[0] -= 1
            tried.append(params.payload)
            if after_delivery:
                await original(channel_id, params=params)
            raise error()
        return await original(channel_id, params=params)

    monkeypatch.setattr(http, "send_message", send_message)
    return tried


def reset() -> aiohttp.ClientOSError:
    return aiohttp.ClientOSError(104, "Connection reset by peer")


async def shown_failures(world: World, admin: simcord.MemberActor) -> str:
    return embed_text(await admin.slash(world.channel, "config show")).split("Last failures", 1)[1]


async def test_a_network_error_is_shown_and_the_slot_is_retried_once_with_the_same_nonce(
        env: simcord.Env, world: World, admin: simcord.MemberActor, board: simcord.ChannelHandle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tried = fail_sends(env, monkeypatch, board, reset)
    await bot_of(env).run_scheduled(SLOT1)
    assert bot_posts(board) == []
    shown = await shown_failures(world, admin)
    assert "**Leaderboard post**" in shown
    assert "ClientOSError" in shown
    assert "I will try again" in shown

    await bot_of(env).run_scheduled(SLOT1 + MINUTE)  # within the grace period: not yet
    assert bot_posts(board) == []
    for moment in (SLOT1 + 3 * MINUTE, SLOT1 + 3 * MINUTE, SLOT1 + 10 * MINUTE, SLOT1 + timedelta(hours=5)):
        await bot_of(env).run_scheduled(moment)
    assert len(bot_posts(board)) == 1
    nonce = tried[0]["nonce"]
    assert 0 < len(nonce) <= 25
    assert tried[0]["enforce_nonce"] is True
    assert post_nonces(env, board) == [nonce]  # the retry (the one that reached Discord) used the same nonce
    assert env.errors == []


async def test_a_post_whose_answer_was_lost_is_not_posted_again_after_a_restart(
        env: simcord.Env, world: World, admin: simcord.MemberActor, board: simcord.ChannelHandle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fail_sends(env, monkeypatch, board, reset, after_delivery=True)
    await bot_of(env).run_scheduled(SLOT1)
    assert len(bot_posts(board)) == 1  # Discord has it; the bot does not know
    assert "ClientOSError" in await shown_failures(world, admin)

    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    for moment in (SLOT1 + 3 * MINUTE, SLOT1 + 10 * MINUTE, SLOT1 + timedelta(hours=2)):
        await bot_of(env).run_scheduled(moment)
    posts = bot_posts(board)
    assert len(posts) == 1
    settings = await get_settings(bot_of(env).db, world.guild.id)
    assert settings.posted_at is not None  # recorded as posted once the bot saw its own post
    assert env.errors == []


async def test_a_tick_cancelled_mid_send_is_posted_once_by_the_restarted_bot(
        env: simcord.Env, world: World, admin: simcord.MemberActor, board: simcord.ChannelHandle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fail_sends(env, monkeypatch, board, asyncio.CancelledError)  # what close() does to a running tick
    with pytest.raises(asyncio.CancelledError):
        await bot_of(env).run_scheduled(SLOT1)
    assert bot_posts(board) == []

    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await bot_of(env).run_scheduled(SLOT1 + 30 * 1 * timedelta(seconds=1))  # the grace period is not over
    assert bot_posts(board) == []
    for moment in (SLOT1 + 3 * MINUTE, SLOT1 + 4 * MINUTE, SLOT1 + timedelta(days=1) - MINUTE):
        await bot_of(env).run_scheduled(moment)
    assert len(bot_posts(board)) == 1
    await bot_of(env).run_scheduled(SLOT1 + timedelta(days=1))  # the next slot is its own post
    assert len(bot_posts(board)) == 2
    nonces = post_nonces(env, board)
    assert len(set(nonces)) == 2
    assert all(n and len(n) <= 25 for n in nonces)
    assert env.errors == []


async def test_a_slot_that_cannot_be_posted_for_six_hours_is_given_up_and_shown(
        env: simcord.Env, world: World, admin: simcord.MemberActor, board: simcord.ChannelHandle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fail_sends(env, monkeypatch, board, reset, times=1000)
    moment = SLOT1
    while moment <= SLOT1 + timedelta(hours=7):
        await bot_of(env).run_scheduled(moment)
        moment += timedelta(minutes=30)
    assert bot_posts(board) == []
    shown = await shown_failures(world, admin)
    assert "gave up" in shown
    monkeypatch.undo()  # the network is back
    await bot_of(env).run_scheduled(SLOT1 + timedelta(hours=8))  # still not posted: the window is over
    assert bot_posts(board) == []
    await bot_of(env).run_scheduled(SLOT1 + timedelta(days=1))  # the next slot goes out normally
    assert len(bot_posts(board)) == 1
    assert env.errors == []

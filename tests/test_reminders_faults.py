"""Reminders under faults, end to end in SimCord (issue 8, sections 1 and 8): members see each DM exactly once.

Each test failed on the old tick (cogs/reminders.py sent a chunk of 40, then recorded it): the database refusing
writes, one member's bad data, a network error, a crash between send and record, and a close() during a tick all
made DMs go out again on the next ticks; leaderboard posts waited for the whole fan-out; members who left the
server kept getting DMs.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import simcord
from sqlalchemy import bindparam, text

from bot.__main__ import install_shutdown_signals
from bot.app import StepwiseBot
from bot.domain.reminders import PauseReason
from db import reminders as store
from db.database import from_db
from db.types import Instant
from tests.community_support import add_admin
from tests.conftest import World
from tests.helpers import bot_of, dms, embed_text, tick
from tests.store_faults import refuse_writes

T9 = datetime(2026, 1, 1, 9, tzinfo=UTC)






def dm_posts(env: simcord.Env, member: simcord.MemberActor) -> list[Any]:
    """The bot's requests to post in the member's DM channel (nonce included)."""
    path = f"/channels/{member.user.dm_channel.id}/messages"
    return [r for r in env.http_requests if r.method == "POST" and r.path == path]




async def remind(world: World, *members: simcord.MemberActor, zone: str = "UTC") -> None:
    for member in members:
        await member.slash(world.channel, "remind set", time="09:00", timezone=zone)


def wrap_send_message(bot: StepwiseBot, monkeypatch: pytest.MonkeyPatch,
                      before: Callable[[int, dict[str, Any]], Awaitable[None]]) -> None:
    """Run `before(channel_id, payload)` in discord.py's HTTP layer before each message is sent."""
    original = bot.http.send_message

    async def send_message(channel_id: int, *, params: Any) -> Any:
        await before(int(channel_id), params.payload or {})
        return await original(channel_id, params=params)

    monkeypatch.setattr(bot.http, "send_message", send_message)


async def test_a_database_that_refuses_writes_sends_nothing_it_could_not_claim(env: simcord.Env,
                                                                              world: World) -> None:
    """Before: alice and bob, due at 09:00, got 6 DMs each in 3 minutes."""
    await remind(world, world.alice, world.bob)
    bot = bot_of(env)
    await refuse_writes(bot.db)  # every write now fails, as on a read-only file
    for seconds in range(0, 181, 30):
        await tick(env, T9 + timedelta(seconds=seconds))
    assert dms(world.alice) == dms(world.bob) == []
    await refuse_writes(bot.db, on=False)
    for seconds in range(210, 400, 30):
        await tick(env, T9 + timedelta(seconds=seconds))
    assert len(dms(world.alice)) == len(dms(world.bob)) == 1


async def test_one_members_odd_stored_data_breaks_nobodys_reminder(env: simcord.Env) -> None:
    """Before: alice's done date in year 1 made streaks() raise and bob and carol got a DM every 30 s; a garbage
    date broke the whole chunk's progress read. Now each member gets exactly one DM, alice included."""
    world = World(env, members=3)
    await env.settle()
    alice, bob, carol = world.members
    await remind(world, alice, bob, carol, zone="America/New_York")
    bot = bot_of(env)
    year_one = "0001-01-01T00:00:00.000000+00:00"
    odd: list[dict[str, object]] = [{"g": world.guild.id, "u": alice.id, "step": 1, "at": T9, "done": year_one}]
    insert = text("INSERT INTO progress (guild_id, user_id, step, status, updated_at, done_at) "
                  "VALUES (:g, :u, :step, 'done', :at, :done)").bindparams(bindparam("at", type_=Instant))
    if bot.db.dialect == "sqlite":  # the text as an old import stored it; garbage only SQLite can hold
        odd.append({"g": world.guild.id, "u": alice.id, "step": 2, "at": T9, "done": "not a date"})
    else:  # PostgreSQL (timestamptz) holds the odd instant, not the garbage
        odd[0]["done"] = from_db(year_one)
        insert = insert.bindparams(bindparam("done", type_=Instant))
    async with bot.db.transaction() as conn:  # what an old import stored
        await conn.execute(insert, odd)
    due = datetime(2026, 1, 1, 14, tzinfo=UTC)  # 09:00 in New York
    for seconds in range(0, 181, 30):
        await tick(env, due + timedelta(seconds=seconds))
    assert [len(dms(m)) for m in (alice, bob, carol)] == [1, 1, 1]
    status = embed_text(await alice.slash(world.channel, "remind status"))
    assert "paused" not in status.casefold()


async def test_a_network_error_for_one_member_is_retried_with_the_same_nonce_and_spares_the_others(
        env: simcord.Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: an aiohttp.ClientOSError aborted the whole chunk; bob and carol got a DM every tick."""
    world = World(env, members=3)
    await env.settle()
    alice, bob, carol = world.members
    await remind(world, alice, bob, carol)
    bot = bot_of(env)
    seen: list[tuple[int, str]] = []

    async def flaky(channel_id: int, payload: dict[str, Any]) -> None:
        seen.append((channel_id, payload.get("nonce", "")))
        if channel_id == alice.user.dm_channel.id and len([c for c, _ in seen if c == channel_id]) == 1:
            raise aiohttp.ClientOSError(104, "Connection reset by peer")

    wrap_send_message(bot, monkeypatch, flaky)
    for seconds in range(0, 181, 30):
        await tick(env, T9 + timedelta(seconds=seconds))
    assert [len(dms(m)) for m in (alice, bob, carol)] == [1, 1, 1]
    alice_nonces = [n for c, n in seen if c == alice.user.dm_channel.id]
    assert len(alice_nonces) == 2
    assert alice_nonces[0] == alice_nonces[1]
    [request] = dm_posts(env, alice)
    assert request.json["nonce"] == alice_nonces[0]
    assert request.json["enforce_nonce"] is True
    assert len({request.json["nonce"] for m in (alice, bob, carol) for request in dm_posts(env, m)}) == 3


async def test_a_send_whose_record_is_lost_is_sent_again_only_after_the_grace_period_with_the_same_nonce(
        env: simcord.Env, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the DM went out again on the very next tick, as a new message.

    SimCord does not model enforce_nonce (it ignores the nonce), so this checks what Discord needs to return the
    first message instead of creating a second: the same nonce, enforced, and not before the grace period.
    """
    await remind(world, world.alice)
    bot = bot_of(env)

    async def disk_full(_channel: int, _payload: dict[str, Any]) -> None:
        await refuse_writes(bot.db)

    wrap_send_message(bot, monkeypatch, disk_full)
    await tick(env, T9)
    monkeypatch.undo()
    await refuse_writes(bot.db, on=False)
    [first] = dm_posts(env, world.alice)
    for seconds in (30, 60, 90):
        await tick(env, T9 + timedelta(seconds=seconds))
    assert len(dm_posts(env, world.alice)) == 1  # claimed 09:00: maybe still in flight, so not yet
    await tick(env, T9 + timedelta(seconds=150))
    first_again, second = dm_posts(env, world.alice)
    assert first_again is first
    assert second.json["nonce"] == first.json["nonce"]
    assert second.json["enforce_nonce"] is True
    [row] = await store.deliveries_of(bot.db, world.guild.id, world.alice.id)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    await tick(env, T9 + timedelta(seconds=180))
    assert len(dm_posts(env, world.alice)) == 2


async def test_close_during_a_tick_then_a_restart_gives_everyone_exactly_one_dm(
        env: simcord.Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: close() closed the database under the running tick and the restart sent 40 of 100 DMs twice."""
    guild = env.create_guild("Busy")
    channel = guild.create_text_channel("study")
    members = [guild.add_member(env.create_user(f"m{i}")) for i in range(100)]
    await env.settle()
    for member in members:
        await member.slash(channel, "remind set", time="09:00", timezone="UTC")
    bot = bot_of(env)
    sending = asyncio.Event()

    async def first_dm(_channel: int, _payload: dict[str, Any]) -> None:
        sending.set()

    wrap_send_message(bot, monkeypatch, first_dm)
    running = asyncio.create_task(bot.run_scheduled(T9))
    await sending.wait()  # the fan-out has begun
    await bot.close()
    await running
    assert bot.is_closed()
    before_restart = sum(len(dms(m)) for m in members)
    assert 0 < before_restart < 100  # it stopped claiming; what it had claimed went out and was recorded
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    for seconds in range(30, 200, 30):
        await tick(env, T9 + timedelta(seconds=seconds))
    assert [len(dms(m)) for m in members] == [1] * 100
    rows = await bot_of(env).db.fetchall("SELECT state, COUNT(*) FROM reminder_deliveries GROUP BY state")
    assert [tuple(r) for r in rows] == [("sent", 100)]


async def test_leaderboard_posts_do_not_wait_behind_the_reminder_fan_out(env: simcord.Env, world: World,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every scheduled job ran in turn under one lock: the post came after all 100 DMs."""
    admin = add_admin(env, world)
    board = world.guild.create_text_channel("leaderboard")
    members = [world.guild.add_member(env.create_user(f"s{i}")) for i in range(100)]
    await env.settle()
    await admin.slash(world.channel, "config leaderboard", channel=board, schedule="daily", time="09:00")
    for member in members:
        await member.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    bot = bot_of(env)
    dms_when_posted: list[int] = []

    async def watch(channel_id: int, _payload: dict[str, Any]) -> None:
        if channel_id == board.id:
            dms_when_posted.append(sum(len(dms(m)) for m in members))

    wrap_send_message(bot, monkeypatch, watch)
    await bot.run_scheduled(T9)
    await env.settle()
    assert len([m for m in board.history() if m.author.bot]) == 1
    assert dms_when_posted[0] < 100  # the post went out during the fan-out (40 DMs a second)
    assert [len(dms(m)) for m in members] == [1] * 100


async def test_a_member_who_left_stops_getting_reminders_within_a_week_and_set_resumes(env: simcord.Env,
                                                                                       world: World) -> None:
    await remind(world, world.alice, world.bob)
    await tick(env, T9)
    world.guild.remove_member(world.alice)  # kicked; without the members intent the bot is not told
    await env.settle()
    for day in range(2, 11):
        await tick(env, T9 + timedelta(days=day - 1))
    lookups = [r.path for r in env.http_requests if r.method == "GET" and "/members/" in r.path]
    assert sorted(lookups) == sorted(f"/guilds/{world.guild.id}/members/{m.id}" for m in (world.alice, world.bob))
    assert len(dms(world.bob)) == 10
    assert len(dms(world.alice)) == 7  # 1-7 January; the weekly check on the 8th found she had left
    reminder = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.paused is PauseReason.LEFT_SERVER
    alice = world.guild.add_member(world.alice.user)  # she comes back
    await env.settle()
    status = embed_text(await alice.slash(world.channel, "remind status"))
    assert "no longer a member of this server" in status
    assert "09:00** (UTC)" in status  # setting kept
    await alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, T9 + timedelta(days=10))
    assert len(dms(world.alice)) == 8


async def test_sigterm_closes_the_bot_the_draining_way(env: simcord.Env) -> None:
    bot = bot_of(env)
    loop = asyncio.get_running_loop()
    handled = install_shutdown_signals(bot)
    try:
        assert signal.SIGTERM in handled
        os.kill(os.getpid(), signal.SIGTERM)
        while not bot.is_closed():  # noqa: ASYNC110 - the handler's close task is the bot's own
            await asyncio.sleep(0.005)
        assert bot.draining
        await bot.run_scheduled(T9)  # nothing starts once closing
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)

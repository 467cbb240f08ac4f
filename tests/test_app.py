"""The bot as a whole: start-up, restarts, command sync, scheduled work, the one error path, no pings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import simcord

from bot.app import EXTENSIONS, StepwiseBot
from tests.conftest import World


def command_syncs(env: simcord.Env) -> int:
    return sum(1 for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands"))


async def test_restart_on_the_same_database_keeps_working_and_does_not_resync(env: simcord.Env,
                                                                              world: World) -> None:
    assert command_syncs(env) == 1
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    assert command_syncs(env) == 1, "an unchanged command tree must not be synced again"
    result = await world.alice.slash(world.channel, "plan step", number=57)
    assert result.response.embeds[0].title == "Step 57 of 80: Security advanced topics (OWASP Top 10)"


async def test_a_changed_command_tree_is_synced_on_the_next_start(env: simcord.Env, world: World) -> None:
    await env.restart_bot(env.make_bot(extensions=(*EXTENSIONS, "tests.failing_ext")))  # type: ignore[attr-defined]
    assert command_syncs(env) == 2
    assert "explode" in world.alice.available_commands(world.channel)


async def test_unexpected_errors_are_logged_with_the_interaction_id_and_answered_generically(
        env: simcord.Env, caplog: pytest.LogCaptureFixture) -> None:
    await env.restart_bot(env.make_bot(extensions=(*EXTENSIONS, "tests.failing_ext")))  # type: ignore[attr-defined]
    world = World(env)
    await env.settle()
    with caplog.at_level(logging.ERROR, logger="bot.tree"):
        result = await world.alice.slash(world.channel, "explode")
    simcord.assert_error(env, ZeroDivisionError)
    assert result.ephemeral
    interaction_id = str(result._interaction.id)  # SimCord keeps the backend interaction on the result
    assert "Something went wrong on my side" in result.response.content
    logged = [r for r in caplog.records if "failed" in r.getMessage()]
    assert logged
    assert logged[0].exc_info
    assert logged[0].exc_info[0] is ZeroDivisionError
    quoted = result.response.content.split("`")[1]
    assert quoted in logged[0].getMessage()
    assert quoted == interaction_id
    assert "Traceback" not in result.response.content


async def test_member_text_never_pings(env: simcord.Env) -> None:
    await env.restart_bot(env.make_bot(extensions=(*EXTENSIONS, "tests.failing_ext")))  # type: ignore[attr-defined]
    world = World(env)
    await env.settle()
    await world.alice.slash(world.channel, "echo", text=f"@everyone hi {world.bob.mention}")
    sent = [r for r in env.http_requests if r.method == "POST" and "/callback" in r.path][-1]
    mentions = sent.json["data"]["allowed_mentions"]
    assert mentions == {"parse": []} or (not mentions.get("parse") and not mentions.get("users")
                                         and not mentions.get("roles"))


async def test_run_scheduled_runs_every_job_and_isolates_failures(env: simcord.Env,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    seen: list[tuple[str, datetime]] = []

    async def good(now: datetime) -> None:
        seen.append(("good", now))

    async def bad(now: datetime) -> None:
        raise RuntimeError("scheduled bug")

    bot.add_scheduled_job("bad", bad)
    bot.add_scheduled_job("good", good)
    instant = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    with caplog.at_level(logging.ERROR):
        await bot.run_scheduled(instant)
    assert seen == [("good", instant)]
    assert any("scheduled job bad failed" in r.getMessage() for r in caplog.records)
    await bot.run_scheduled()
    assert seen[-1][1] == bot.clock()
    bot.remove_scheduled_job("good")
    await bot.run_scheduled(instant)
    assert len(seen) == 2


async def spin(done: Callable[[], bool], turns: int = 100) -> None:
    """Let other tasks run for a bounded number of loop turns, or until `done()`."""
    for _ in range(turns):
        if done():
            return
        await asyncio.sleep(0)


async def test_each_scheduled_job_runs_in_its_own_lane(env: simcord.Env) -> None:
    """Before: one lock around every job in turn: a slow job (the reminder fan-out) held up the others."""
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    release = asyncio.Event()
    slow_runs: list[datetime] = []
    fast_runs: list[datetime] = []

    async def slow(now: datetime) -> None:
        slow_runs.append(now)
        await release.wait()

    async def fast(now: datetime) -> None:
        fast_runs.append(now)

    bot.add_scheduled_job("slow", slow)
    bot.add_scheduled_job("fast", fast)
    first, second = datetime(2026, 5, 1, 12, tzinfo=UTC), datetime(2026, 5, 1, 12, 0, 30, tzinfo=UTC)
    running = asyncio.create_task(bot.run_scheduled(first))
    await spin(lambda: len(fast_runs) == 1)
    assert fast_runs == slow_runs == [first]
    assert not running.done()  # run_scheduled returns only when every lane is done
    await bot._tick()  # the interval job: the busy lane is not started again, the free one is
    await spin(lambda: len(fast_runs) == 2)
    assert len(fast_runs) == 2
    assert len(slow_runs) == 1
    release.set()
    await running
    await bot.run_scheduled(second)
    assert slow_runs[-1] == fast_runs[-1] == second


async def test_scheduler_ticks_every_30_seconds_and_stops_on_close(env: simcord.Env) -> None:
    assert env.bot.scheduler.get_job("stepwise-tick") is None  # type: ignore[attr-defined]  # tests: off by default
    bot: StepwiseBot = env.make_bot(interval_job=True)  # type: ignore[attr-defined]  # this test asks for it
    await env.restart_bot(bot)
    job = bot.scheduler.get_job("stepwise-tick")
    assert job is not None
    assert job.trigger.interval.total_seconds() == 30
    assert bot.clock().tzinfo is not None
    await bot.close()
    assert not bot.scheduler.running


async def test_commands_sync_to_the_dev_guild_when_it_is_set(settings, make_bot) -> None:  # type: ignore[no-untyped-def]
    dev_settings = settings.model_copy(update={"dev_guild_id": 4242424242424242})
    bot = make_bot(settings=dev_settings)
    async with simcord.run(bot, shard_count=1) as env:
        guild = env.create_guild("Dev", id=4242424242424242)
        channel = guild.create_text_channel("dev")
        member = guild.add_member(env.create_user("dev"))
        puts = [r.path for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
        assert puts == [f"/applications/{bot.application_id}/guilds/4242424242424242/commands"]
        result = await member.slash(channel, "plan step", number=72)
        assert result.response.embeds[0].title == "Step 72 of 80: Orchestration with Kubernetes basics"
    await bot.close()

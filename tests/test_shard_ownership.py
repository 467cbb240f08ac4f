"""Which process sends what (issue 9, "Shards and processes"): a bot that runs some shards sends the reminders and
leaderboard posts of the servers on those shards only; a bot that runs every shard sends them all; bots with
disjoint or overlapping shards on one database send each DM and each post exactly once.

Before (checked by turning the SQL filter off): every process read every server's due rows, so a process running
shards 0-1 also sent the DMs of servers on shards 2-3 (saying "your server": it did not know the server) and failed
their leaderboard posts for good ("The leaderboard channel no longer exists": it cannot see the channel), and
whichever of two processes ticked first did the other's work.

A reminder DM's buttons reach the process that runs shard 0, whatever the server's shard: that process handles
the press (membership, the step, a milestone) for a server it does not carry, through Discord's API.

SimCord runs one bot at a time, so the SimCord tests here switch processes with `env.restart_bot` on the same
database and the same virtual world. The concurrent test at the end runs two bots' scheduled work side by side on
one SQLite file (two connections, as two processes would have) through the services, with Discord faked at the
sender boundary; the same with several processes on PostgreSQL comes with the PostgreSQL store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import discord
import pytest
import simcord

from bot.app import StepwiseBot
from bot.config import Settings
from bot.domain.community import PostSchedule
from bot.domain.reminders import Schedule, SendWindow
from bot.domain.sharding import shard_of
from bot.services.posts import Board, LeaderboardPosts, Refused, Sent
from bot.services.reminders import ReminderDispatcher, ReminderMessage
from db import reminders as store
from db.community import get_settings, set_leaderboard
from db.posts import post_state
from db.progress import load_member
from tests.community_support import mark_done
from tests.conftest import simulated
from tests.helpers import message_text

COUNT = 4
T9 = datetime(2026, 1, 1, 9, tzinfo=UTC)
T18 = datetime(2026, 1, 1, 18, tzinfo=UTC)
DAY = timedelta(days=1)


def shards(settings: Settings, ids: tuple[int, ...] | None, count: int = COUNT) -> Settings:
    """The test's settings as one process of a sharded bot: `ids` of `count` shards (None: every one)."""
    return settings.model_copy(update={"shard_count": count, "shard_ids": ids})


@pytest.fixture
async def sharded_env(make_bot: Callable[..., StepwiseBot], settings: Settings) -> AsyncIterator[simcord.Env]:
    """A SimCord world with COUNT shards around a bot that runs all of them; `env.process(ids)` restarts it as a
    process that runs only `ids` (same database, same world)."""
    def process_bot(ids: tuple[int, ...] | None, **kwargs: Any) -> StepwiseBot:
        return make_bot(settings=shards(settings, ids), **kwargs)

    async with simulated(process_bot(None), shard_count=COUNT) as environment:

        async def process(ids: tuple[int, ...] | None) -> StepwiseBot:
            bot = process_bot(ids)
            await environment.restart_bot(bot)
            return bot

        environment.process = process  # type: ignore[attr-defined]
        yield environment


@dataclass
class Server:
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    board: simcord.ChannelHandle
    admin: simcord.MemberActor
    members: list[simcord.MemberActor] = field(default_factory=list)


async def servers(env: simcord.Env, *, per_shard: int = 1, members: int = 2) -> list[Server]:
    """`per_shard` servers on each shard, each with `members` members who set a 09:00 UTC reminder and a daily
    18:00 UTC leaderboard, set up through the commands (by the bot that runs every shard)."""
    made: list[Server] = []
    for shard in range(COUNT):
        for n in range(per_shard):
            guild = env.create_guild(f"Shard {shard} server {n}", shard_id=shard)
            admin_role = guild.create_role("Moderators", permissions=discord.Permissions(manage_guild=True))
            admin = guild.add_member(env.create_user(f"admin{shard}x{n}"), roles=[admin_role])
            server = Server(guild, guild.create_text_channel("study"), guild.create_text_channel("leaderboard"),
                            admin)
            server.members = [guild.add_member(env.create_user(f"m{shard}x{n}x{i}")) for i in range(members)]
            await env.settle()
            await admin.slash(server.channel, "config leaderboard", channel=server.board, schedule="daily",
                              time="18:00")
            for member in server.members:
                await member.slash(server.channel, "remind set", time="09:00", timezone="UTC")
                await mark_done(env, guild.id, member.id, [1], T9 - timedelta(hours=1))
            made.append(server)
    return made


def shard(server: Server) -> int:
    return shard_of(server.guild.id, COUNT)


def dms_from(server: Server, member: simcord.MemberActor) -> list[discord.Message]:
    """The reminder DMs a member got for this server (every DM names its server)."""
    return [m for m in member.user.dm_channel.history() if server.guild.name in m.content]


def all_dms(member: simcord.MemberActor) -> list[discord.Message]:
    return member.user.dm_channel.history()


def posts(server: Server) -> list[discord.Message]:
    return [m for m in server.board.history() if m.author.bot and m.embeds]


async def tick(env: simcord.Env, *instants: datetime) -> None:
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    for instant in instants:
        await bot.run_scheduled(instant)
    await env.settle()


def sent(world: list[Server]) -> dict[int, tuple[list[int], int]]:
    """Per shard: the DMs each member has, and the posts of the shard's servers."""
    found: dict[int, tuple[list[int], int]] = {}
    for server in world:
        dm_counts, post_count = found.get(shard(server), ([], 0))
        found[shard(server)] = (dm_counts + [len(all_dms(m)) for m in server.members], post_count + len(posts(server)))
    return found


async def test_a_process_sends_only_its_shards_reminders_and_posts(sharded_env: simcord.Env) -> None:
    """Failed before: the process running shards 0-1 also sent shards 2-3's DMs (naming "your server") and posts."""
    env = sharded_env
    world = await servers(env)
    assert sorted(shard(s) for s in world) == [0, 1, 2, 3]

    first: StepwiseBot = await env.process((0, 1))  # type: ignore[attr-defined]
    assert first.shard_ids == [0, 1]
    assert first.ownership.describe() == "shards 0-1 of 4"
    assert {g.id for g in first.guilds} == {s.guild.id for s in world if shard(s) in (0, 1)}  # its gateway's
    await tick(env, T9, T9 + timedelta(seconds=30), T18, T18 + timedelta(minutes=5))
    assert sent(world) == {0: ([1, 1], 1), 1: ([1, 1], 1), 2: ([0, 0], 0), 3: ([0, 0], 0)}
    for server in world[:2]:
        for member in server.members:
            assert len(dms_from(server, member)) == 1  # it knew the server: the DM names it

    await env.process((2, 3))  # type: ignore[attr-defined]
    await tick(env, T9, T9 + timedelta(seconds=30), T18, T18 + timedelta(minutes=5))  # the same instants
    assert sent(world) == {shard: ([1, 1], 1) for shard in range(COUNT)}
    for server in world:
        for member in server.members:
            assert len(dms_from(server, member)) == 1

    # The next day, the two processes take turns at the same instants: each member one more DM, one more post.
    for ids in ((0, 1), (2, 3), (0, 1), (2, 3)):
        await env.process(ids)  # type: ignore[attr-defined]
        await tick(env, T9 + DAY, T18 + DAY)
    assert sent(world) == {shard: ([2, 2], 2) for shard in range(COUNT)}


async def test_one_process_running_every_shard_sends_everything(sharded_env: simcord.Env) -> None:
    env = sharded_env
    world = await servers(env)
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    assert isinstance(bot, discord.AutoShardedClient)
    assert bot.ownership.owns_all
    await tick(env, T9, T18)
    assert sent(world) == {shard: ([1, 1], 1) for shard in range(COUNT)}

    await env.process((0, 1, 2, 3))  # type: ignore[attr-defined]  # every shard listed: the same
    await tick(env, T9 + DAY, T18 + DAY)
    assert sent(world) == {shard: ([2, 2], 2) for shard in range(COUNT)}


async def test_overlapping_processes_still_send_each_dm_and_post_once(sharded_env: simcord.Env) -> None:
    """A re-shard or a misconfiguration: two processes both run shards 1 and 2, taking turns at the same instants."""
    env = sharded_env
    world = await servers(env)
    for ids in ((0, 1, 2), (1, 2, 3), (0, 1, 2), (1, 2, 3)):
        await env.process(ids)  # type: ignore[attr-defined]
        await tick(env, T9, T9 + timedelta(seconds=30), T18, T18 + timedelta(minutes=5))
    assert sent(world) == {shard: ([1, 1], 1) for shard in range(COUNT)}
    for ids in ((1, 2, 3), (0, 1, 2)):
        await env.process(ids)  # type: ignore[attr-defined]
        await tick(env, T9 + DAY, T18 + DAY)
    assert sent(world) == {shard: ([2, 2], 2) for shard in range(COUNT)}


async def test_a_reminder_button_works_on_the_process_that_gets_the_dms(sharded_env: simcord.Env) -> None:
    """A DM's buttons reach the process that runs shard 0 (Discord sends DMs there), whatever shard the server is
    on. Failed before: that process did not have the server, so the press said "I am no longer in that server"
    and wrote nothing, and the phase it completed was never announced nor its role given."""
    env = sharded_env
    far, member, hall, role, dm = await dm_on_another_shard(env)
    pressed = await member.user.click(dm, label="Mark done")
    assert pressed.acknowledged
    assert "Step 4 marked done" in message_text(all_dms(member)[-1])
    [announcement] = [m for m in hall.history() if m.author.bot]
    assert f"<@{member.id}>" in announcement.content
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    assert bot.get_guild(far.guild.id) is None  # not this process's server
    assert str(role.id) in (await bot.http.get_member(far.guild.id, member.id))["roles"]
    assert (await load_member(bot.db, far.guild.id, member.id)).done == {1, 2, 3, 4}


async def dm_on_another_shard(env: simcord.Env) -> tuple[Server, simcord.MemberActor, simcord.ChannelHandle,
                                                         simcord.RoleHandle, discord.Message]:
    """A member of a server on shard 2 with a reminder DM whose "Mark done" completes phase 1 (announced in #hall,
    with a role); then the bot is restarted as the process that runs shards 0-1 (so it gets the DM's buttons)."""
    world = await servers(env, members=1)
    far = next(s for s in world if shard(s) == 2)
    [member] = far.members
    hall = far.guild.create_text_channel("hall")
    role = far.guild.create_role("Foundations done")
    await env.settle()
    await far.admin.slash(far.channel, "config milestones", channel=hall)
    await far.admin.slash(far.channel, "config milestone-role", phase=1, role=role)
    await mark_done(env, far.guild.id, member.id, [2, 3], T9 - timedelta(minutes=30))  # phase 1: steps 1-4
    await tick(env, T9)  # the process that runs every shard sends the DM: step 4 is next
    [dm] = all_dms(member)
    assert "4." in message_text(dm)
    await env.process((0, 1))  # type: ignore[attr-defined]
    return far, member, hall, role, dm


async def test_refusals_for_a_server_on_another_shard_are_recorded(sharded_env: simcord.Env) -> None:
    env = sharded_env
    far, member, hall, role, dm = await dm_on_another_shard(env)
    env.inject_error("POST", f"/channels/{hall.id}/messages", status=403, code=50013, message="Missing Permissions")
    env.inject_error("PUT", f"/guilds/{far.guild.id}/members/*/roles/*", status=403, code=50013,
                     message="Missing Permissions")
    await member.user.click(dm, label="Mark done")
    assert "Step 4 marked done" in message_text(all_dms(member)[-1])
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    failures = (await get_settings(bot.db, far.guild.id)).failures
    assert failures["milestone_post"].message == f"Announcing in <#{hall.id}> failed (403): Missing Permissions."
    assert failures["milestone_role"].message.startswith(f"I could not give <@&{role.id}> to <@{member.id}>: I need "
                                                         "the Manage Roles permission")
    assert str(role.id) not in (await bot.http.get_member(far.guild.id, member.id))["roles"]
    assert [m for m in hall.history() if m.author.bot] == []




# ---------------------------------------------------------------- two processes at once on one database


@dataclass
class Requests:
    """Every send request Discord got, from either process."""

    dms: list[tuple[str, int, int, str]] = field(default_factory=list)  # (process, guild, user, nonce)
    posts: list[tuple[str, int, datetime, str]] = field(default_factory=list)  # (process, guild, slot, nonce)


@dataclass
class FakeDiscord:
    """Discord at one process's senders' boundary: every send request is recorded, with who made it."""

    name: str
    requests: Requests

    async def open_dm(self, user_id: int) -> int:
        await asyncio.sleep(0)
        return 9_000_000 + user_id

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        await asyncio.sleep(0)  # a request takes a moment: the other process runs meanwhile
        self.requests.dms.append((self.name, message.guild_id, message.user_id, nonce))
        return len(self.requests.dms)

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        await asyncio.sleep(0)
        return True

    async def send_post(self, guild_id: int, channel_id: int | None, board: Board, nonce: str) -> Sent | Refused:
        await asyncio.sleep(0)
        self.requests.posts.append((self.name, guild_id, board.slot, nonce))
        return Sent(len(self.requests.posts))

    async def find_post(self, guild_id: int, channel_id: int | None, slot: datetime) -> int | None:
        return None


def guild_id(shard: int, n: int) -> int:
    """A server id on `shard` of COUNT (Discord's rule: (id >> 22) % count)."""
    return ((n * COUNT + shard) << 22) + 12345


@dataclass
class Process:
    bot: StepwiseBot
    reminders: ReminderDispatcher
    posts: LeaderboardPosts

    async def tick(self, now: datetime) -> None:
        await asyncio.gather(self.reminders.run_due(now), self.posts.tick(now))


async def process(make_bot: Callable[..., StepwiseBot], settings: Settings, ids: tuple[int, ...],
                  discord_: FakeDiscord) -> Process:
    """One process's scheduled work, wired as bot/app.py and the cogs wire it (its own database connection, its
    ownership from its settings), with Discord faked at the senders."""
    bot = make_bot(settings=shards(settings, ids))
    await bot.db.open()
    await bot.db.migrate()
    reminders = ReminderDispatcher(bot.db, bot.plan, discord_, window=SendWindow(rate=10**9), chunk=7, batch=50,
                                   ownership=bot.ownership)
    posts = LeaderboardPosts(bot.db, discord_, default_tz=ZoneInfo("UTC"), plan_total=bot.plan.total,
                             ownership=bot.ownership)
    return Process(bot, reminders, posts)


@pytest.mark.parametrize(("first", "second"), [
    ((0, 1), (2, 3)),  # disjoint: each process does half
    ((0, 1, 2), (1, 2, 3)),  # overlapping: shards 1 and 2 have two processes
    ((0, 1, 2, 3), (0, 1, 2, 3)),  # both run everything
])
async def test_two_processes_ticking_together_send_each_dm_and_each_post_once(
        make_bot: Callable[..., StepwiseBot], settings: Settings, first: tuple[int, ...],
        second: tuple[int, ...]) -> None:
    """Two bots on one SQLite file, each with its own connection and shards, ticking the same instants at once:
    300 members in 12 servers get one DM a day each, and each server's board is posted once a day, each by a
    process that runs the server's shard. (Failed before for the disjoint case: both processes did every server's
    work, whichever claimed first; the claims kept it to one DM each.)"""
    sent = Requests()
    a = await process(make_bot, settings, first, FakeDiscord("a", sent))
    b = await process(make_bot, settings, second, FakeDiscord("b", sent))
    owners = {"a": first, "b": second}
    try:
        guilds = [guild_id(shard, n) for shard in range(COUNT) for n in range(3)]
        members = [(g, 1000 + i) for g in guilds for i in range(25)]
        set_at = T9 - timedelta(hours=2)
        for g, user in members:
            await store.set_reminder(a.bot.db, g, user, Schedule(time(9), ZoneInfo("UTC")), set_at)
        for g in guilds:
            await set_leaderboard(a.bot.db, g, 77, PostSchedule("daily", time(18)), T18)

        for day in range(2):
            for instant in (T9, T9 + timedelta(seconds=30), T18, T18 + timedelta(minutes=3)):
                await asyncio.gather(a.tick(instant + day * DAY), b.tick(instant + day * DAY))

        per_member: dict[tuple[int, int], int] = {}
        for _who, g, user, _nonce in sent.dms:
            per_member[(g, user)] = per_member.get((g, user), 0) + 1
        assert per_member == dict.fromkeys(members, 2)  # one a day, each exactly once
        assert len({nonce for *_, nonce in sent.dms}) == len(sent.dms)
        assert sorted((g, slot) for _who, g, slot, _ in sent.posts) == sorted(
            (g, T18 + day * DAY) for g in guilds for day in range(2))
        # Each request came from a process that runs the server's shard; with disjoint shards, half each.
        assert all(shard_of(g, COUNT) in owners[who] for who, g, *_ in [*sent.dms, *sent.posts])
        if not set(first) & set(second):
            assert sum(who == "a" for who, *_ in sent.dms) == sum(who == "b" for who, *_ in sent.dms) == 300
        for g in guilds:
            assert (await post_state(a.bot.db, g, T18))[0] == "posted"  # type: ignore[index]
        for g, user in members:
            rows = await store.deliveries_of(a.bot.db, g, user)
            assert [row["state"] for row in rows] == ["sent", "sent"]
    finally:
        await a.bot.db.close()
        await b.bot.db.close()

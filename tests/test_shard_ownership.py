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
database and the same virtual world. The concurrent tests at the end run two bots' scheduled work through the
services, with Discord faked at the sender boundary (tests/shard_worker.py), ticking the same instants at once:
first in one event loop, two stores on one database (a SQLite file, or PostgreSQL); then as two real OS
processes on one PostgreSQL database, each with its own store and shard range, reporting what they sent.
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
from bot.domain.reminders import Schedule
from bot.domain.sharding import format_shard_ids, shard_of
from db import reminders as store
from db.community import get_settings, set_leaderboard
from db.database import Database
from db.posts import post_state
from db.progress import load_member
from tests import engines
from tests.community_support import mark_done
from tests.conftest import simulated
from tests.helpers import message_text
from tests.shard_worker import FakeDiscord, Process, Requests, Worker, sharded

COUNT = 4
T9 = datetime(2026, 1, 1, 9, tzinfo=UTC)
T18 = datetime(2026, 1, 1, 18, tzinfo=UTC)
DAY = timedelta(days=1)


def shards(settings: Settings, ids: tuple[int, ...] | None, count: int = COUNT) -> Settings:
    """The test's settings as one process of a sharded bot: `ids` of `count` shards (None: every one)."""
    return sharded(settings, ids, count)


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

SERVERS_PER_SHARD = 3
MEMBERS_PER_SERVER = 25  # 12 servers, 300 members
DAYS = 2
INSTANTS = (T9, T9 + timedelta(seconds=30), T18, T18 + timedelta(minutes=3))

RANGES = pytest.mark.parametrize(("first", "second"), [
    ((0, 1), (2, 3)),  # disjoint: each process does half
    ((0, 1, 2), (1, 2, 3)),  # overlapping: shards 1 and 2 have two processes
    ((0, 1, 2, 3), (0, 1, 2, 3)),  # both run everything
], ids=["disjoint", "overlapping", "both-everything"])


def guild_id(shard: int, n: int) -> int:
    """A server id on `shard` of COUNT (Discord's rule: (id >> 22) % count)."""
    return ((n * COUNT + shard) << 22) + 12345


@dataclass(frozen=True)
class Seeded:
    guilds: list[int]
    members: list[tuple[int, int]]


async def seed(url: str) -> Seeded:
    """300 members in 12 servers (3 on each shard) with a 09:00 UTC reminder, each server with a daily 18:00 UTC
    leaderboard: written through the store, as the commands write them."""
    guilds = [guild_id(shard, n) for shard in range(COUNT) for n in range(SERVERS_PER_SHARD)]
    members = [(g, 1000 + i) for g in guilds for i in range(MEMBERS_PER_SERVER)]
    database = Database(url)
    await database.open()
    try:
        await database.migrate()
        set_at = T9 - timedelta(hours=2)
        for g, user in members:
            await store.set_reminder(database, g, user, Schedule(time(9), ZoneInfo("UTC")), set_at)
        for g in guilds:
            await set_leaderboard(database, g, 77, PostSchedule("daily", time(18)), T18)
    finally:
        await database.close()
    return Seeded(guilds, members)


async def assert_each_sent_once(url: str, world: Seeded, sent: Requests, owners: dict[str, tuple[int, ...]]) -> None:
    """Every member got exactly one DM per local day and every server's board was posted once per day, each by
    a process that runs the server's shard; the store says the same (every delivery sent, every slot posted)."""
    per_member: dict[tuple[int, int], int] = {}
    for _who, g, user, _nonce in sent.dms:
        per_member[(g, user)] = per_member.get((g, user), 0) + 1
    assert per_member == dict.fromkeys(world.members, DAYS)  # one a day, each exactly once
    assert len({nonce for *_, nonce in sent.dms}) == len(sent.dms)
    assert sorted((g, slot) for _who, g, slot, _ in sent.posts) == sorted(
        (g, T18 + day * DAY) for g in world.guilds for day in range(DAYS))
    assert all(shard_of(g, COUNT) in owners[who] for who, g, *_ in [*sent.dms, *sent.posts])
    first, second = owners.values()
    if not set(first) & set(second):  # disjoint: each did exactly its own servers' work
        for who, ids in owners.items():
            theirs = [g for g in world.guilds if shard_of(g, COUNT) in ids]
            assert sum(w == who for w, *_ in sent.dms) == len(theirs) * MEMBERS_PER_SERVER * DAYS
            assert sorted(g for w, g, *_ in sent.posts if w == who) == sorted(theirs * DAYS)
    database = Database(url)
    await database.open()
    try:
        for g in world.guilds:
            for day in range(DAYS):
                assert (await post_state(database, g, T18 + day * DAY))[0] == "posted"  # type: ignore[index]
        for g, user in world.members:
            rows = await store.deliveries_of(database, g, user)
            assert [row["state"] for row in rows] == ["sent"] * DAYS
            assert [row["attempts"] for row in rows] == [1] * DAYS
    finally:
        await database.close()


@RANGES
async def test_two_processes_ticking_together_send_each_dm_and_each_post_once(
        db_url: str, first: tuple[int, ...], second: tuple[int, ...]) -> None:
    """Two bots on one database (a SQLite file, or PostgreSQL), each with its own store and shards, ticking the
    same instants at once in one event loop: 300 members in 12 servers get one DM a day each, and each server's
    board is posted once a day, each by a process that runs the server's shard. (Failed before for the disjoint
    case: both processes did every server's work, whichever claimed first; the claims kept it to one DM each.)"""
    world = await seed(db_url)
    settings = Settings(_env_file=None, database_url=db_url, discord_token=None)  # type: ignore[call-arg]
    sent = Requests()
    a = await Process.start(sharded(settings, first, COUNT), FakeDiscord("a", sent))
    b = await Process.start(sharded(settings, second, COUNT), FakeDiscord("b", sent))
    try:
        for day in range(DAYS):
            for instant in INSTANTS:
                await asyncio.gather(a.tick(instant + day * DAY), b.tick(instant + day * DAY))
    finally:
        await a.close()
        await b.close()
    await assert_each_sent_once(db_url, world, sent, {"a": first, "b": second})


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database (at the schema head) for tests that only mean something there."""
    if "postgresql" not in engines.ENGINES:
        pytest.skip("PostgreSQL is not among STEPWISE_TEST_ENGINES")
    server: engines.PgServer = request.getfixturevalue("pg_server")  # started only when PostgreSQL is wanted
    engines.RUN.engines.add("postgresql")
    return engines.new_pg_database(server).render_as_string(hide_password=False)


@RANGES
async def test_two_os_processes_on_one_postgresql_database_send_each_dm_and_post_once(
        pg_url: str, first: tuple[int, ...], second: tuple[int, ...]) -> None:
    """The same with two real processes (two interpreters, two stores, two connection pools) on one PostgreSQL
    database: both are told each instant at the same moment and tick it concurrently, so their claims
    (`FOR UPDATE SKIP LOCKED`, the delivery and slot keys) meet in the database, not in one event loop. Each
    request to the fake Discord takes a random 0-3 ms, so the chunks of the two processes interleave."""
    world = await seed(pg_url)
    sent = Requests()
    workers = [await Worker.start(pg_url, "a", first, COUNT, sent, seed=1),
               await Worker.start(pg_url, "b", second, COUNT, sent, seed=2)]
    try:
        for worker, ids in zip(workers, (first, second), strict=True):
            ready = await worker.until("ready")
            assert ready["owns"] == ("every shard of 4" if len(ids) == COUNT
                                     else f"shards {format_shard_ids(ids)} of 4")
        for day in range(DAYS):
            for instant in INSTANTS:
                at = (instant + day * DAY).isoformat()
                for worker in workers:  # both told before either is waited for
                    worker.send({"tick": at})
                for worker in workers:
                    assert (await worker.until("ticked"))["ticked"] == at
    finally:
        for worker in workers:
            await worker.close()
    assert [worker.child.returncode for worker in workers] == [0, 0]
    await assert_each_sent_once(pg_url, world, sent, {"a": first, "b": second})

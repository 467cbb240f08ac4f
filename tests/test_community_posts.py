"""What the bot posts on its own: scheduled leaderboards (exactly once), milestones and roles, the hello on joining."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import pytest
import simcord
from simcord.backend import serializers

from db.community import get_settings
from tests.community_support import add_admin, bot_of, mark_done, set_visible
from tests.conftest import World
from tests.helpers import embed_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# 18:00 in Auckland (UTC+13 in January) is 05:00 UTC the same day.
SLOT1 = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


def bot_posts(channel: simcord.ChannelHandle) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.bot]


async def schedule_daily(admin: simcord.MemberActor, world: World, channel: simcord.ChannelHandle) -> None:
    await admin.slash(world.channel, "config timezone", timezone="Pacific/Auckland")
    await admin.slash(world.channel, "config leaderboard", channel=channel, schedule="daily", time="18:00")


# ---------------------------------------------------------------- scheduled leaderboard posts


async def test_each_slot_is_posted_exactly_once_across_restarts_and_downtime(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    board = world.guild.create_text_channel("leaderboard")
    await schedule_daily(admin, world, board)
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 4), T0)
    await mark_done(env, g, world.bob.id, [1], T0)

    await bot_of(env).run_scheduled(SLOT1 - timedelta(minutes=1))
    assert bot_posts(board) == []
    for moment in (SLOT1, SLOT1, SLOT1 + timedelta(minutes=10)):  # the same slot, run again and again
        await bot_of(env).run_scheduled(moment)
    assert len(bot_posts(board)) == 1
    first = bot_posts(board)[0].embeds[0]
    # names, not mentions: in an embed a mention of a member the reader's client has not loaded is "@unknown-user"
    assert (first.description or "").splitlines() == ["🥇 alice · **3** steps", "🥈 bob · **1** step"]
    assert "posted late" not in (first.footer.text or "")

    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await bot_of(env).run_scheduled(SLOT1 + timedelta(minutes=30))  # the new bot does not post it again
    assert len(bot_posts(board)) == 1

    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await bot_of(env).run_scheduled(SLOT1 + DAY + timedelta(hours=3))  # down across slot 2: posted once, late
    await bot_of(env).run_scheduled(SLOT1 + DAY + timedelta(hours=4))
    posts = bot_posts(board)
    assert len(posts) == 2
    assert "posted late" in (posts[1].embeds[0].footer.text or "")

    await bot_of(env).run_scheduled(SLOT1 + 3 * DAY + timedelta(hours=7))  # slots 3 and 4 missed by > 6 h
    assert len(bot_posts(board)) == 2
    await bot_of(env).run_scheduled(SLOT1 + 4 * DAY)  # slot 5 on time
    assert len(bot_posts(board)) == 3
    settings = await get_settings(bot_of(env).db, g)
    assert (settings.last_slot, settings.next_slot) == (SLOT1 + 4 * DAY, SLOT1 + 5 * DAY)


async def test_post_shows_top_ten_movers_and_cohort_pace(env: simcord.Env, world: World,
                                                         admin: simcord.MemberActor) -> None:
    board = world.guild.create_text_channel("leaderboard")
    await schedule_daily(admin, world, board)
    await admin.slash(world.channel, "config cohort", start="2025-12-25", pace=7)  # 7 steps expected on 1 Jan
    g = world.guild.id
    for i in range(12):
        await mark_done(env, g, 9000 + i, range(1, 20 - i), T0 - timedelta(days=30))  # long ago: no movers
    await mark_done(env, g, world.alice.id, range(1, 3), T0)  # this week
    await bot_of(env).run_scheduled(SLOT1)
    embed = bot_posts(board)[0].embeds[0]
    assert len((embed.description or "").splitlines()) == 10
    fields = {f.name: f.value for f in embed.fields}
    assert fields["🚀 Moved most this week"] == "alice · +2"
    assert fields["📅 Cohort"] == "**12** of 13 members are on pace or ahead (at least 7 steps by today)."


async def test_a_refused_post_is_recorded_shown_and_the_next_slot_tries_again(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    board = world.guild.create_text_channel("leaderboard")
    await schedule_daily(admin, world, board)
    env.inject_error("POST", f"/channels/{board.id}/messages", status=403, code=50013,
                     message="Missing Permissions", times=1)
    await bot_of(env).run_scheduled(SLOT1)
    assert bot_posts(board) == []
    assert env.errors == []  # nothing crashed
    shown = embed_text(await admin.slash(world.channel, "config show"))
    assert f"**Leaderboard post** <t:{int(SLOT1.timestamp())}:R>: Discord refused the post in {board.mention}: " \
           "Missing Permissions." in shown
    await bot_of(env).run_scheduled(SLOT1)  # not retried for the same slot
    assert bot_posts(board) == []
    await bot_of(env).run_scheduled(SLOT1 + DAY)
    assert len(bot_posts(board)) == 1


async def test_a_channel_the_bot_may_not_post_in_is_a_recorded_failure(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    me = world.guild.me
    assert me is not None
    locked = world.guild.create_text_channel("locked", overwrites={
        me: discord.PermissionOverwrite(send_messages=False)})
    await schedule_daily(admin, world, locked)
    await bot_of(env).run_scheduled(SLOT1)
    assert bot_posts(locked) == []
    failure = (await get_settings(bot_of(env).db, world.guild.id)).failures["leaderboard_post"]
    assert failure.message == f"I am missing Send Messages in {locked.mention}."


async def test_a_deleted_channel_is_a_recorded_failure(env: simcord.Env, world: World,
                                                       admin: simcord.MemberActor) -> None:
    board = world.guild.create_text_channel("leaderboard")
    await schedule_daily(admin, world, board)
    env.backend.delete_channel(board.id)
    await env.settle()
    await bot_of(env).run_scheduled(SLOT1)
    failure = (await get_settings(bot_of(env).db, world.guild.id)).failures["leaderboard_post"]
    assert failure.message.startswith("The leaderboard channel no longer exists")


# ---------------------------------------------------------------- milestones


async def setup_milestones(env: simcord.Env, world: World, admin: simcord.MemberActor, *,
                           role_position: int | None = None) -> tuple[simcord.ChannelHandle, simcord.RoleHandle]:
    hall = world.guild.create_text_channel("hall-of-fame")
    extra = {"position": role_position} if role_position is not None else {}
    role = world.guild.create_role("Foundations", **extra)
    await admin.slash(world.channel, "config milestones", channel=hall)
    await admin.slash(world.channel, "config milestone-role", phase=1, role=role)
    return hall, role


async def roles_of(env: simcord.Env, world: World, member: simcord.MemberActor) -> list[int]:
    guild = bot_of(env).get_guild(world.guild.id)
    assert guild is not None
    fetched = await guild.fetch_member(member.id)
    return [r.id for r in fetched.roles]


async def test_completing_a_phase_is_announced_and_gives_the_role(env: simcord.Env, world: World,
                                                                  admin: simcord.MemberActor) -> None:
    hall, role = await setup_milestones(env, world, admin)
    g = world.guild.id
    await mark_done(env, g, world.alice.id, [1, 2, 3], T0, dispatch=True)  # not complete yet
    assert bot_posts(hall) == []
    await mark_done(env, g, world.alice.id, [4], T0, dispatch=True)
    posts = bot_posts(hall)
    assert [p.content for p in posts] == [
        f"🎉 <@{world.alice.id}> completed phase 1: **Foundations: the web and your tools** (steps 1–4)!"]
    assert role.id in await roles_of(env, world, world.alice)
    assert "milestone_role" not in (await get_settings(bot_of(env).db, g)).failures


async def test_finishing_the_plan_is_celebrated_with_the_plan_role(env: simcord.Env, world: World,
                                                                   admin: simcord.MemberActor) -> None:
    hall = world.guild.create_text_channel("hall-of-fame")
    graduate = world.guild.create_role("Graduate")
    await admin.slash(world.channel, "config milestones", channel=hall)
    await admin.slash(world.channel, "config milestone-role", phase=0, role=graduate)
    await mark_done(env, world.guild.id, world.bob.id, range(1, 77), T0, dispatch=True)  # e.g. an import
    assert bot_posts(hall)[-1].content == f"🎉 <@{world.bob.id}> completed 18 phases at once: " \
                                          f"{', '.join(str(n) for n in range(1, 19))}!"
    assert graduate.id not in await roles_of(env, world, world.bob)
    await mark_done(env, world.guild.id, world.bob.id, range(77, 81), T0, dispatch=True)
    last = bot_posts(hall)[-1].content.splitlines()
    assert last[0].startswith(f"🎉 <@{world.bob.id}> completed phase 19")
    assert last[1].startswith(f"🏁 <@{world.bob.id}> finished the whole plan, all 80 steps")
    assert graduate.id in await roles_of(env, world, world.bob)


async def test_a_role_above_the_bot_is_a_recorded_failure_not_an_error(env: simcord.Env, world: World,
                                                                       admin: simcord.MemberActor) -> None:
    hall, role = await setup_milestones(env, world, admin, role_position=50)
    await mark_done(env, world.guild.id, world.alice.id, range(1, 5), T0, dispatch=True)
    assert len(bot_posts(hall)) == 1  # still announced
    assert role.id not in await roles_of(env, world, world.alice)
    assert env.errors == []
    shown = embed_text(await admin.slash(world.channel, "config show"))
    assert f"**Milestone role** <t:{int(T0.timestamp())}:R>: I could not give {role.mention}" in shown
    assert "not below my highest role" in shown


async def test_a_refused_role_edit_is_recorded(env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    _, role = await setup_milestones(env, world, admin)
    env.inject_error("PUT", f"/guilds/{world.guild.id}/members/*/roles/*", status=403, code=50013,
                     message="Missing Permissions")
    await mark_done(env, world.guild.id, world.alice.id, range(1, 5), T0, dispatch=True)
    assert role.id not in await roles_of(env, world, world.alice)
    failure = (await get_settings(bot_of(env).db, world.guild.id)).failures["milestone_role"]
    assert "(403): Missing Permissions" in failure.message


async def test_hidden_members_get_neither_an_announcement_nor_a_role(env: simcord.Env, world: World,
                                                                     admin: simcord.MemberActor) -> None:
    """A role shows in the member list, so it would tell everyone a hidden member's phase."""
    hall, role = await setup_milestones(env, world, admin)
    await mark_done(env, world.guild.id, world.alice.id, [1], T0)
    await set_visible(env, world.guild.id, world.alice.id, False)
    await mark_done(env, world.guild.id, world.alice.id, [2, 3, 4], T0, dispatch=True)
    assert bot_posts(hall) == []
    assert role.id not in await roles_of(env, world, world.alice)


# ---------------------------------------------------------------- joining a server


def rejoin(env: simcord.Env, guild: simcord.GuildHandle, system: simcord.ChannelHandle) -> None:
    """The server sets a system channel, then the bot is invited (again): Discord sends GUILD_CREATE."""
    backend = env.backend
    model = backend.edit_guild(guild.id, {"system_channel_id": system.id})
    backend.emit("GUILD_DELETE", {"id": str(guild.id)})
    payload = dict(serializers.guild_create_payload(backend, model))
    payload.pop("unavailable", None)  # a join, not an outage ending (which discord.py reports as available)
    backend.emit("GUILD_CREATE", payload)


async def test_joining_a_server_posts_a_getting_started_message(env: simcord.Env) -> None:
    guild = env.create_guild("Newcomers")
    general = guild.create_text_channel("general")
    await env.settle()
    rejoin(env, guild, general)
    await env.settle()
    posts = bot_posts(general)
    assert len(posts) == 1
    embed = posts[0].embeds[0]
    text = "\n".join([embed.title or "", embed.description or "", *(f"{f.name}\n{f.value}" for f in embed.fields)])
    assert "👋 Stepwise is here" in text
    assert "`/plan next`" in text
    assert "`/config leaderboard`" in text


async def test_no_hello_where_the_bot_may_not_post(env: simcord.Env) -> None:
    guild = env.create_guild("Quiet")
    await env.settle()
    me = guild.me
    assert me is not None
    general = guild.create_text_channel("general", overwrites={me: discord.PermissionOverwrite(send_messages=False)})
    rejoin(env, guild, general)
    await env.settle()
    assert bot_posts(general) == []
    assert env.errors == []

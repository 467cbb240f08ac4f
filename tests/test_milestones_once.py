"""Milestones are announced, and their role given, once per member (issue 8, section 6).

Before the fix, completing phase 1 and then ten /undo + /redo pairs posted eleven "completed phase 1"
announcements and asked Discord for the role eleven times (these tests failed with 11 == 1).
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import discord
import pytest
import simcord

from db.community import get_settings
from tests.community_support import add_admin, bot_of, set_visible
from tests.conftest import World
from tests.helpers import embed_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


async def setup_milestones(world: World, admin: simcord.MemberActor,
                           ) -> tuple[simcord.ChannelHandle, simcord.RoleHandle]:
    hall = world.guild.create_text_channel("hall-of-fame")
    role = world.guild.create_role("Foundations")
    await admin.slash(world.channel, "config milestones", channel=hall)
    await admin.slash(world.channel, "config milestone-role", phase=1, role=role)
    return hall, role


def announcements(hall: simcord.ChannelHandle) -> list[str]:
    return [m.content for m in hall.history() if m.author.bot]


def role_grants(env: simcord.Env, world: World, member: simcord.MemberActor, role: simcord.RoleHandle) -> int:
    path = f"/guilds/{world.guild.id}/members/{member.id}/roles/{role.id}"
    return sum(1 for r in env.http_requests if r.method == "PUT" and r.path == path)


async def finish_phase_1(world: World, member: simcord.MemberActor) -> None:
    for step in (1, 2, 3, 4):
        r = await member.slash(world.channel, "done", step=step)
        assert r.response is not None
        assert r.ephemeral is not None


async def undo_redo(world: World, member: simcord.MemberActor, times: int) -> None:
    for _ in range(times):
        await member.slash(world.channel, "undo")
        await member.slash(world.channel, "redo")


async def test_undo_and_redo_do_not_announce_or_grant_again(env: simcord.Env, world: World,
                                                            admin: simcord.MemberActor) -> None:
    hall, role = await setup_milestones(world, admin)
    await finish_phase_1(world, world.alice)
    assert len(announcements(hall)) == 1
    assert role_grants(env, world, world.alice, role) == 1

    await undo_redo(world, world.alice, 10)
    assert announcements(hall) == [
        f"🎉 <@{world.alice.id}> completed phase 1: **Foundations: the web and your tools** (steps 1–4)!"]
    assert role_grants(env, world, world.alice, role) == 1

    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await undo_redo(world, world.alice, 2)  # the record is in the database, not in memory
    assert len(announcements(hall)) == 1
    assert role_grants(env, world, world.alice, role) == 1

    await finish_phase_1(world, world.bob)  # another member is announced as before
    assert len(announcements(hall)) == 2
    assert role_grants(env, world, world.bob, role) == 1
    assert env.errors == []


async def test_a_hidden_member_is_not_announced_even_after_showing_again(env: simcord.Env, world: World,
                                                                         admin: simcord.MemberActor) -> None:
    hall, role = await setup_milestones(world, admin)
    await world.alice.slash(world.channel, "done", step=1)
    await set_visible(env, world.guild.id, world.alice.id, False)
    await finish_phase_1(world, world.alice)
    assert announcements(hall) == []
    assert role_grants(env, world, world.alice, role) == 0  # a role shows in the member list: not while hidden

    await set_visible(env, world.guild.id, world.alice.id, True)
    await undo_redo(world, world.alice, 3)  # re-completing is not a new moment to announce
    assert announcements(hall) == []
    assert role_grants(env, world, world.alice, role) == 1  # visible again: the role comes with the next completion


async def test_a_failed_announcement_is_shown_and_not_repeated(env: simcord.Env, world: World,
                                                               admin: simcord.MemberActor,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    hall, role = await setup_milestones(world, admin)
    http = bot_of(env).http
    original = http.send_message

    async def send_message(channel_id: int, *, params: object) -> object:
        if int(channel_id) == hall.id:
            raise aiohttp.ClientOSError(104, "Connection reset by peer")
        return await original(channel_id, params=params)  # type: ignore[arg-type]

    monkeypatch.setattr(http, "send_message", send_message)
    await finish_phase_1(world, world.alice)
    assert announcements(hall) == []
    shown = embed_text(await admin.slash(world.channel, "config show"))
    assert "**Milestone announcement**" in shown
    assert "ClientOSError" in shown
    assert role_grants(env, world, world.alice, role) == 1  # the role does not depend on the announcement

    monkeypatch.undo()
    await undo_redo(world, world.alice, 3)  # a failed announcement is not tried again (documented)
    assert announcements(hall) == []
    failure = (await get_settings(bot_of(env).db, world.guild.id)).failures["milestone_post"]
    assert "ClientOSError" in failure.message
    assert env.errors == []


async def test_a_role_that_could_not_be_given_is_tried_again_on_the_next_completion(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    hall, role = await setup_milestones(world, admin)
    env.inject_error("PUT", f"/guilds/{world.guild.id}/members/*/roles/*", status=403, code=50013,
                     message="Missing Permissions", times=1)
    await finish_phase_1(world, world.alice)
    assert "milestone_role" in (await get_settings(bot_of(env).db, world.guild.id)).failures
    await undo_redo(world, world.alice, 3)
    assert role_grants(env, world, world.alice, role) == 2  # refused once, then given once
    assert len(announcements(hall)) == 1
    guild = bot_of(env).get_guild(world.guild.id)
    assert guild is not None
    member = await guild.fetch_member(world.alice.id)
    assert role.id in [r.id for r in member.roles]
    assert isinstance(member, discord.Member)

"""/insights and its Nudge button under hostile use (SimCord): members who change between the report and the
press, a restart between a nudge's claim and its send, a network error for one member, an empty track.

Most tests here failed before the fix committed with them (`git log` names them); the others pin down
behaviour that held up under the same attack."""

from __future__ import annotations

from datetime import timedelta

import discord
import pytest
import simcord

from bot.domain.insights import nudge_nonce
from bot.domain.progress import Status
from bot.domain.timeutil import local_date, monday_of
from db.insights import claim_nudge, nudge_states
from db.membership import away_since
from db.progress import StepChange, apply_changes
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.helpers import button_labels, dms, embed_text


@pytest.fixture
async def world(env: simcord.Env) -> World:
    w = World(env, members=3)
    await env.settle()
    return w


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


async def stall(env: simcord.Env, world: World, member: simcord.MemberActor, steps: int) -> None:
    """`steps` done a month ago: stalled on the next one."""
    bot = bot_of(env)
    month_ago = bot.clock() - timedelta(days=30)
    for step in range(1, steps + 1):
        await apply_changes(bot.db, world.guild.id, member.id, [StepChange(step, Status.DONE)],
                            month_ago - timedelta(days=steps - step), default_tz=bot.settings.tz)


async def test_nudge_reaches_only_members_still_stalled_and_visible_when_it_is_pressed(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    alice, bob, carol = world.members
    for member in world.members:
        await stall(env, world, member, 2)
    report = await admin.slash(world.channel, "insights")
    assert button_labels(report.response) == ["Nudge 3 stalled members"]
    await alice.slash(world.channel, "data privacy", visible=False)  # she hid herself since
    await bob.slash(world.channel, "done")  # he moved on since
    pressed = await admin.click(report.response, label="Nudge 3 stalled members")
    await env.settle()
    assert dms(alice) == []  # hidden members are never nudged
    assert dms(bob) == []  # not stalled any more
    [dm] = dms(carol)
    assert "Still on step 3" in dm.content
    assert [u for u, _w, _s in await nudge_states(bot_of(env).db, world.guild.id)] == [carol.id]
    assert "Nudged **1** member" in pressed.followups[-1].content


async def test_a_nudge_claimed_before_a_restart_is_sent_once_after_it(env: simcord.Env, world: World,
                                                                      admin: simcord.MemberActor) -> None:
    alice, bob, _carol = world.members
    await stall(env, world, alice, 2)
    await stall(env, world, bob, 1)
    bot = bot_of(env)
    now = bot.clock()
    week = monday_of(local_date(now, bot.settings.tz))
    nonce = nudge_nonce(world.guild.id, alice.id, week)
    # the bot claimed alice's nudge, then stopped before sending it
    assert await claim_nudge(bot.db, world.guild.id, alice.id, week=week, plan_id=0, step=3, nonce=nonce, now=now,
                             by=admin.id, every=timedelta(days=7))
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await env.advance_time(600)
    report = await admin.slash(world.channel, "insights")
    pressed = await admin.click(report.response, label="Nudge 2 stalled members")
    await env.settle()
    assert len(dms(alice)) == 1, "the claim left by the restart was never sent"
    assert len(dms(bob)) == 1
    assert "Nudged **2** members" in pressed.followups[-1].content
    states = {u: s for u, _w, s in await nudge_states(bot_of(env).db, world.guild.id)}
    assert states == {alice.id: "sent", bob.id: "sent"}
    again = await admin.slash(world.channel, "insights")
    await admin.click(again.response, label="Nudge 2 stalled members")
    await env.settle()
    assert (len(dms(alice)), len(dms(bob))) == (1, 1)  # still once a week


async def test_a_fresh_claim_of_another_press_is_left_alone(env: simcord.Env, world: World,
                                                            admin: simcord.MemberActor) -> None:
    """A claim made a moment ago is another press still sending: it is not sent a second time."""
    alice = world.alice
    await stall(env, world, alice, 2)
    bot = bot_of(env)
    now = bot.clock()
    week = monday_of(local_date(now, bot.settings.tz))
    assert await claim_nudge(bot.db, world.guild.id, alice.id, week=week, plan_id=0, step=3,
                             nonce=nudge_nonce(world.guild.id, alice.id, week), now=now, by=admin.id,
                             every=timedelta(days=7))
    report = await admin.slash(world.channel, "insights")
    pressed = await admin.click(report.response, label="Nudge 1 stalled member")
    await env.settle()
    assert dms(alice) == []
    assert "Nudged **0** members" in pressed.followups[-1].content


async def test_a_track_nobody_follows_has_a_report_and_no_button(env: simcord.Env, world: World,
                                                                 admin: simcord.MemberActor) -> None:
    text = "# Empty\n" + "".join(f"- [ ] {i}. Step {i} (Do {i})\n" for i in range(1, 501))
    shown = await admin.slash(world.channel, "config plan upload", file=("e.md", text.encode()), name="Empty")
    await admin.click(shown.response, label="Confirm")
    result = await admin.slash(world.channel, "insights", track="Empty")
    assert result.ephemeral
    assert "Insights · Empty" in embed_text(result)
    assert button_labels(result.response) == []
    assert sum(len(e) for e in result.response.embeds) <= 6000


async def test_a_network_error_for_one_member_is_recorded_and_the_others_are_nudged(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    alice, bob, carol = world.members
    for member in world.members:
        await stall(env, world, member, 1)
    channel = await bot_of(env).create_dm(discord.Object(bob.id))
    env.inject_error("POST", f"/channels/{channel.id}/messages", status=400, code=50035, message="Invalid Form Body",
                     times=None)
    report = await admin.slash(world.channel, "insights")
    pressed = await admin.click(report.response, label="Nudge 3 stalled members")
    await env.settle()
    assert (len(dms(alice)), len(dms(bob)), len(dms(carol))) == (1, 0, 1)
    states = {u: s for u, _w, s in await nudge_states(bot_of(env).db, world.guild.id)}
    assert states == {alice.id: "sent", bob.id: "failed", carol.id: "sent"}
    assert "1 could not be reached right now" in pressed.followups[-1].content
    env.errors.clear()


async def test_a_stalled_member_who_left_the_server_is_not_nudged(env: simcord.Env, world: World,
                                                                  admin: simcord.MemberActor) -> None:
    """Without the members intent the bot hears of no one leaving; /insights looks their names up, and one who
    is gone is marked away (off the boards) and left out of the Nudge."""
    alice, bob, _carol = world.members
    await stall(env, world, alice, 1)
    await stall(env, world, bob, 1)
    world.guild.remove_member(bob)
    await env.settle()
    report = await admin.slash(world.channel, "insights")
    assert "a member who left" in embed_text(report)
    assert button_labels(report.response) == ["Nudge 1 stalled member"]
    await admin.click(report.response, label="Nudge 1 stalled member")
    await env.settle()
    assert len(dms(alice)) == 1
    assert dms(bob) == []
    assert await away_since(bot_of(env).db, world.guild.id, bob.id) is not None


async def test_the_report_shows_an_admins_markdown_and_members_names_as_text(
        env: simcord.Env, admin: simcord.MemberActor, world: World) -> None:
    loud = "**Bold** @everyone `tick`"
    text = f"# {loud}\n" + "".join(f"- [ ] {i}. {loud} {i} (Do {i})\n" for i in range(1, 5))
    shown = await admin.slash(world.channel, "config plan upload", file=("l.md", text.encode()), name=loud)
    await admin.click(shown.response, label="Confirm")
    bot = bot_of(env)
    track = await bot.tracks.find(world.guild.id, loud)
    for i in range(3):
        member = world.guild.add_member(env.create_user(f"__x{i}__ <@123456789012345678>"))
        await bot.tracks.switch(world.guild.id, member.id, track, bot.clock(), default_tz=bot.settings.tz)
        await stall(env, world, member, 1)
    result = await admin.slash(world.channel, "insights", track=loud)
    embed = result.response.embeds[0]
    rendered = "\n".join([embed.title or "", embed.description or "", *(f"{f.name}\n{f.value}" for f in embed.fields)])
    for raw in ("**Bold**", "@everyone", "`tick`", "__x0__", "<@123456789012345678>"):
        assert raw not in rendered, (raw, rendered)
    assert "Bold" in (embed.title or "")

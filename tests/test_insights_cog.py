"""/insights as organisers and members use it (SimCord): permissions, the ephemeral report with its chart, names
of stalled members as text (never hidden ones), and the Nudge button: one DM per stalled member and week, closed
DMs skipped, a second press within the week sending nothing."""

from __future__ import annotations

from datetime import timedelta

import discord
import pytest
import simcord
from discord import app_commands

from bot.domain.progress import Status
from db.insights import nudge_states
from db.progress import StepChange, apply_changes, set_visible
from db.tracks import add_plan
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.helpers import button_labels, dms, embed_text

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def world(env: simcord.Env) -> World:
    w = World(env, members=4)
    await env.settle()
    return w


async def seed(env: simcord.Env, world: World) -> None:
    """alice and bob are stalled (their last step is a month old), carol is active, dave hid himself."""
    bot = bot_of(env)
    now = bot.clock()
    month_ago = now - timedelta(days=30)
    tz = bot.settings.tz
    for member, steps, at in ((world.alice, 3, month_ago), (world.bob, 1, month_ago),
                              (world.members[2], 5, now - timedelta(days=1)), (world.members[3], 2, month_ago)):
        for step in range(1, steps + 1):
            await apply_changes(bot.db, world.guild.id, member.id, [StepChange(step, Status.DONE)],
                                at - timedelta(days=steps - step), default_tz=tz)
    await set_visible(bot.db, world.guild.id, world.members[3].id, False, now)


async def test_members_without_manage_server_cannot_see_or_run_it(env: simcord.Env, world: World) -> None:
    assert "insights" not in world.alice.available_commands(world.channel)
    with pytest.raises(simcord.SetupError):
        await world.alice.slash(world.channel, "insights")
    commands = await bot_of(env).tree.fetch_commands()
    insights = next(c for c in commands if c.name == "insights")
    world.guild.set_command_permissions(insights, {world.alice: True})  # let in by an override: checked again
    result = await world.alice.slash(world.channel, "insights")
    assert result.ephemeral
    assert "Manage Server" in result.response.content
    simcord.assert_error(env, app_commands.MissingPermissions)


async def test_the_report_is_ephemeral_with_a_chart_and_names_only_visible_stalled_members(
        env: simcord.Env, world: World) -> None:
    await seed(env, world)
    admin = add_admin(env, world)
    await env.settle()
    result = await admin.slash(world.channel, "insights")
    assert result.ephemeral
    text = embed_text(result)
    assert "Insights · Backend Learning Plan" in text
    assert "alice" in text
    assert "bob" in text
    assert "dave" not in text  # hid himself: counted, not named
    assert "1 stalled member(s) hid themselves" in text
    [attachment] = result.response.attachments
    assert (await attachment.read()).startswith(PNG)
    assert button_labels(result.response) == ["Nudge 2 stalled members"]


async def test_nudge_sends_one_dm_per_stalled_member_and_week(env: simcord.Env, world: World) -> None:
    await seed(env, world)
    admin = add_admin(env, world)
    await env.settle()
    result = await admin.slash(world.channel, "insights")
    await admin.click(result.response, label="Nudge 2 stalled members")
    await env.settle()
    [alice_dm] = dms(world.alice)
    assert "Still on step 4" in alice_dm.content
    assert len(dms(world.bob)) == 1
    assert dms(world.members[2]) == []
    assert dms(world.members[3]) == []
    states = await nudge_states(bot_of(env).db, world.guild.id)
    assert [(u, s) for u, _w, s in states] == sorted([(world.alice.id, "sent"), (world.bob.id, "sent")])
    again = await admin.slash(world.channel, "insights")
    await admin.click(again.response, label="Nudge 2 stalled members")
    await env.settle()
    assert len(dms(world.alice)) == 1  # at most once a week
    assert len(dms(world.bob)) == 1


async def test_closed_dms_are_skipped_and_recorded(env: simcord.Env, world: World) -> None:
    await seed(env, world)
    admin = add_admin(env, world)
    await env.settle()
    channel = await bot_of(env).create_dm(discord.Object(world.bob.id))
    env.inject_error("POST", f"/channels/{channel.id}/messages", status=403, code=50007,
                     message="Cannot send messages to this user", times=None)
    result = await admin.slash(world.channel, "insights")
    await admin.click(result.response, label="Nudge 2 stalled members")
    await env.settle()
    assert len(dms(world.alice)) == 1
    states = {u: s for u, _w, s in await nudge_states(bot_of(env).db, world.guild.id)}
    assert states == {world.alice.id: "sent", world.bob.id: "failed"}
    env.errors.clear()


async def test_an_own_track_is_chosen_by_name_and_an_unknown_one_is_refused(env: simcord.Env, world: World) -> None:
    bot = bot_of(env)
    text = "# Frontend\n" + "".join(f"- [ ] {i}. Page {i} (Build {i})\n" for i in range(1, 5))
    await add_plan(bot.db, world.guild.id, name="Frontend", title="Frontend", steps=4, source=text,
                   now=bot.clock(), by=None, limit=10)
    admin = add_admin(env, world)
    await env.settle()
    choices = await admin.autocomplete(world.channel, "insights", "track", "fro")
    assert [c["value"] for c in choices] == ["Frontend"]
    result = await admin.slash(world.channel, "insights", track="frontend")
    assert "Insights · Frontend" in embed_text(result)
    refused = await admin.slash(world.channel, "insights", track="Cooking")
    assert refused.ephemeral
    assert "There is no track called" in refused.response.content
    env.errors.clear()

"""/buddies: who else is on my step (working on it, or up next), or on a step I name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import simcord

from bot.domain.progress import Status
from db.progress import StepChange, apply_changes
from tests.community_support import bot_of, mark_done, set_visible
from tests.conftest import World
from tests.helpers import assert_user_error

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def start(env: simcord.Env, guild_id: int, user_id: int, step: int) -> None:
    bot = bot_of(env)
    await apply_changes(bot.db, guild_id, user_id, [StepChange(step, Status.IN_PROGRESS)], T0,
                        default_tz=bot.settings.tz)


async def test_members_on_my_step_working_on_it_or_up_next(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 5), T0)
    await start(env, g, world.alice.id, 5)  # alice works on step 5
    await mark_done(env, g, world.bob.id, range(1, 5), T0)  # bob's next open step is 5
    await start(env, g, 8001, 5)  # someone else is working on 5
    await mark_done(env, g, 8002, range(1, 5), T0)
    await set_visible(env, g, 8002, False)  # hidden: not listed
    await mark_done(env, g, 8003, range(1, 6), T0)  # on step 6
    result = await world.alice.slash(world.channel, "buddies")
    assert not result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == "Study buddies on step 5: Variables, data types, operators"
    shown = (embed.description or "").splitlines()
    assert sorted(shown) == sorted(["bob · ⏭️ up next", "a member who left · 🔄 working on it"])
    assert str(world.alice.id) not in (embed.description or "")
    assert embed.footer.text.startswith("2 members on this step")


async def test_a_named_step_and_nobody_there_suggests_nearby_steps(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.bob.id, range(1, 11), T0)  # bob is on 11
    await start(env, g, 8001, 14)
    result = await world.alice.slash(world.channel, "buddies", step=12)
    description = result.response.embeds[0].description or ""
    assert description.startswith("No one else is on step 12 yet.")
    assert "step 11 (1), step 14 (1)" in description


async def test_nobody_anywhere_near(world: World) -> None:
    result = await world.alice.slash(world.channel, "buddies", step=40)
    description = result.response.embeds[0].description or ""
    assert description.splitlines() == [
        "No one else is on step 40 yet.",
        "Nobody is within a few steps either: post in the channel and invite someone to join you.",
    ]


async def test_a_new_member_is_on_step_1(env: simcord.Env, world: World) -> None:
    await start(env, world.guild.id, world.bob.id, 1)
    result = await world.alice.slash(world.channel, "buddies")
    assert result.response.embeds[0].title.startswith("Study buddies on step 1:")
    assert result.response.embeds[0].description == "bob · 🔄 working on it"


async def test_a_member_who_finished_is_told_to_pick_a_step(env: simcord.Env, world: World) -> None:
    await mark_done(env, world.guild.id, world.alice.id, range(1, 81), T0)
    result = await world.alice.slash(world.channel, "buddies")
    assert result.ephemeral
    assert "finished all 80 steps" in result.response.content
    assert "/buddies step:" in result.response.content


@pytest.mark.parametrize("step", [0, 81, -1])
async def test_steps_outside_the_plan_are_refused(env: simcord.Env, world: World, step: int) -> None:
    result = await world.alice.slash(world.channel, "buddies", step=step)
    assert_user_error(env, result, f"There is no step {step}", "from 1 to 80")


async def test_step_autocomplete(world: World) -> None:
    choices = await world.alice.autocomplete(world.channel, "buddies", "step", "docker")
    assert choices
    assert [c["value"] for c in choices] == [71]

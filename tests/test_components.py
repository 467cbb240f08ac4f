"""Issue 8 §9: every click gets an answer, through the same error path as slash commands (bot/tree.py).

Each test here failed before the shared error path: a button whose callback raised left the interaction
unanswered ("This interaction failed"), and page buttons were registered by the plan cog only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest
import simcord
from sqlalchemy.exc import DBAPIError

from bot.domain.plan import bundled_plan_path
from bot.ui.components import AnsweredButton
from bot.ui.registry import DYNAMIC_ITEMS
from tests.community_support import bot_of, mark_done
from tests.conftest import World
from tests.helpers import button_labels, embed_text
from tests.store_faults import refuse_writes

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def generic_answer(result: simcord.InteractionResult) -> str:
    """The member got the generic ephemeral answer naming the interaction id; returns the id."""
    assert result.response is not None, "the click was not answered"
    assert result.ephemeral
    content = result.response.content
    assert "Something went wrong on my side and it has been logged" in content
    return content.split("`")[1]


def failure_records(caplog: pytest.LogCaptureFixture, interaction_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.tree" and r.levelno == logging.ERROR
            and interaction_id in r.getMessage()]


async def test_an_old_step_button_after_the_plan_changed_answers_with_the_reason(
        env: simcord.Env, world: World, tmp_path: Path) -> None:
    """A UserError raised in a persistent button's callback is an ephemeral answer with its message."""
    shown = await world.alice.slash(world.channel, "plan step", number=4)
    assert button_labels(shown.response) == ["◀ Previous", "Next ▶"]
    short_plan = tmp_path / "short-plan.md"  # the first phase only: steps 1 to 4
    short_plan.write_text("\n".join(bundled_plan_path().read_text().splitlines()[:9]) + "\n")
    settings = bot_of(env).settings.model_copy(update={"plan_path": short_plan})
    await env.restart_bot(env.make_bot(settings=settings))  # type: ignore[attr-defined]
    result = await world.alice.click(shown.response.message, label="Next ▶")
    assert result.response is not None, "the click was not answered"
    assert result.ephemeral
    assert result.response.content == "There is no step 5: steps go from 1 to 4."
    assert "Step 4 of 80" in embed_text(shown)  # the public message is left as it was


async def test_an_unexpected_error_in_a_dm_button_is_answered_with_the_id_and_logged(
        env: simcord.Env, world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A real fault (the database refuses writes) under a reminder DM's Mark done button."""
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await bot_of(env).run_scheduled(datetime(2026, 1, 1, 9, tzinfo=UTC))
    await env.settle()
    dm = world.alice.user.dm_channel.history()[-1]
    await refuse_writes(bot_of(env).db)
    with caplog.at_level(logging.ERROR, logger="bot.tree"):
        result = await world.alice.user.click(dm, label="Mark done")
    interaction_id = generic_answer(result)
    [record] = failure_records(caplog, interaction_id)
    assert "component sw:rm:done:" in record.getMessage()
    assert f"by user {world.alice.id}" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], DBAPIError)
    await refuse_writes(bot_of(env).db, on=False)


async def test_an_unexpected_error_in_a_view_button_gets_the_same_answer(
        env: simcord.Env, world: World, caplog: pytest.LogCaptureFixture) -> None:
    """The confirm buttons (a plain View, not a DynamicItem) share the path: same answer, same log line."""
    await world.alice.slash(world.channel, "done")
    asked = await world.alice.slash(world.channel, "data forget")
    await refuse_writes(bot_of(env).db)
    with caplog.at_level(logging.ERROR, logger="bot.tree"):
        result = await world.alice.click(asked.response, label="Delete my data")
    simcord.assert_error(env, DBAPIError)
    interaction_id = generic_answer(result)
    [record] = failure_records(caplog, interaction_id)
    assert f"component {asked.response.components[0]['components'][0]['custom_id']} by user" in record.getMessage()
    await refuse_writes(bot_of(env).db, on=False)


async def test_a_command_error_is_logged_the_same_way(env: simcord.Env, world: World,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    await refuse_writes(bot_of(env).db)
    with caplog.at_level(logging.ERROR, logger="bot.tree"):
        result = await world.alice.slash(world.channel, "done")
    simcord.assert_error(env, DBAPIError)
    interaction_id = generic_answer(result)
    [record] = failure_records(caplog, interaction_id)
    assert "(/done by user" in record.getMessage()
    await refuse_writes(bot_of(env).db, on=False)


async def test_leaderboard_page_buttons_work_without_the_plan_cog(env: simcord.Env, world: World) -> None:
    for i in range(12):
        await mark_done(env, world.guild.id, 7000 + i, range(1, 20 - i), T0 - timedelta(days=1))
    shown = await world.alice.slash(world.channel, "leaderboard")
    await env.restart_bot(env.make_bot(extensions=("cogs.community",)))  # type: ignore[attr-defined]
    assert bot_of(env).get_cog("Plan") is None
    moved = await world.alice.click(shown.response.message, label="Next ▶")
    assert moved.response is not None, "the click was not answered"
    assert (moved.response.embeds[0].description or "").splitlines() == [
        "`#11` a member who left · **9** steps", "`#12` a member who left · **8** steps"]


async def test_a_step_button_without_the_plan_cog_says_it_is_unavailable(env: simcord.Env, world: World) -> None:
    shown = await world.alice.slash(world.channel, "plan step", number=4)
    await env.restart_bot(env.make_bot(extensions=("cogs.community",)))  # type: ignore[attr-defined]
    result = await world.alice.click(shown.response.message, label="Next ▶")
    assert result.response is not None, "the click was not answered"
    assert result.ephemeral
    assert "not available right now" in result.response.content


def test_every_persistent_button_class_is_registered_in_one_place() -> None:
    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found))

    assert subclasses(AnsweredButton) == set(DYNAMIC_ITEMS)
    assert all(issubclass(c, discord.ui.DynamicItem) for c in DYNAMIC_ITEMS)

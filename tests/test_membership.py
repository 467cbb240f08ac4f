"""Members who left a server (issue 8, section 8), as they and the members who stayed see it (SimCord).

Without the privileged members intent the bot is not told who left: a reminder DM's button checks membership
with one REST lookup. Each test here failed on the code before the fix: the removed member's Mark done wrote
progress, they stayed on the leaderboard, and no setting turned the members intent on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord
from sqlalchemy import select

from bot.__main__ import main
from bot.app import StepwiseBot, intents_for
from bot.config import Settings, SettingsError, load_settings
from bot.domain.reminders import PauseReason
from db import membership
from db import reminders as store
from db.progress import load_member
from db.tables import members
from tests.community_support import bot_of, mark_done
from tests.conftest import World, simulated
from tests.helpers import dms, embed_text, labels, message_text, tick
from tests.store_faults import refuse_writes

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock starts here


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]










async def reminded(env: simcord.Env, world: World, member: simcord.MemberActor) -> discord.Message:
    """`member` sets a 09:00 UTC reminder and gets the day's DM."""
    await member.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 9))
    return dms(member)[-1]


def member_lookups(env: simcord.Env, guild_id: int, user_id: int) -> int:
    return sum(1 for r in env.http_requests if r.method == "GET" and r.path == f"/guilds/{guild_id}/members/{user_id}")


def board(result: simcord.InteractionResult) -> list[str]:
    assert result.response is not None
    return (result.response.embeds[0].description or "").splitlines()


async def away_since(env: simcord.Env, guild_id: int, user_id: int) -> str | None:
    row = await bot_of(env).db.fetchone(select(members.c.left_at).where(members.c.guild_id == guild_id,
                                                                         members.c.user_id == user_id))
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- a DM button after leaving

async def test_a_member_who_left_presses_mark_done_and_is_told_so_with_nothing_written(env: simcord.Env,
                                                                                       world: World) -> None:
    dm = await reminded(env, world, world.alice)
    world.guild.remove_member(world.alice)  # no members intent: the bot is not told
    await env.settle()
    pressed = await world.alice.user.click(dm, label="Mark done")
    assert pressed.acknowledged
    edited = dms(world.alice)[-1]
    assert "no longer a member of **Study Hall**" in message_text(edited)
    assert "/remind set" in message_text(edited)
    assert labels(edited) == []  # the buttons are gone
    assert member_lookups(env, world.guild.id, world.alice.id) == 1  # one REST lookup
    bot = bot_of(env)
    assert (await load_member(bot.db, world.guild.id, world.alice.id)).states == {}  # no progress written
    reminder = await store.get_reminder(bot.db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert (reminder.paused, reminder.next_due) == (PauseReason.LEFT_SERVER, None)
    assert reminder.schedule.at.strftime("%H:%M") == "09:00"  # the setting is kept
    await tick(env, utc(2026, 1, 2, 9))
    assert len(dms(world.alice)) == 1  # no more reminders for that server


async def test_every_button_of_a_member_who_left_answers_the_same(env: simcord.Env, world: World) -> None:
    dm = await reminded(env, world, world.alice)
    world.guild.remove_member(world.alice)
    await env.settle()
    await world.alice.user.click(dm, label="Stop reminders")
    assert "no longer a member of **Study Hall**" in message_text(dms(world.alice)[-1])
    reminder = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.paused is PauseReason.LEFT_SERVER


async def test_a_member_still_in_the_server_costs_one_lookup_and_marks_done(env: simcord.Env, world: World) -> None:
    dm = await reminded(env, world, world.alice)
    await world.alice.user.click(dm, label="Mark done")
    assert "Step 1 marked done" in message_text(dms(world.alice)[-1])
    assert member_lookups(env, world.guild.id, world.alice.id) == 1
    assert (await load_member(bot_of(env).db, world.guild.id, world.alice.id)).done == {1}


async def test_a_member_wrongly_marked_away_who_presses_a_button_is_back_at_once(env: simcord.Env,
                                                                                 world: World) -> None:
    """Marked away (say by a lookup while Discord was confused) but still a member: the press finds them."""
    dm = await reminded(env, world, world.alice)
    bot = bot_of(env)
    await membership.mark_away(bot.db, world.guild.id, world.alice.id, bot.clock())
    await world.alice.user.click(dm, label="Mark done")
    assert "Step 1 marked done" in message_text(dms(world.alice)[-1])
    assert await away_since(env, world.guild.id, world.alice.id) is None
    assert board(await world.bob.slash(world.channel, "leaderboard"))[0] == "🥇 alice · **1** step"


async def test_a_command_still_runs_when_the_away_flag_cannot_be_cleared(env: simcord.Env, world: World,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A real fault: the database refuses writes. Clearing the flag is bookkeeping; the command still answers."""
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 3), T0)
    bot = bot_of(env)
    await membership.mark_away(bot.db, g, world.alice.id, T0)
    await refuse_writes(bot.db)
    try:
        result = await world.alice.slash(world.channel, "leaderboard")
    finally:
        await refuse_writes(bot.db, on=False)
    assert result.response is not None
    assert not result.ephemeral
    assert "Leaderboard" in (result.response.embeds[0].title or "")
    assert f"could not mark user {world.alice.id} present" in caplog.text
    assert await away_since(env, g, world.alice.id) is not None  # tried again on her next command
    await world.alice.slash(world.channel, "leaderboard")
    assert await away_since(env, g, world.alice.id) is None


async def test_when_membership_cannot_be_checked_nothing_is_written_and_the_member_may_retry(
        env: simcord.Env, world: World) -> None:
    dm = await reminded(env, world, world.alice)
    env.inject_error("GET", f"/guilds/{world.guild.id}/members/{world.alice.id}", status=500)
    pressed = await world.alice.user.click(dm, label="Mark done")
    assert pressed.ephemeral
    assert "could not check" in pressed.response.content
    assert labels(dms(world.alice)[-1]) == ["Mark done", "Snooze 1 h", "Skip today", "Stop reminders"]  # kept
    bot = bot_of(env)
    assert (await load_member(bot.db, world.guild.id, world.alice.id)).states == {}
    reminder = await store.get_reminder(bot.db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.active  # not paused on a failed lookup
    assert await away_since(env, world.guild.id, world.alice.id) is None
    await world.alice.user.click(dm, label="Mark done")  # Discord answers again
    assert (await load_member(bot.db, world.guild.id, world.alice.id)).done == {1}


async def test_a_button_for_a_server_the_bot_left_writes_nothing(env: simcord.Env, world: World) -> None:
    dm = await reminded(env, world, world.alice)
    env.backend.remove_guild(world.guild.id)  # the bot is kicked from Study Hall
    await env.settle()
    await world.alice.user.click(dm, label="Mark done")
    assert "no longer in that server" in message_text(dms(world.alice)[-1])
    assert labels(dms(world.alice)[-1]) == []
    assert (await load_member(bot_of(env).db, world.guild.id, world.alice.id)).states == {}
    assert member_lookups(env, world.guild.id, world.alice.id) == 0  # nothing to ask Discord


# ---------------------------------------------------------------- leaderboards while away

async def test_a_member_who_left_leaves_the_boards_and_comes_back_after_rejoining(env: simcord.Env,
                                                                                  world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 6), T0)  # alice: 5 steps, first
    await mark_done(env, g, world.bob.id, range(1, 3), T0 + timedelta(hours=1))  # bob: 2 steps
    dm = await reminded(env, world, world.alice)
    world.guild.remove_member(world.alice)
    await env.settle()
    await world.alice.user.click(dm, label="Snooze 1 h")
    assert await away_since(env, g, world.alice.id) is not None
    for period in ("all", "week", "month"):
        seen = await world.bob.slash(world.channel, "leaderboard", period=period)
        assert board(seen) == ["🥇 bob · **2** steps ← you"], period
        assert "You are **#1** of 1" in embed_text(seen)
    alice = world.guild.add_member(world.alice.user)  # she rejoins; no event reaches the bot without the intent
    await env.settle()
    back = await alice.slash(world.channel, "leaderboard")  # her first command in the server
    assert board(back) == ["🥇 alice · **5** steps ← you", "🥈 bob · **2** steps"]
    assert "You are **#1** of 2" in embed_text(back)
    assert await away_since(env, g, alice.id) is None
    week = await world.bob.slash(world.channel, "leaderboard", period="week")
    assert "You are **#2** of 2" in embed_text(week)


async def test_buddies_leave_out_a_member_who_left(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 5), T0)
    await mark_done(env, g, world.bob.id, range(1, 5), T0)
    dm = await reminded(env, world, world.alice)
    world.guild.remove_member(world.alice)
    await env.settle()
    await world.alice.user.click(dm, label="Skip today")
    result = await world.bob.slash(world.channel, "buddies")
    assert str(world.alice.id) not in (result.response.embeds[0].description or "")


async def test_a_hidden_member_who_leaves_and_comes_back_stays_hidden(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 6), T0)
    await mark_done(env, g, world.bob.id, range(1, 3), T0)
    await world.alice.slash(world.channel, "data privacy", visible=False)
    dm = await reminded(env, world, world.alice)
    world.guild.remove_member(world.alice)
    await env.settle()
    await world.alice.user.click(dm, label="Mark done")
    alice = world.guild.add_member(world.alice.user)
    await env.settle()
    seen = await alice.slash(world.channel, "leaderboard")
    assert board(seen) == ["🥇 bob · **2** steps"]  # her own choice still holds
    shown = await alice.slash(world.channel, "data privacy", visible=True)
    assert "visible" in (shown.response.content or "")
    assert board(await alice.slash(world.channel, "leaderboard"))[0] == "🥇 alice · **5** steps ← you"


# ---------------------------------------------------------------- with the members intent


def test_an_intent_discord_refuses_stops_start_up_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """MEMBERS_INTENT=true but the intent is off in the developer portal: Discord closes the gateway (4014)."""
    for name in ("PLAN_PATH", "DEV_GUILD_ID", "LOG_LEVEL", "DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("DISCORD_TOKEN", "a-token")
    monkeypatch.setenv("MEMBERS_INTENT", "true")

    async def refused(self: discord.Client, *args: Any, **kwargs: Any) -> None:
        raise discord.PrivilegedIntentsRequired(None)  # what discord.py raises on close code 4014

    monkeypatch.setattr(discord.Client, "start", refused)
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("stepwise: cannot start: members_intent (env MEMBERS_INTENT)")
    assert "Privileged Gateway Intents" in err


@pytest.fixture
async def intent_env(make_bot: Callable[..., StepwiseBot], settings: Settings) -> AsyncIterator[simcord.Env]:
    """A SimCord world around a bot with MEMBERS_INTENT on, the intent approved as in the developer portal."""
    on = settings.model_copy(update={"members_intent": True})

    def with_intent(**kwargs: Any) -> StepwiseBot:
        return make_bot(settings=on, **kwargs)

    async with simulated(with_intent(), approved_intents=discord.Intents(members=True)) as environment:
        environment.make_bot = with_intent  # type: ignore[attr-defined]
        yield environment


async def test_the_members_intent_is_off_by_default(env: simcord.Env) -> None:
    assert not bot_of(env).intents.members


def test_members_intent_comes_from_the_environment(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERS_INTENT", "true")
    settings = load_settings(_env_file=None, database_path=db_path)
    assert settings.members_intent
    assert intents_for(settings).members
    monkeypatch.setenv("MEMBERS_INTENT", "sometimes")
    with pytest.raises(SettingsError, match=r"members_intent \(env MEMBERS_INTENT\)"):
        load_settings(_env_file=None, database_path=db_path)


async def test_with_the_intent_leaving_pauses_at_once_and_remind_status_says_why(intent_env: simcord.Env) -> None:
    env = intent_env
    assert bot_of(env).intents.members
    world = World(env)
    await env.settle()
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 4), T0)
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    world.guild.remove_member(world.alice)  # the bot is told at once (GUILD_MEMBER_REMOVE)
    await env.settle()
    bot = bot_of(env)
    reminder = await store.get_reminder(bot.db, g, world.alice.id)
    assert reminder is not None
    assert reminder.paused is PauseReason.LEFT_SERVER
    assert await away_since(env, g, world.alice.id) is not None
    assert board(await world.bob.slash(world.channel, "leaderboard"))[0].startswith("Nobody has finished a step")
    await tick(env, utc(2026, 1, 1, 9))
    assert dms(world.alice) == []  # no reminder, and no lookup needed
    assert member_lookups(env, g, world.alice.id) == 0
    alice = world.guild.add_member(world.alice.user)  # GUILD_MEMBER_ADD
    await env.settle()
    assert await away_since(env, g, alice.id) is None  # back on the boards at once
    assert board(await world.bob.slash(world.channel, "leaderboard"))[0] == "🥇 alice · **3** steps"
    reminder = await store.get_reminder(bot.db, g, alice.id)
    assert reminder is not None
    assert reminder.paused is PauseReason.LEFT_SERVER  # stays paused until /remind set
    status = embed_text(await alice.slash(world.channel, "remind status"))
    assert "Reminders paused" in status
    assert "no longer a member of this server" in status
    assert "/remind set time:09:00 timezone:UTC" in status
    resumed = await alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    assert "Daily reminder set" in embed_text(resumed)
    await tick(env, utc(2026, 1, 2, 9))
    assert len(dms(alice)) == 1


async def test_after_returning_the_next_command_tells_the_member_their_reminder_is_paused(
        intent_env: simcord.Env) -> None:
    env = intent_env
    world = World(env)
    await env.settle()
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    world.guild.remove_member(world.alice)
    await env.settle()
    alice = world.guild.add_member(world.alice.user)
    await env.settle()
    result = await alice.slash(world.channel, "progress")
    notes = [f.content for f in result.followups]
    assert any("paused" in n and "no longer a member" in n for n in notes), notes


async def test_a_hidden_member_stays_hidden_across_leaving_with_the_intent(intent_env: simcord.Env) -> None:
    env = intent_env
    world = World(env)
    await env.settle()
    g = world.guild.id
    await mark_done(env, g, world.alice.id, range(1, 4), T0)
    await world.alice.slash(world.channel, "data privacy", visible=False)
    world.guild.remove_member(world.alice)
    await env.settle()
    world.guild.add_member(world.alice.user)
    await env.settle()
    assert board(await world.bob.slash(world.channel, "leaderboard"))[0].startswith("Nobody has finished a step")

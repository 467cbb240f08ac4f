"""Members show by name, never as `<@id>`, in /leaderboard, /buddies and /config show.

In an embed Discord renders a mention only for members the reader's client already knows ("@unknown-user"
otherwise). The bot has no members intent, so like in production its cache starts empty here: names come from
one gateway lookup per reply (no REST call per row), escaped as text. Each test failed before the fix (the
embeds held `<@id>`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
import simcord

from bot.domain.progress import Status
from db.progress import StepChange, apply_changes
from tests.community_support import add_admin, bot_of, mark_done
from tests.conftest import World
from tests.helpers import embed_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TRICKY = "**bold**_x_"  # a nickname full of Markdown
SHOWN = "\\*\\*bold\\*\\*\\_x\\_"  # ...shown as the text itself


def description(result: simcord.InteractionResult) -> str:
    assert result.response is not None
    return result.response.embeds[0].description or ""


def member_lookups(env: simcord.Env) -> list[Any]:
    """REST requests that fetch guild members one by one (what a lookup per row would do)."""
    return [r for r in env.http_requests if re.search(r"/guilds/\d+/members/\d+$", str(r.path))]


async def test_leaderboard_shows_escaped_names_and_no_mentions(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    tricky = world.guild.add_member(env.create_user("tricky"), nick=TRICKY)
    everyone = world.guild.add_member(env.create_user("loud", global_name="@everyone 1. first"))
    gone = world.guild.add_member(env.create_user("gone"))
    await env.settle()
    await mark_done(env, g, tricky.id, range(1, 6), T0)
    await mark_done(env, g, everyone.id, range(1, 5), T0)
    await mark_done(env, g, gone.id, range(1, 4), T0)
    await mark_done(env, g, world.bob.id, range(1, 3), T0)
    await mark_done(env, g, world.alice.id, [1], T0)
    world.guild.remove_member(gone)
    await env.settle()
    before = len(env.http_requests)
    result = await world.alice.slash(world.channel, "leaderboard")
    assert description(result).splitlines() == [
        f"🥇 {SHOWN} · **5** steps",
        "🥈 @\u200beveryone 1. first · **4** steps",
        "🥉 a member who left · **3** steps",
        "`#4` bob · **2** steps",
        "`#5` alice · **1** step ← you",
    ]
    assert "<@" not in embed_text(result)
    assert member_lookups(env)[before:] == []
    # The lookup filled the cache: the next reply needs no lookup for these members.
    guild = bot_of(env).get_guild(g)
    assert guild is not None
    assert guild.get_member(tricky.id) is not None


async def test_leaderboard_pages_show_names_too(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    others = [world.guild.add_member(env.create_user(f"member{i:02d}")) for i in range(12)]
    await env.settle()
    for i, member in enumerate(others):
        await mark_done(env, g, member.id, range(1, 20 - i), T0)
    first = await world.alice.slash(world.channel, "leaderboard")
    assert first.response is not None
    second = await world.alice.click(first.response.message, label="Next ▶")
    assert description(second).splitlines() == ["`#11` member10 · **9** steps", "`#12` member11 · **8** steps"]
    assert "<@" not in embed_text(first) + embed_text(second)


async def test_a_failed_or_slow_lookup_shows_neutral_labels_and_still_answers(env: simcord.Env, world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async def gateway_down(self: discord.Guild, *args: Any, **kwargs: Any) -> list[discord.Member]:
        raise TimeoutError  # what asyncio.wait_for raises when the gateway takes longer than QUERY_TIMEOUT

    monkeypatch.setattr(discord.Guild, "query_members", gateway_down)
    await mark_done(env, world.guild.id, world.bob.id, range(1, 3), T0)
    await mark_done(env, world.guild.id, world.alice.id, [1], T0)
    result = await world.alice.slash(world.channel, "leaderboard")
    assert description(result).splitlines() == [
        f"🥇 member …{str(world.bob.id)[-4:]} · **2** steps",
        "🥈 alice · **1** step ← you",  # the member who asked is known from the interaction itself
    ]


async def test_buddies_shows_escaped_names(env: simcord.Env, world: World) -> None:
    g = world.guild.id
    tricky = world.guild.add_member(env.create_user("tricky"), nick=TRICKY)
    await env.settle()
    bot = bot_of(env)
    for member in (tricky, world.bob):
        await apply_changes(bot.db, g, member.id, [StepChange(1, Status.IN_PROGRESS)], T0, default_tz=bot.settings.tz)
    result = await world.alice.slash(world.channel, "buddies")
    assert sorted(description(result).splitlines()) == sorted([f"{SHOWN} · 🔄 working on it", "bob · 🔄 working on it"])
    assert "<@" not in embed_text(result)


async def test_config_show_names_the_member_a_role_could_not_be_given_to(env: simcord.Env, world: World) -> None:
    admin = add_admin(env, world)
    tricky = world.guild.add_member(env.create_user("tricky"), nick=TRICKY)
    await env.settle()
    hall = world.guild.create_text_channel("hall-of-fame")
    role = world.guild.create_role("Foundations", position=50)  # above the bot's role: giving it fails
    await admin.slash(world.channel, "config milestones", channel=hall)
    await admin.slash(world.channel, "config milestone-role", phase=1, role=role)
    await mark_done(env, world.guild.id, tricky.id, range(1, 5), T0, dispatch=True)
    shown = embed_text(await admin.slash(world.channel, "config show"))
    assert f"I could not give {role.mention} to {SHOWN}" in shown
    assert re.search(r"<@!?\d+>", shown) is None  # role mentions (<@&id>) resolve for everyone and stay

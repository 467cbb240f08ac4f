"""Step and phase numbers show as themselves: no line Discord's Markdown would turn into an ordered list.

A line such as "4. Learn REST" is an ordered list in Discord's Markdown, renumbered from 1, so a 2-step undo of
steps 4 and 5 showed "1." and "2.". Each test here failed before the fix (undo/redo, redo, overview and search
field names, the reminder DM's phase, a member's own numbered note).
"""

from __future__ import annotations

from datetime import UTC, datetime

import simcord

from bot.ui.plan_views import escape, no_list
from tests.community_support import bot_of, mark_done
from tests.conftest import World
from tests.helpers import embed_text, ordered_list_items, ordered_list_lines

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_helper_finds_what_markdown_renders_as_an_ordered_list() -> None:
    assert ordered_list_items("4. Learn REST\nplain\n  12. nested") == ["4. Learn REST", "  12. nested"]
    assert ordered_list_items("4\\. Learn REST\nStep 4 · x\n1.5 hours\nabout 3. things") == []


def test_escape_keeps_numbers_as_themselves() -> None:
    assert no_list("4. Learn REST\n5. Next") == "4\\. Learn REST\n5\\. Next"
    assert escape("1. **bold**") == "1\\. \\*\\*bold\\*\\*"
    assert no_list("Step 4. x\n1.5 hours") == "Step 4. x\n1.5 hours"


async def test_a_two_step_undo_and_redo_show_steps_4_and_5_as_themselves(env: simcord.Env, world: World) -> None:
    await mark_done(env, world.guild.id, world.alice.id, [4, 5], T0)  # one change of two steps, as an import makes
    undo = await world.alice.slash(world.channel, "undo")
    assert undo.response is not None
    assert ordered_list_lines(undo.response) == []
    lines = (undo.response.embeds[0].description or "").splitlines()
    assert lines[0].startswith("4\\. ")  # shows as "4."
    assert lines[1].startswith("5\\. ")
    assert "done → not started" in lines[0]
    redo = await world.alice.slash(world.channel, "redo")
    assert redo.response is not None
    assert ordered_list_lines(redo.response) == []
    assert "5\\. " in embed_text(redo)


async def test_no_reply_or_dm_starts_a_line_with_a_numbered_list_item(env: simcord.Env, world: World) -> None:
    """Every reply that names steps or phases: plan browsing, marking, progress, community, reminders."""
    g, alice = world.guild.id, world.alice
    await mark_done(env, g, world.bob.id, [1, 2, 3], T0)
    replies = [
        await alice.slash(world.channel, "plan overview"),
        await alice.slash(world.channel, "plan search", query="api"),
        await alice.slash(world.channel, "plan next"),
        await alice.slash(world.channel, "plan step", number=12),
        await alice.slash(world.channel, "done", step=1, note="1. read the docs\n2. write the code"),
        await alice.slash(world.channel, "start", step=2),
        await alice.slash(world.channel, "skip", step=3),
        await alice.slash(world.channel, "undo"),
        await alice.slash(world.channel, "redo"),
        await alice.slash(world.channel, "progress"),
        await alice.slash(world.channel, "buddies", step=4),
        await alice.slash(world.channel, "leaderboard"),
        await alice.slash(world.channel, "remind set", time="09:00", timezone="UTC", days="mon-thu"),
        await alice.slash(world.channel, "remind status"),
        await alice.slash(world.channel, "data export"),
        await alice.slash(world.channel, "help"),
    ]
    search = replies[1].response
    assert search is not None
    assert any(f.name.startswith("Step ") for f in search.embeds[0].fields)
    overview = replies[0].response
    assert overview is not None
    assert overview.embeds[0].fields[0].name.startswith("Phase 1 · ")
    await bot_of(env).run_scheduled(datetime(2026, 1, 1, 9, tzinfo=UTC))
    await env.settle()
    dm = alice.user.dm_channel.history()[-1]
    assert "Phase" in [f.name for f in dm.embeds[0].fields]
    for reply in replies:
        assert reply.response is not None
        assert ordered_list_lines(reply.response) == [], reply.response.embeds[0].title if reply.response.embeds \
            else reply.response.content
    assert ordered_list_lines(dm) == []

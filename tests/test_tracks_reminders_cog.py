"""The reminder DM on a member's own track (SimCord): it names the track and its next step, Mark done marks that
step on that track, and a DM of the track a member has left refuses Mark done instead of marking another plan's
step of the same number."""

from __future__ import annotations

from datetime import UTC, datetime

import simcord

from bot.domain.progress import Status
from db import tracks as tracks_db
from db.progress import load_member
from tests.conftest import World
from tests.helpers import bot_of, dms, labels, message_text, tick

FRONTEND = "# Frontend\n" + "".join(f"- [ ] {i}. Page {i} (Build page {i})\n" for i in range(1, 6))


async def test_the_dm_follows_the_track_and_its_button_refuses_after_a_switch(env: simcord.Env,
                                                                              world: World) -> None:
    bot = bot_of(env)
    await tracks_db.add_plan(bot.db, world.guild.id, name="Frontend", title="Frontend", steps=5, source=FRONTEND,
                             now=bot.clock(), by=None, limit=10)
    await world.alice.slash(world.channel, "track join", name="Frontend")
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, datetime(2026, 1, 1, 9, tzinfo=UTC))
    [dm] = dms(world.alice)
    text = message_text(dm)
    assert "track **Frontend**" in text
    assert "Next up: step 1. Page 1" in text
    assert "0/5" in text
    await world.alice.user.click(dm, label="Mark done")
    member = await load_member(bot.db, world.guild.id, world.alice.id)
    assert member.states[1].status is Status.DONE
    assert "Next up: **2. Page 2**" in message_text(dms(world.alice)[-1])

    await tick(env, datetime(2026, 1, 2, 9, tzinfo=UTC))
    second = dms(world.alice)[-1]
    assert "Next up: step 2. Page 2" in message_text(second)
    await world.alice.slash(world.channel, "track switch", name="Backend Learning Plan")
    refused = await world.alice.user.click(second, label="Mark done")
    assert refused.ephemeral
    assert "This reminder was for another track" in refused.response.content
    assert (await load_member(bot.db, world.guild.id, world.alice.id)).states == {}  # step 2 of Backend untouched
    assert labels(dms(world.alice)[-1]) == ["Mark done", "Snooze 1 h", "Skip today", "Stop reminders"]
    env.errors.clear()

"""Dates a member imports are bounded where they enter: /data import refuses a done date outside 2000-01-01 to a
day after now with the line it is on, and stores nothing (before: an internal error for the first two, and
`0001-01-01` was imported, after which that member's /progress failed)."""

from __future__ import annotations

import pytest
import simcord

from bot.domain.plan import load_plan
from db.progress import load_member
from tests.conftest import World
from tests.helpers import assert_user_error, button_labels

PLAN = load_plan()


def checklist(done: str) -> bytes:
    first, second = PLAN.step(1), PLAN.step(2)
    return "\n".join([
        "# My progress",
        f"- [x] 1. {first.title} ({first.exercise})",
        "  - done: 2026-01-01T00:00:00Z",
        f"- [x] 2. {second.title} ({second.exercise})",
        f"  - done: {done}",
    ]).encode()


@pytest.mark.parametrize(("done", "fragment"), [
    ("0001-01-01T00:00:00+01:00", "line 5: `0001-01-01T00:00:00+01:00` is not a date"),
    ("9999-12-31T23:59:59-12:00", "line 5: `9999-12-31T23:59:59-12:00` is not a date"),
    ("0001-01-01", "line 5: the done date 0001-01-01 is before 2000-01-01"),
    ("1999-12-31", "line 5: the done date 1999-12-31 is before 2000-01-01"),
    ("2026-01-02T00:00:01Z", "line 5: the done date 2026-01-02T00:00:01Z is in the future"),
])
async def test_import_refuses_done_dates_out_of_range_by_line(env: simcord.Env, world: World, done: str,
                                                             fragment: str) -> None:
    await world.alice.slash(world.channel, "done", step=3)
    before = await load_member(env.bot.db, world.guild.id, world.alice.id)
    result = await world.alice.slash(world.channel, "data import", file=("progress.md", checklist(done)))
    assert_user_error(env, result, fragment, "nothing was imported")
    assert result.response.components == []
    assert await load_member(env.bot.db, world.guild.id, world.alice.id) == before
    card = await world.alice.slash(world.channel, "progress")
    assert "**1/80** steps done" in (card.response.embeds[0].description or "")


async def test_import_accepts_a_done_date_up_to_a_day_ahead(env: simcord.Env, world: World) -> None:
    """A date typed in a zone ahead of UTC: 2026-01-01T23:00+11:00 is 12:00 UTC, twelve hours after now."""
    result = await world.alice.slash(world.channel, "data import",
                                     file=("progress.md", checklist("2026-01-01T23:00:00+11:00")))
    assert result.ephemeral
    assert "Import" in button_labels(result.response)

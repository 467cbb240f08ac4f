"""What an old database already holds must not break anyone's command: done dates in year 1 or 9999, a cohort
with a tiny pace or a start far in the future (both got in before the bounds at the edges existed).

The rows are written straight into the bot's real database with plain SQL (as an old version of the bot or an
import left them; SQLite also holds a cohort start that is not a date, which PostgreSQL's DATE cannot), then
members and an admin run their commands in SimCord. Before the fix,
/progress (streaks, the cohort's end), /config show and /config timezone raised OverflowError.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import simcord
from sqlalchemy import BindParameter, bindparam, text

from bot.domain.progress import Status
from db.progress import StepChange, apply_changes
from db.types import Instant
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.helpers import embed_text

START = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock starts here
YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


async def write(env: simcord.Env, sql: str, params: dict[str, object], *types: BindParameter[Any]) -> None:
    """One plain SQL statement on the bot's database (named parameters; `types` for instants and days)."""
    async with bot_of(env).db.transaction() as conn:
        await conn.execute(text(sql).bindparams(*types), params)


async def seed_done(env: simcord.Env, world: World, member: simcord.MemberActor, steps: range) -> None:
    changes = [StepChange(n, Status.DONE, done_at=START - timedelta(days=len(steps) - i)) for i, n in
               enumerate(steps)]
    await apply_changes(bot_of(env).db, world.guild.id, member.id, changes, START, default_tz=bot_of(env).settings.tz)


@pytest.fixture
async def bad_dates(env: simcord.Env, world: World) -> None:
    """alice has a step done in year 1 and one in year 9999 (as an old import stored them); bob is ordinary."""
    await seed_done(env, world, world.alice, range(1, 5))
    await seed_done(env, world, world.bob, range(1, 3))
    for step, done_at in ((1, YEAR_1), (2, YEAR_9999)):
        await write(env, "UPDATE progress SET done_at = :at WHERE guild_id = :g AND user_id = :u AND step = :s",
                    {"at": done_at, "g": world.guild.id, "u": world.alice.id, "s": step},
                    bindparam("at", type_=Instant))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
async def test_progress_with_done_dates_in_year_1_and_9999(env: simcord.Env, world: World, bad_dates: None,
                                                           zone: str) -> None:
    """Streaks, pace and the chart of a member whose zone is behind (New York) or ahead of UTC (Tokyo)."""
    await write(env, "INSERT INTO guild_settings (guild_id, timezone) VALUES (:g, :z)",
                {"g": world.guild.id, "z": zone})
    mine = await world.alice.slash(world.channel, "progress")
    text = embed_text(mine)
    assert "**4/80** steps done" in text
    assert "Streak" in text
    theirs = await world.bob.slash(world.channel, "progress", member=world.alice)
    assert "**4/80** steps done" in embed_text(theirs)
    bob = await world.bob.slash(world.channel, "progress")
    assert "**2/80** steps done" in embed_text(bob)


async def test_leaderboards_with_done_dates_in_year_1_and_9999(env: simcord.Env, world: World,
                                                               bad_dates: None) -> None:
    for period in ("all", "week", "month"):
        for member in (world.alice, world.bob):
            result = await member.slash(world.channel, "leaderboard", period=period)
            assert result.response is not None, period
            assert result.response.embeds, period


async def test_the_zone_changes_with_a_year_1_done_date(env: simcord.Env, world: World, bad_dates: None) -> None:
    """Before the fix the rebuild raised after the zone was saved, and every later try raised again."""
    admin = add_admin(env, world)
    await env.settle()
    for zone in ("America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        result = await admin.slash(world.channel, "config timezone", timezone=zone)
        assert result.ephemeral
        assert result.response.content.startswith(f"✅ The server's time zone is now `{zone}`")
    result = await world.alice.slash(world.channel, "progress")
    assert "**4/80** steps done" in embed_text(result)


@pytest.mark.parametrize(("start", "pace"), [
    ("2026-01-05", 0.0001), ("9999-12-25", 5.0), ("0001-01-01", 0.0001), ("2026-01-05", 1e308),
    ("2026-01-05", float("inf")), ("2026-01-05", float("nan")), ("2026-01-05", -2.0), ("not a date", 5.0),
])
async def test_a_stored_cohort_out_of_bounds_breaks_no_command(env: simcord.Env, world: World,
                                                               start: str, pace: float) -> None:
    admin = add_admin(env, world)
    await env.settle()
    await seed_done(env, world, world.alice, range(1, 4))
    sqlite = bot_of(env).db.dialect == "sqlite"
    if not sqlite and start == "not a date":
        pytest.skip("PostgreSQL's DATE column cannot hold it")
    await write(env, "INSERT INTO community_settings (guild_id, cohort_start, cohort_pace) VALUES (:g, :s, :p)",
                {"g": world.guild.id, "s": start if sqlite else date.fromisoformat(start), "p": pace})
    for member in (world.alice, world.bob):
        result = await member.slash(world.channel, "progress")
        assert result.response is not None
        assert result.response.embeds
    shown = await admin.slash(world.channel, "config show")
    assert shown.ephemeral
    assert "Cohort" in embed_text(shown)
    # and the admin can replace it with a sane one
    fixed = await admin.slash(world.channel, "config cohort", start="2026-01-05", pace=5)
    assert fixed.response.content.startswith("✅ Cohort from 2026-01-05")

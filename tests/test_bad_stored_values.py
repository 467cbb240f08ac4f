"""What an old database already holds must not break anyone's command: done dates in year 1 or 9999, a cohort
with a tiny pace or a start far in the future (both got in before the bounds at the edges existed).

The rows are written straight into the bot's real SQLite file with the standard library's sqlite3 (as an old
version of the bot left them), then members and an admin run their commands in SimCord. Before the fix,
/progress (streaks, the cohort's end), /config show and /config timezone raised OverflowError.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import simcord

from bot.domain.progress import Status
from db.progress import StepChange, apply_changes
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.helpers import embed_text

START = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock starts here
YEAR_1 = "0001-01-01T00:00:00.000000+00:00"
YEAR_9999 = "9999-12-31T23:59:59.000000+00:00"


def write(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """One statement on the bot's database file through a second, plain sqlite3 connection."""
    with sqlite3.connect(db_path, timeout=10) as conn:
        conn.execute(sql, params)
    conn.close()


async def seed_done(env: simcord.Env, world: World, member: simcord.MemberActor, steps: range) -> None:
    changes = [StepChange(n, Status.DONE, done_at=START - timedelta(days=len(steps) - i)) for i, n in
               enumerate(steps)]
    await apply_changes(bot_of(env).db, world.guild.id, member.id, changes, START, default_tz=bot_of(env).settings.tz)


@pytest.fixture
async def bad_dates(env: simcord.Env, world: World, db_path: Path) -> None:
    """alice has a step done in year 1 and one in year 9999 (as an old import stored them); bob is ordinary."""
    await seed_done(env, world, world.alice, range(1, 5))
    await seed_done(env, world, world.bob, range(1, 3))
    write(db_path, "UPDATE progress SET done_at = ? WHERE guild_id = ? AND user_id = ? AND step = 1",
          (YEAR_1, world.guild.id, world.alice.id))
    write(db_path, "UPDATE progress SET done_at = ? WHERE guild_id = ? AND user_id = ? AND step = 2",
          (YEAR_9999, world.guild.id, world.alice.id))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
async def test_progress_with_done_dates_in_year_1_and_9999(env: simcord.Env, world: World, bad_dates: None,
                                                           db_path: Path, zone: str) -> None:
    """Streaks, pace and the chart of a member whose zone is behind (New York) or ahead of UTC (Tokyo)."""
    write(db_path, "INSERT INTO guild_settings (guild_id, timezone) VALUES (?, ?)", (world.guild.id, zone))
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
async def test_a_stored_cohort_out_of_bounds_breaks_no_command(env: simcord.Env, world: World, db_path: Path,
                                                               start: str, pace: float) -> None:
    admin = add_admin(env, world)
    await env.settle()
    await seed_done(env, world, world.alice, range(1, 4))
    write(db_path, "INSERT INTO community_settings (guild_id, cohort_start, cohort_pace) VALUES (?, ?, ?)",
          (world.guild.id, start, pace))
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

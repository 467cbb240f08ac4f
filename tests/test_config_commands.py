"""/config as admins (and non-admins) use it: permissions, every subcommand, wrong values, /config show."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest
import simcord
from discord import app_commands

from db.community import get_settings
from db.settings import get_guild_timezone
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.helpers import assert_user_error, embed_text

SUBCOMMANDS = ["config leaderboard", "config timezone", "config milestones", "config milestone-role",
               "config cohort", "config show"]


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("command", SUBCOMMANDS)
async def test_config_is_hidden_from_members_without_manage_server(world: World, command: str) -> None:
    assert "config show" not in world.alice.available_commands(world.channel)
    with pytest.raises(simcord.SetupError):
        await world.alice.slash(world.channel, command)


async def test_admins_see_every_config_command(admin: simcord.MemberActor, world: World) -> None:
    available = admin.available_commands(world.channel)
    assert set(SUBCOMMANDS) <= set(available)


async def test_run_time_check_refuses_a_member_let_in_by_a_command_override(env: simcord.Env, world: World) -> None:
    """A server can let a member see /config (an override); the permission is still checked when it runs."""
    commands = await bot_of(env).tree.fetch_commands()
    config = next(c for c in commands if c.name == "config")
    world.guild.set_command_permissions(config, {world.alice: True})
    result = await world.alice.slash(world.channel, "config timezone", timezone="Europe/Berlin")
    assert result.ephemeral
    assert result.response.content == "You need the Manage Server permission to use this command."
    simcord.assert_error(env, app_commands.MissingPermissions)
    assert (await get_guild_timezone(bot_of(env).db, world.guild.id, bot_of(env).settings.tz)).key == "UTC"


# ---------------------------------------------------------------- /config timezone


async def test_timezone_is_saved_and_autocompleted(env: simcord.Env, world: World,
                                                   admin: simcord.MemberActor) -> None:
    choices = await admin.autocomplete(world.channel, "config timezone", "timezone", "auckl")
    assert [c["value"] for c in choices] == ["Pacific/Auckland"]
    result = await admin.slash(world.channel, "config timezone", timezone="pacific/auckland")
    assert result.ephemeral
    assert result.response.content.startswith("✅ The server's time zone is now `Pacific/Auckland` (it is 13:00")
    assert (await get_guild_timezone(bot_of(env).db, world.guild.id, bot_of(env).settings.tz)).key == \
        "Pacific/Auckland"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "CEST", "", "Europe/"])
async def test_unknown_timezones_are_refused(env: simcord.Env, world: World, admin: simcord.MemberActor,
                                             zone: str) -> None:
    result = await admin.slash(world.channel, "config timezone", timezone=zone)
    assert_user_error(env, result, "is not a time zone I know", "Europe/Berlin")


# ---------------------------------------------------------------- /config leaderboard


async def test_leaderboard_schedule_is_saved_with_its_first_slot(env: simcord.Env, world: World,
                                                                 admin: simcord.MemberActor) -> None:
    await admin.slash(world.channel, "config timezone", timezone="Pacific/Auckland")
    result = await admin.slash(world.channel, "config leaderboard", channel=world.channel, schedule="weekly",
                               time="09:00", weekday="mon")
    assert result.ephemeral
    first = datetime(2026, 1, 4, 20, 0, tzinfo=UTC)  # Monday 5 January 09:00 in Auckland (UTC+13)
    assert result.response.content == (
        f"✅ I will post the leaderboard in {world.channel.mention} weekly on Mon at 09:00 (Pacific/Auckland). "
        f"First post: {discord.utils.format_dt(first, 'F')}.")
    saved = await get_settings(bot_of(env).db, world.guild.id)
    assert (saved.leaderboard_channel, saved.next_slot, saved.schedule.describe()) == \
        (world.channel.id, first, "weekly on Mon at 09:00")
    off = await admin.slash(world.channel, "config leaderboard", channel=world.channel, schedule="off")
    assert off.response.content == "Scheduled leaderboard posts are off."
    assert (await get_settings(bot_of(env).db, world.guild.id)).next_slot is None


async def test_a_channel_the_bot_cannot_post_in_is_saved_with_a_warning(env: simcord.Env, world: World,
                                                                        admin: simcord.MemberActor) -> None:
    me = world.guild.me
    assert me is not None
    locked = world.guild.create_text_channel("locked", overwrites={me: discord.PermissionOverwrite(
        send_messages=False)})
    result = await admin.slash(world.channel, "config leaderboard", channel=locked, schedule="daily", time="18:00")
    assert "⚠️ I can't post there yet: I need Send Messages" in result.response.content


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"schedule": "daily"}, ("needs a time of day", "`time:18:00`")),
        ({"schedule": "daily", "time": "24:00"}, ("not a valid time", "00–23")),
        ({"schedule": "daily", "time": "noon"}, ("not a time of day", "HH:MM")),
        ({"schedule": "weekly", "time": "09:00"}, ("needs a day", "`weekday:mon`")),
        ({"schedule": "daily", "time": "09:00", "weekday": "tue"}, ("only applies to weekly",)),
    ],
)
async def test_bad_leaderboard_schedules_change_nothing(env: simcord.Env, world: World, admin: simcord.MemberActor,
                                                        options: dict[str, str], fragments: tuple[str, ...]) -> None:
    result = await admin.slash(world.channel, "config leaderboard", channel=world.channel, **options)
    assert_user_error(env, result, *fragments)
    assert (await get_settings(bot_of(env).db, world.guild.id)).schedule.kind == "off"


# ---------------------------------------------------------------- /config milestones and milestone-role


async def test_milestones_channel_and_roles(env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    result = await admin.slash(world.channel, "config milestones", channel=world.channel)
    assert result.response.content == f"✅ Completed phases and finished plans will be announced in " \
                                      f"{world.channel.mention}."
    role = world.guild.create_role("Phase 1 done")
    given = await admin.slash(world.channel, "config milestone-role", phase=1, role=role)
    assert given.response.content == f"✅ Members get {role.mention} for completing phase 1."
    whole = world.guild.create_role("Graduate")
    await admin.slash(world.channel, "config milestone-role", phase=0, role=whole)
    saved = await get_settings(bot_of(env).db, world.guild.id)
    assert (saved.milestones_channel, saved.roles) == (world.channel.id, {0: whole.id, 1: role.id})
    removed = await admin.slash(world.channel, "config milestone-role", phase=1)
    assert removed.response.content == "No role is given for completing phase 1 any more."
    stopped = await admin.slash(world.channel, "config milestones")
    assert stopped.response.content == "Milestones are no longer announced."
    saved = await get_settings(bot_of(env).db, world.guild.id)
    assert (saved.milestones_channel, saved.roles) == (None, {0: whole.id})


async def test_a_role_above_the_bot_is_saved_with_a_warning(env: simcord.Env, world: World,
                                                            admin: simcord.MemberActor) -> None:
    high = world.guild.create_role("Council", position=50)
    result = await admin.slash(world.channel, "config milestone-role", phase=2, role=high)
    assert "is not below my highest role" in result.response.content


@pytest.mark.parametrize("phase", [-1, 20, 99])
async def test_phases_outside_the_plan_are_refused(env: simcord.Env, world: World, admin: simcord.MemberActor,
                                                   phase: int) -> None:
    role = world.guild.create_role("Some role")
    result = await admin.slash(world.channel, "config milestone-role", phase=phase, role=role)
    assert_user_error(env, result, f"There is no phase {phase}", "from 1 to 19", "0 means")
    assert (await get_settings(bot_of(env).db, world.guild.id)).roles == {}


async def test_everyone_cannot_be_a_milestone_role(env: simcord.Env, world: World,
                                                   admin: simcord.MemberActor) -> None:
    result = await admin.slash(world.channel, "config milestone-role", phase=1, role=world.guild.default_role)
    assert_user_error(env, result, "I can't give", "Pick a role you created")


# ---------------------------------------------------------------- /config cohort


async def test_cohort_is_saved_and_removed(env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    result = await admin.slash(world.channel, "config cohort", start="2026-01-05", pace=5)
    assert result.response.content == ("✅ Cohort from 2026-01-05 at 5 steps a week: all 80 steps by 2026-04-27. "
                                       "`/progress` now tells each member whether they are on pace.")
    cohort = (await get_settings(bot_of(env).db, world.guild.id)).cohort
    assert cohort is not None
    assert (cohort.start.isoformat(), cohort.pace) == ("2026-01-05", 5.0)
    await admin.slash(world.channel, "config cohort", start="off")
    assert (await get_settings(bot_of(env).db, world.guild.id)).cohort is None


@pytest.mark.parametrize(
    ("start", "pace", "fragment"),
    [("2026-02-30", 5, "is not a date"), ("05/01/2026", 5, "YYYY-MM-DD"),
     ("2026-01-05", 200, "more than the whole plan"),
     ("2026-01-05", 0.15, "would take 10 years; a cohort must finish within 10 years. Use a pace of at least 0.16"),
     ("9999-12-25", 5, "A cohort can start from 2000-01-01 to a year from today (2027-01-02), not on 9999-12-25"),
     ("2027-01-03", 5, "not on 2027-01-03"), ("1999-12-31", 5, "can start from 2000-01-01"),
     ("0001-01-01", 5, "can start from 2000-01-01")],
)
async def test_bad_cohorts_are_refused(env: simcord.Env, world: World, admin: simcord.MemberActor, start: str,
                                       pace: float, fragment: str) -> None:
    """Before the bounds, start:9999-12-25 was stored, the admin saw "Something went wrong", and /progress then
    failed for every member."""
    result = await admin.slash(world.channel, "config cohort", start=start, pace=pace)
    assert_user_error(env, result, fragment)
    assert (await get_settings(bot_of(env).db, world.guild.id)).cohort is None
    mine = await world.alice.slash(world.channel, "progress")
    assert mine.response is not None
    assert mine.response.embeds


@pytest.mark.parametrize("pace", [0, -3, 0.0001, 0.09, 1000.5, 1e9])
async def test_paces_outside_the_typed_range_cannot_be_sent(env: simcord.Env, world: World,
                                                            admin: simcord.MemberActor, pace: float) -> None:
    """`pace` is typed 0.1-1000 (Discord's client refuses other numbers); before, pace:0.0001 was stored."""
    with pytest.raises(simcord.OptionError):
        await admin.slash(world.channel, "config cohort", start="2026-01-05", pace=pace)
    assert (await get_settings(bot_of(env).db, world.guild.id)).cohort is None


async def test_a_cohort_start_a_year_ahead_in_the_server_zone(env: simcord.Env, world: World,
                                                             admin: simcord.MemberActor) -> None:
    """The start's bound counts from today in the server's zone: still 2025-12-31 in Pago Pago (UTC-11)."""
    accepted = await admin.slash(world.channel, "config cohort", start="2027-01-02", pace=80)
    assert accepted.response.content.startswith("✅ Cohort from 2027-01-02 at 80 steps a week: all 80 steps by "
                                                "2027-01-09")
    await admin.slash(world.channel, "config timezone", timezone="Pacific/Pago_Pago")
    refused = await admin.slash(world.channel, "config cohort", start="2027-01-02", pace=80)
    assert_user_error(env, refused, "to a year from today (2027-01-01), not on 2027-01-02")
    cohort = (await get_settings(bot_of(env).db, world.guild.id)).cohort
    assert cohort is not None
    assert cohort.start.isoformat() == "2027-01-02"


# ---------------------------------------------------------------- /config show


async def test_show_lists_every_setting(env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    empty = await admin.slash(world.channel, "config show")
    assert empty.ephemeral
    text = embed_text(empty)
    assert "`UTC`" in text
    assert "no channel · off" in text
    assert "Last failures\nnone" in text
    role = world.guild.create_role("Graduate")
    await admin.slash(world.channel, "config timezone", timezone="Europe/Berlin")
    await admin.slash(world.channel, "config leaderboard", channel=world.channel, schedule="daily", time="18:30")
    await admin.slash(world.channel, "config milestones", channel=world.channel)
    await admin.slash(world.channel, "config milestone-role", phase=0, role=role)
    await admin.slash(world.channel, "config cohort", start="2025-12-25", pace=7)
    text = embed_text(await admin.slash(world.channel, "config show"))
    assert "`Europe/Berlin`" in text
    assert f"{world.channel.mention} · daily at 18:30 (server time)" in text
    assert f"Whole plan: {role.mention}" in text
    assert "Started 2025-12-25 at 7 steps a week" in text
    assert "Expected by today: 7 steps." in text

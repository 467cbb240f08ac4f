"""/remind set, off, status and the reminder DM with its buttons, as members see them (SimCord)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import discord
import pytest
import simcord

from bot.domain.progress import Status
from bot.domain.reminders import Schedule
from bot.ui.reminders import reminder_buttons
from db import reminders as store
from db.progress import StepChange, apply_changes, load_member
from db.settings import member_timezone, set_guild_timezone
from tests.conftest import World
from tests.helpers import assert_user_error, bot_of, dms, embed_text, labels, message_text, tick


class Clock:
    """A clock the test moves by hand: what the bot reads as bot.clock()."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]




async def with_clock(env: simcord.Env, now: datetime) -> Clock:
    """Restart the bot on a clock the test controls (same database, same virtual world)."""
    clock = Clock(now)
    await env.restart_bot(env.make_bot(clock=clock))  # type: ignore[attr-defined]
    return clock










# ---------------------------------------------------------------- /remind set

async def test_set_says_when_the_next_reminder_comes_in_local_time_and_as_a_timestamp(env: simcord.Env,
                                                                                      world: World) -> None:
    result = await world.alice.slash(world.channel, "remind set", time="09:00", timezone="Europe/Berlin")
    assert result.ephemeral
    text = embed_text(result)
    assert "09:00** (Europe/Berlin), **every day**" in text
    due = utc(2026, 1, 1, 8)  # SimCord starts at 2026-01-01T00:00Z; 09:00 in Berlin is 08:00Z in winter
    assert "Thu 1 Jan, 09:00 (Europe/Berlin)" in text
    assert discord.utils.format_dt(due, "F") in text
    assert discord.utils.format_dt(due, "R") in text
    bot = bot_of(env)
    assert (await member_timezone(bot.db, world.guild.id, world.alice.id, bot.settings.tz)).key == "Europe/Berlin"
    reminder = await store.get_reminder(bot.db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.next_due == due


async def test_set_defaults_to_the_servers_time_zone_and_takes_days(env: simcord.Env, world: World) -> None:
    await set_guild_timezone(bot_of(env).db, world.guild.id, "America/New_York")
    result = await world.alice.slash(world.channel, "remind set", time="7:30", days="weekdays")
    text = embed_text(result)
    assert "07:30** (America/New_York), **weekdays**" in text
    assert "Thu 1 Jan, 07:30 (America/New_York)" in text  # 1 January 2026 is a Thursday


async def test_setting_again_replaces_the_reminder(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00")
    result = await world.alice.slash(world.channel, "remind set", time="18:30", timezone="Asia/Tokyo", days="sat,sun")
    assert "18:30** (Asia/Tokyo), **weekends**" in embed_text(result)
    assert "Sat 3 Jan, 18:30 (Asia/Tokyo)" in embed_text(result)


@pytest.mark.parametrize(("options", "fragments"), [
    ({"time": "25:00"}, ("`25:00` is not a valid time", "21:45")),
    ({"time": "9"}, ("`9` is not a time of day", "`09:00`")),
    ({"time": "noon"}, ("`noon` is not a time of day", "`18:30`")),
    ({"time": "09:00", "timezone": "Mars/Olympus"}, ("`Mars/Olympus` is not a time zone", "Europe/Berlin")),
    ({"time": "09:00", "timezone": "Berlin"}, ("`Berlin` is not a time zone", "Europe/Berlin")),
    ({"time": "09:00", "days": "someday"}, ("`someday` is not a day", "mon,wed,fri")),
])
async def test_bad_input_is_a_clear_ephemeral_error_and_writes_nothing(env: simcord.Env, world: World,
                                                                        options: dict[str, str],
                                                                        fragments: tuple[str, ...]) -> None:
    result = await world.alice.slash(world.channel, "remind set", **options)
    assert_user_error(env, result, *fragments)
    bot = bot_of(env)
    assert await store.get_reminder(bot.db, world.guild.id, world.alice.id) is None
    assert await member_timezone(bot.db, world.guild.id, world.alice.id, bot.settings.tz) == bot.settings.tz


async def test_autocomplete_offers_zones_times_and_days(world: World) -> None:
    zones = await world.alice.autocomplete(world.channel, "remind set", "timezone", "berl", time="09:00")
    assert zones[0] == {"name": "Europe/Berlin", "value": "Europe/Berlin"}
    times = await world.alice.autocomplete(world.channel, "remind set", "time", "9")
    assert [c["value"] for c in times][:3] == ["09:00", "09:05", "09:10"]
    days = await world.alice.autocomplete(world.channel, "remind set", "days", "week", time="09:00")
    assert [c["value"] for c in days] == ["weekdays", "weekends"]


async def test_remind_is_for_servers_not_dms(env: simcord.Env, world: World) -> None:
    assert not any(name.startswith("remind") for name in world.alice.user.available_commands())


# ---------------------------------------------------------------- /remind status and off

async def test_status_without_a_reminder_explains_how_to_get_one(world: World) -> None:
    result = await world.alice.slash(world.channel, "remind status")
    assert result.ephemeral
    assert "No reminder yet" in embed_text(result)
    assert "/remind set time:09:00" in embed_text(result)


async def test_status_then_off_then_status(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="20:00", timezone="UTC", days="mon,wed,fri")
    status = await world.alice.slash(world.channel, "remind status")
    text = embed_text(status)
    assert "Daily reminder on" in text
    assert "Fri 2 Jan, 20:00 (UTC)" in text
    assert discord.utils.format_dt(utc(2026, 1, 2, 20), "F") in text
    off = await world.alice.slash(world.channel, "remind off")
    assert off.ephemeral
    assert "Reminders are off" in embed_text(off)
    assert "/remind set time:20:00 timezone:UTC" in embed_text(off)
    assert "Reminders are off" in embed_text(await world.alice.slash(world.channel, "remind status"))
    await tick(env, utc(2026, 1, 2, 20))
    assert dms(world.alice) == []


def hint_options(text: str) -> dict[str, str]:
    """The options of the `/remind set ...` command a reply suggests, as a member would type them."""
    match = re.search(r"`/remind set ([^`]*)`", text)
    assert match, f"no /remind set hint in {text!r}"
    return dict(option.split(":", 1) for option in match[1].split())


async def assert_hint_restores(env: simcord.Env, world: World, text: str, before: Schedule) -> None:
    """Running the hinted command as written gives back the same schedule (time, zone and days)."""
    await world.alice.slash(world.channel, "remind set", **hint_options(text))
    after = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert after is not None
    assert (after.schedule.at, after.schedule.tz.key, after.schedule.days) == (before.at, before.tz.key, before.days)


@pytest.mark.parametrize("days", [None, "mon-thu", "weekdays", "weekends", "sat,sun", "tue", "fri-mon",
                                  "mon tue wed thu fri sat"])
async def test_the_turn_back_on_hint_after_off_restores_the_same_days(env: simcord.Env, world: World,
                                                                       days: str | None) -> None:
    """Failed before the fix: the hint left out `days:`, so running it gave every day."""
    options = {"time": "07:45", "timezone": "Europe/Berlin"} | ({"days": days} if days else {})
    await world.alice.slash(world.channel, "remind set", **options)
    before = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert before is not None
    off = await world.alice.slash(world.channel, "remind off")
    await assert_hint_restores(env, world, embed_text(off), before.schedule)
    await world.alice.slash(world.channel, "remind off")
    status = await world.alice.slash(world.channel, "remind status")
    await assert_hint_restores(env, world, embed_text(status), before.schedule)


async def test_the_stop_buttons_hint_restores_the_same_days(env: simcord.Env, world: World) -> None:
    """Failed before the fix: the Stop button's hint gave every day for a mon-thu reminder."""
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC", days="mon-thu")
    before = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert before is not None
    await tick(env, utc(2026, 1, 1, 9))  # a Thursday
    await world.alice.user.click(dms(world.alice)[-1], label="Stop reminders")
    stopped = message_text(dms(world.alice)[-1])
    assert "Reminders stopped" in stopped
    await assert_hint_restores(env, world, stopped, before.schedule)


async def test_off_without_a_reminder_is_a_clear_error(env: simcord.Env, world: World) -> None:
    result = await world.alice.slash(world.channel, "remind off")
    assert_user_error(env, result, "no reminder in this server", "/remind set time:09:00")


# ---------------------------------------------------------------- the DM

async def test_the_dm_names_the_server_the_next_step_progress_and_streak(env: simcord.Env, world: World) -> None:
    clock = await with_clock(env, utc(2026, 1, 20, 12))
    bot = bot_of(env)
    # Steps 1-12 done on consecutive days up to yesterday (Berlin), step 13 in progress.
    changes = [StepChange(n, Status.DONE, done_at=utc(2026, 1, 9, 12) + timedelta(days=n - 1)) for n in range(1, 13)]
    await apply_changes(bot.db, world.guild.id, world.alice.id, [*changes, StepChange(13, Status.IN_PROGRESS)],
                        clock.now, default_tz=bot.settings.tz)
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="Europe/Berlin")
    await tick(env, utc(2026, 1, 21, 8))
    [dm] = dms(world.alice)
    text = message_text(dm)
    assert "daily study reminder for **Study Hall**" in dm.content
    assert dm.embeds[0].title == f"Next up: step 13. {bot.plan.step(13).title}"
    assert bot.plan.step(13).exercise in text
    assert "12/80" in text
    assert "🔥 12 days" in text
    assert labels(dm) == ["Mark done", "Snooze 1 h", "Skip today", "Stop reminders"]


async def test_a_member_who_finished_the_plan_is_congratulated(env: simcord.Env, world: World) -> None:
    bot = bot_of(env)
    await apply_changes(bot.db, world.guild.id, world.alice.id,
                        [StepChange(n, Status.DONE) for n in range(1, 81)], bot.clock(), default_tz=bot.settings.tz)
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 9))
    [dm] = dms(world.alice)
    assert "finished all 80 steps" in message_text(dm)
    assert labels(dm) == ["Snooze 1 h", "Skip today", "Stop reminders"]


async def test_server_names_are_shown_as_text(env: simcord.Env) -> None:
    guild = env.create_guild("**Bold** @everyone")
    channel = guild.create_text_channel("study")
    member = guild.add_member(env.create_user("zoe"))
    await env.settle()
    await member.slash(channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 9))
    [dm] = dms(member)
    assert "\\*\\*Bold\\*\\*" in dm.content
    assert "@\u200beveryone" in dm.content


async def test_one_dm_a_day_at_the_chosen_time_and_the_dm_channel_is_opened_once(env: simcord.Env,
                                                                                   world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC", days="weekdays")
    for day in range(1, 8):  # Thu 1 .. Wed 7 January: ticks every 30 min
        for half_hour in range(48):
            await bot_of(env).run_scheduled(utc(2026, 1, day) + timedelta(minutes=30 * half_hour))
    await env.settle()
    sent = [m.created_at.date() for m in dms(world.alice)]
    assert len(sent) == 5  # Thu, Fri, Mon, Tue, Wed: not the weekend
    opened = [r for r in env.http_requests if r.method == "POST" and r.path == "/users/@me/channels"]
    assert len(opened) == 1


async def test_a_restart_between_two_ticks_of_the_same_minute_sends_once(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 9, 0, 0))
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await tick(env, utc(2026, 1, 1, 9, 0, 30))
    await tick(env, utc(2026, 1, 1, 9, 0, 0))  # the same instant again
    assert len(dms(world.alice)) == 1
    await tick(env, utc(2026, 1, 2, 9, 0, 10))
    assert len(dms(world.alice)) == 2


async def test_three_days_of_downtime_send_todays_reminder_once_late_and_never_a_burst(env: simcord.Env,
                                                                                        world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await world.bob.slash(world.channel, "remind set", time="02:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 9))  # alice's first reminder (bob's 02:00 is 7 h old: skipped), then 3 days down
    assert len(dms(world.alice)) == 1
    assert dms(world.bob) == []
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await tick(env, utc(2026, 1, 4, 11))  # back on Sunday 11:00: alice's 09:00 is 2 h late, bob's 02:00 is 9 h
    await tick(env, utc(2026, 1, 4, 11, 0, 30))
    alice = dms(world.alice)
    assert len(alice) == 2
    assert "a little late: I was offline at 09:00" in alice[-1].content
    assert dms(world.bob) == []  # too late to be useful; tomorrow's comes on time
    await tick(env, utc(2026, 1, 5, 2))
    assert len(dms(world.bob)) == 1
    assert "daily study reminder" in dms(world.bob)[0].content


@pytest.mark.parametrize(("zone", "at", "ticks", "expected"), [
    # Spring forward: 02:30 does not exist that night; it fires once at the first valid instant after (03:00).
    ("Europe/Berlin", time(2, 30), [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30)],
     [utc(2026, 3, 29, 1, 0)]),
    ("America/New_York", time(2, 30), [utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30)],
     [utc(2026, 3, 8, 7, 0)]),
    # Fall back: 02:30 (Berlin) / 01:30 (New York) happens twice; it fires once, at the first.
    ("Europe/Berlin", time(2, 30), [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)], [utc(2026, 10, 25, 0, 30)]),
    ("America/New_York", time(1, 30), [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)], [utc(2026, 11, 1, 5, 30)]),
    # An ordinary time on the change day is at its usual local time, with the new offset.
    ("Europe/Berlin", time(9, 0), [utc(2026, 3, 29, 7, 0), utc(2026, 3, 29, 8, 0)], [utc(2026, 3, 29, 7, 0)]),
    ("America/New_York", time(9, 0), [utc(2026, 11, 1, 13, 0), utc(2026, 11, 1, 14, 0)], [utc(2026, 11, 1, 14, 0)]),
])
async def test_dst_days(env: simcord.Env, world: World, zone: str, at: time, ticks: list[datetime],
                        expected: list[datetime]) -> None:
    day_before = ticks[0] - timedelta(hours=20)
    clock = await with_clock(env, day_before)
    await world.alice.slash(world.channel, "remind set", time=f"{at:%H:%M}", timezone=zone)
    sent_at: list[datetime] = []
    for instant in [*ticks, *ticks]:  # every tick twice: re-runs must not add anything
        clock.now = instant
        before = len(dms(world.alice))
        await tick(env, instant)
        sent_at += [instant] * (len(dms(world.alice)) - before)
    assert sent_at == expected


async def test_a_big_tick_is_paced_at_40_dms_a_second(env: simcord.Env) -> None:
    guild = env.create_guild("Busy")
    channel = guild.create_text_channel("study")
    members = [guild.add_member(env.create_user(f"p{i}")) for i in range(50)]
    await env.settle()
    for member in members:
        await member.slash(channel, "remind set", time="09:00", timezone="UTC")
        await bot_of(env).create_dm(discord.Object(member.id))  # DM channels known: one request per reminder
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tick(env, utc(2026, 1, 1, 9))
    assert loop.time() - started >= 0.99  # 40 went at once; the other 10 waited for the window to move
    assert all(len(dms(member)) == 1 for member in members)
    recent = bot_of(env).get_cog("Reminders").window.recent  # type: ignore[union-attr]
    assert all(later - earlier >= 0.99 for earlier, later in zip(recent, recent[40:], strict=False))


# ---------------------------------------------------------------- failures

async def test_closed_dms_pause_the_reminder_status_says_why_and_the_next_command_explains_once(
        env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    env.inject_error("POST", f"/channels/{world.alice.user.dm_channel.id}/messages", status=403, code=50007,
                     message="Cannot send messages to this user", times=None)
    await tick(env, utc(2026, 1, 1, 9))
    await tick(env, utc(2026, 1, 2, 9))
    sends = [r for r in env.http_requests if r.method == "POST" and r.path.endswith("/messages")
             and r.path.startswith(f"/channels/{world.alice.user.dm_channel.id}")]
    assert len(sends) == 1  # paused after the first refusal: no retry every tick
    reminder = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.paused is not None
    assert reminder.schedule.at == time(9)  # kept, not deleted
    status = embed_text(await world.alice.slash(world.channel, "remind status"))
    assert "Reminders paused" in status
    assert "do not accept DMs" in status
    assert "Privacy Settings" in status
    used = await world.alice.slash(world.channel, "plan next")
    assert used.response.embeds[0].title.startswith("Your next step")  # the command itself answered as usual
    [note] = used.followups
    assert note.flags.ephemeral
    assert "reminders in Study Hall are paused" in note.content
    assert "/remind set time:09:00 timezone:UTC" in note.content
    again = await world.alice.slash(world.channel, "plan next")
    assert again.followups == []  # told once
    other = await world.bob.slash(world.channel, "plan next")
    assert other.followups == []
    resumed = await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    assert "Daily reminder set" in embed_text(resumed)
    assert "Daily reminder on" in embed_text(await world.alice.slash(world.channel, "remind status"))


async def test_other_http_failures_are_retried_next_tick_without_duplicates(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await world.bob.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 8))  # nothing due; nothing sent
    env.inject_error("POST", f"/channels/{world.alice.user.dm_channel.id}/messages", status=500, times=1)
    # Open alice's DM channel first so the injected error hits her message.
    await bot_of(env).create_dm(discord.Object(world.alice.id))
    await tick(env, utc(2026, 1, 1, 9))
    assert dms(world.alice) == []
    assert len(dms(world.bob)) == 1
    await tick(env, utc(2026, 1, 1, 9, 0, 30))
    await tick(env, utc(2026, 1, 1, 9, 1))
    assert len(dms(world.alice)) == 1
    assert len(dms(world.bob)) == 1


# ---------------------------------------------------------------- buttons

async def delivered(env: simcord.Env, world: World) -> discord.Message:
    """Alice's reminder DM of Thursday 1 January, 09:00 UTC."""
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, utc(2026, 1, 1, 9))
    return dms(world.alice)[-1]


async def test_mark_done_after_a_restart_marks_the_step_and_tells_listeners(env: simcord.Env, world: World) -> None:
    dm = await delivered(env, world)
    new_bot = env.make_bot()  # type: ignore[attr-defined]
    events: list[tuple[int, int, Any]] = []

    async def on_progress_changed(guild_id: int, user_id: int, result: Any) -> None:
        events.append((guild_id, user_id, result))

    new_bot.add_listener(on_progress_changed)
    await env.restart_bot(new_bot)
    result = await world.alice.user.click(dm, label="Mark done")
    member = await load_member(new_bot.db, world.guild.id, world.alice.id)
    assert member.done == {1}
    [(guild_id, user_id, change)] = events
    assert (guild_id, user_id, change.changed) == (world.guild.id, world.alice.id, (1,))
    edited = world.alice.user.dm_channel.history()[-1]
    assert "Step 1 marked done" in message_text(edited)
    assert "Next up: **2." in message_text(edited)
    assert labels(edited) == []
    assert result.acknowledged
    again = await world.alice.user.click(await delivered_again(env, world), label="Mark done")
    assert again.acknowledged
    assert "was already done" in message_text(world.alice.user.dm_channel.history()[-1])
    assert len(events) == 1


async def delivered_again(env: simcord.Env, world: World) -> discord.Message:
    """A second copy of the first DM's buttons (step 1, 1 January), as a member might have it."""
    channel = bot_of(env).get_partial_messageable(world.alice.user.dm_channel.id, type=discord.ChannelType.private)
    await channel.send("copy", view=reminder_buttons(world.guild.id, world.alice.id, 1, date(2026, 1, 1)))
    await env.settle()
    return dms(world.alice)[-1]


async def test_snooze_after_a_restart_sends_the_reminder_again_an_hour_later(env: simcord.Env,
                                                                             world: World) -> None:
    clock = await with_clock(env, utc(2026, 1, 1, 8))
    dm = await delivered(env, world)
    clock = await with_clock(env, utc(2026, 1, 1, 9, 10))
    await world.alice.user.click(dm, label="Snooze 1 h")
    edited = dms(world.alice)[-1]
    assert "Snoozed" in message_text(edited)
    assert discord.utils.format_dt(utc(2026, 1, 1, 10, 10), "R") in message_text(edited)
    assert labels(edited) == []
    assert "snoozed reminder" in embed_text(await world.alice.slash(world.channel, "remind status"))
    await tick(env, utc(2026, 1, 1, 10))
    assert len(dms(world.alice)) == 1
    clock.now = utc(2026, 1, 1, 10, 10)
    await tick(env, clock.now)
    await tick(env, utc(2026, 1, 1, 10, 10, 30))
    again = dms(world.alice)
    assert len(again) == 2
    assert "Snoozed reminder for **Study Hall**" in again[-1].content
    assert labels(again[-1]) == ["Mark done", "Snooze 1 h", "Skip today", "Stop reminders"]
    await tick(env, utc(2026, 1, 2, 9))
    assert len(dms(world.alice)) == 3  # the next day as usual


async def test_skip_today_after_a_restart_drops_a_pending_snooze(env: simcord.Env, world: World) -> None:
    clock = await with_clock(env, utc(2026, 1, 1, 8))
    dm = await delivered(env, world)
    clock.now = utc(2026, 1, 1, 9, 5)
    await world.alice.user.click(dm, label="Snooze 1 h")
    copy = await delivered_again(env, world)
    await env.restart_bot(env.make_bot(clock=clock))  # type: ignore[attr-defined]
    await world.alice.user.click(copy, label="Skip today")
    edited = dms(world.alice)[-1]
    assert "Skipping today" in message_text(edited)
    assert discord.utils.format_dt(utc(2026, 1, 2, 9), "F") in message_text(edited)
    await tick(env, utc(2026, 1, 1, 10, 5))
    assert len(dms(world.alice)) == 2  # the reminder and the copy; no snoozed one
    await tick(env, utc(2026, 1, 2, 9))
    assert len(dms(world.alice)) == 3


async def test_stop_after_a_restart_turns_reminders_off(env: simcord.Env, world: World) -> None:
    dm = await delivered(env, world)
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    await world.alice.user.click(dm, label="Stop reminders")
    edited = dms(world.alice)[-1]
    assert "Reminders stopped" in message_text(edited)
    assert "/remind set time:09:00 timezone:UTC" in message_text(edited)
    assert labels(edited) == []
    await tick(env, utc(2026, 1, 2, 9))
    assert len(dms(world.alice)) == 1
    assert "Reminders are off" in embed_text(await world.alice.slash(world.channel, "remind status"))


async def test_snooze_or_skip_on_an_old_reminder_says_so(env: simcord.Env, world: World) -> None:
    clock = await with_clock(env, utc(2026, 1, 1, 8))
    dm = await delivered(env, world)
    clock.now = utc(2026, 1, 2, 12)
    await world.alice.user.click(dm, label="Snooze 1 h")
    assert "was for Thu 1 Jan, not today" in message_text(dms(world.alice)[-1])
    reminder = await store.get_reminder(bot_of(env).db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.snooze_until is None


@pytest.mark.parametrize("label", ["Mark done", "Snooze 1 h", "Skip today", "Stop reminders"])
async def test_buttons_pressed_by_someone_else_are_refused_politely(env: simcord.Env, world: World,
                                                                    label: str) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await world.bob.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    # A message in bob's DMs carrying alice's buttons (a forwarded copy): bob presses one.
    channel = bot_of(env).get_partial_messageable(world.bob.user.dm_channel.id, type=discord.ChannelType.private)
    await channel.send("copy", view=reminder_buttons(world.guild.id, world.alice.id, 1, date(2026, 1, 1)))
    await env.settle()
    result = await world.bob.user.click(dms(world.bob)[-1], label=label)
    assert result.ephemeral
    assert "belongs to someone else" in result.response.content
    bot = bot_of(env)
    assert (await load_member(bot.db, world.guild.id, world.alice.id)).done == frozenset()
    reminder = await store.get_reminder(bot.db, world.guild.id, world.alice.id)
    assert reminder is not None
    assert reminder.active
    assert reminder.snooze_until is None
    assert labels(dms(world.bob)[-1]) == ["Mark done", "Snooze 1 h", "Skip today", "Stop reminders"]


async def test_help_lists_the_remind_commands(world: World) -> None:
    result = await world.alice.slash(world.channel, "help")
    text = embed_text(result)
    assert "/remind set" in text
    assert "/remind status" in text


async def test_reminders_stop_when_the_bot_leaves_the_server(env: simcord.Env, world: World) -> None:
    other = env.create_guild("Other Hall")
    other_channel = other.create_text_channel("study")
    carol = other.add_member(env.create_user("carol"))
    await env.settle()
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await carol.slash(other_channel, "remind set", time="09:00", timezone="UTC")
    env.backend.remove_guild(world.guild.id)  # the bot is kicked from Study Hall (GUILD_DELETE)
    await env.settle()
    await tick(env, utc(2026, 1, 1, 9, 0, 10))
    assert dms(world.alice) == []  # no reminder naming a server the bot is no longer in
    assert len(dms(carol)) == 1  # other servers' reminders go on
    stored = await bot_of(env).db.fetchone(
        "SELECT enabled, next_due_utc, local_time FROM reminders WHERE guild_id = :g AND user_id = :u",
        {"g": world.guild.id, "u": world.alice.id})
    assert (stored[0], stored[1], stored[2]) == (0, None, "09:00")  # stopped, setting kept

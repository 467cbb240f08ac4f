"""A simulated year of ticks for 500 members with random times, days and zones (SimCord, real DMs).

The expected reminder instants come from a brute-force oracle written here, independent of bot.timeutil:
for each chosen local day, the earliest UTC instant at which the member's wall clock shows their time, or,
on a spring-forward day when that time does not exist, the first instant after it. The bot is ticked at
every such instant (some twice), at random other instants, and restarted once mid-year; every member must
get exactly the expected DMs: one on each chosen local day, at the right instant, none on other days.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import simcord

from bot.app import StepwiseBot
from bot.reminders import SendWindow, format_days
from tests.helpers import embed_text

ZONES = ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "America/Sao_Paulo",
         "America/St_Johns", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Australia/Sydney",
         "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham"]
DAY_CHOICES = ["daily", "weekdays", "weekends", "mon,wed,fri", "tue,thu", "sun", "mon-thu", "fri,sat,sun"]
START = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock when the members run /remind set
END = datetime(2027, 1, 1, tzinfo=UTC)
MEMBERS = 500


def offsets(tz: ZoneInfo) -> set[timedelta]:
    found: set[timedelta] = set()
    instant = START - timedelta(days=2)
    while instant < END + timedelta(days=2):
        offset = instant.astimezone(tz).utcoffset()
        assert offset is not None
        found.add(offset)
        instant += timedelta(hours=1)
    return found


def oracle(day: date, at: time, tz: ZoneInfo, tz_offsets: set[timedelta]) -> datetime:
    """When the member's clock shows `at` on `day` (first occurrence), or first instant after it in a gap."""
    wall = datetime.combine(day, at)
    hits = [(wall - off).replace(tzinfo=UTC) for off in tz_offsets]
    real = [u for u in hits if u.astimezone(tz).replace(tzinfo=None) == wall]
    if real:
        return min(real)
    probe = min(hits)
    while probe.astimezone(tz).replace(tzinfo=None) <= wall:
        probe += timedelta(minutes=1)
    return probe


def unpaced(bot: StepwiseBot) -> StepwiseBot:
    """A year passes in seconds of real time here: lift the real-time limit of 40 DMs a second.

    Pacing itself is tested in test_reminders_cog.py; this test is about which DMs go out when.
    """
    bot.get_cog("Reminders").window = SendWindow(rate=10**9)  # type: ignore[union-attr]
    return bot


def parse_choice(choice: str) -> set[int]:
    return {"daily": set(range(7)), "weekdays": set(range(5)), "weekends": {5, 6}, "mon,wed,fri": {0, 2, 4},
            "tue,thu": {1, 3}, "sun": {6}, "mon-thu": {0, 1, 2, 3}, "fri,sat,sun": {4, 5, 6}}[choice]


async def test_a_year_of_ticks_for_500_members(env: simcord.Env) -> None:
    rng = random.Random(20260101)
    guild = env.create_guild("Study Hall")
    channel = guild.create_text_channel("study")
    members = [guild.add_member(env.create_user(f"m{i}")) for i in range(MEMBERS)]
    await env.settle()

    expected: dict[int, list[datetime]] = {}
    offsets_of = {name: offsets(ZoneInfo(name)) for name in ZONES}
    for member in members:
        zone = rng.choice(ZONES)
        # Mostly random minutes; some members on the DST-critical hours (gaps and folds).
        hour = rng.choice([1, 2, 2, 3]) if rng.random() < 0.25 else rng.randrange(24)
        at = time(hour, rng.randrange(60))
        choice = rng.choice(DAY_CHOICES)
        result = await member.slash(channel, "remind set", time=f"{at:%H:%M}", timezone=zone, days=choice)
        assert format_days(frozenset(parse_choice(choice))) in embed_text(result)
        tz = ZoneInfo(zone)
        instants = []
        day = START.astimezone(tz).date() - timedelta(days=1)
        while day <= END.astimezone(tz).date():
            if day.weekday() in parse_choice(choice):
                instant = oracle(day, at, tz, offsets_of[zone])
                if START < instant <= END:
                    instants.append(instant)
            day += timedelta(days=1)
        expected[member.id] = instants

    due_ticks = sorted({i for instants in expected.values() for i in instants})
    extra = [START + timedelta(seconds=rng.randrange(int((END - START).total_seconds()))) for _ in range(3000)]
    repeats = rng.sample(due_ticks, 2000)
    ticks = sorted([*due_ticks, *extra, *repeats])
    restart_at = len(ticks) // 2

    channel_owner: dict[int, int] = {}
    sent: dict[int, list[datetime]] = defaultdict(list)
    seen_requests = 0
    bot = unpaced(env.bot)  # type: ignore[arg-type]
    for index, instant in enumerate(ticks):
        if index == restart_at:
            await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
            bot = unpaced(env.bot)  # type: ignore[arg-type]
        await bot.run_scheduled(instant)
        requests = env.http_requests
        for request in requests[seen_requests:]:
            if request.method == "POST" and request.path == "/users/@me/channels":
                continue
            if request.method == "POST" and request.path.startswith("/channels/") and request.path.endswith(
                    "/messages"):
                channel_id = int(request.path.split("/")[2])
                sent[channel_id].append(instant)
        seen_requests = len(requests)
        if index % 2000 == 0:
            await env.settle()
    await env.settle()

    for member in members:
        channel_owner[member.user.dm_channel.id] = member.id
    assert set(sent) <= set(channel_owner), "a DM went to a channel that is no member's"
    wrong = {member.id: (len(sent[member.user.dm_channel.id]), len(expected[member.id]))
             for member in members if sent[member.user.dm_channel.id] != expected[member.id]}
    assert not wrong, f"{len(wrong)} members got other DMs than expected (sent, expected): {list(wrong.items())[:5]}"
    total = sum(len(v) for v in expected.values())
    assert total > MEMBERS * 150  # the test really covered a year of reminders

    # A sample of real DMs: each names the server and shows the member's step and buttons.
    for member in rng.sample(members, 5):
        history = member.user.dm_channel.history()
        assert len(history) == len(expected[member.id])
        last = history[-1]
        assert "Study Hall" in last.content
        assert last.embeds[0].title.startswith("Next up: step 1.")
        assert len(last.components[0].children) == 4  # type: ignore[attr-defined]

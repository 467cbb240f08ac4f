"""A simulated year of ticks for 500 members with random times, days and zones (SimCord, real bot, real DB).

The expected reminder instants come from a brute-force oracle written here, independent of bot.timeutil:
for each chosen local day, the earliest UTC instant at which the member's wall clock shows their time, or,
on a spring-forward day when that time does not exist, the first instant after it. The bot is ticked at
every such instant (some twice), at random other instants, and restarted once mid-year; every member must
get exactly the expected DMs: one on each chosen local day, at the right instant, none on other days.

Speed: SimCord's cost per stored DM (about 1.5 ms, and a heap that grows with every message) made this test
take 3 minutes. So a random sample of members get real DMs through SimCord (counted from the HTTP log, with
a look at their content); for everyone else the bot's DM channel is replaced at the Discord boundary by a
channel that records what was sent and when. The bot's own code path (due query, planning, rendering, send,
record) is the same for both; the year's DMs for all 500 are checked against the oracle, and the last
days' sent-records in the database against the DMs seen.

Mutation checks (each made this test fail when tried): a steady-day shortcut in bot.timeutil that ignores DST
switches (500 members got other DMs); record_tick not advancing the due instant (tried with 50 members: 2,252
DMs instead of 365, as every later tick sent again; at 500 members that mutant runs for many minutes).
"""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import simcord

from bot.app import StepwiseBot
from bot.domain.reminders import SendWindow, format_days
from db.reminders import SENT_RECORD_DAYS
from tests.helpers import embed_text

ZONES = ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "America/Sao_Paulo",
         "America/St_Johns", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Australia/Sydney",
         "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham"]
DAY_CHOICES = ["daily", "weekdays", "weekends", "mon,wed,fri", "tue,thu", "sun", "mon-thu", "fri,sat,sun"]
START = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock when the members run /remind set
END = datetime(2027, 1, 1, tzinfo=UTC)
MEMBERS = 500
REAL_DMS = 40  # members whose DMs really go through SimCord


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


class RecordingChannel:
    """Stands in for a DM channel at the Discord boundary: records each send at the current tick."""

    def __init__(self, channel_id: int, log: dict[int, list[datetime]], clock: list[datetime]) -> None:
        self.id = channel_id
        self._log = log
        self._clock = clock

    async def send(self, content: str, *, embed: Any, view: Any, nonce: str) -> Any:
        assert content
        assert 0 < len(nonce) <= 25
        assert embed.title
        assert len(view.children) == 4
        self._log[self.id].append(self._clock[0])
        return SimpleNamespace(id=len(self._log[self.id]))


def deliver(bot: StepwiseBot, real: set[int], log: dict[int, list[datetime]], clock: list[datetime]) -> StepwiseBot:
    """DMs to channels in `real` go through SimCord; the others to a RecordingChannel (see the module doc)."""
    original = bot.get_partial_messageable

    def channel(channel_id: int, **kwargs: Any) -> Any:
        return original(channel_id, **kwargs) if channel_id in real else RecordingChannel(channel_id, log, clock)

    bot.get_partial_messageable = channel  # type: ignore[method-assign]
    return bot


def parse_choice(choice: str) -> set[int]:
    return {"daily": set(range(7)), "weekdays": set(range(5)), "weekends": {5, 6}, "mon,wed,fri": {0, 2, 4},
            "tue,thu": {1, 3}, "sun": {6}, "mon-thu": {0, 1, 2, 3}, "fri,sat,sun": {4, 5, 6}}[choice]


@pytest.mark.slow
async def test_a_year_of_ticks_for_500_members(env: simcord.Env) -> None:
    rng = random.Random(20260101)
    guild = env.create_guild("Study Hall")
    channel = guild.create_text_channel("study")
    members = [guild.add_member(env.create_user(f"m{i}")) for i in range(MEMBERS)]
    await env.settle()

    expected: dict[int, list[datetime]] = {}
    offsets_of = {name: offsets(ZoneInfo(name)) for name in ZONES}
    member_zones: list[str] = []
    for member in members:
        zone = rng.choice(ZONES)
        member_zones.append(zone)
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

    sampled = rng.sample(members, REAL_DMS)
    real_channels = {member.user.dm_channel.id for member in sampled}
    recorded: dict[int, list[datetime]] = defaultdict(list)
    clock = [START]
    sent: dict[int, list[datetime]] = defaultdict(list)
    seen_requests = 0
    bot = deliver(unpaced(env.bot), real_channels, recorded, clock)  # type: ignore[arg-type]
    for index, instant in enumerate(ticks):
        if index == restart_at:
            await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
            bot = deliver(unpaced(env.bot), real_channels, recorded, clock)  # type: ignore[arg-type]
        clock[0] = instant
        await bot.run_scheduled(instant)
        requests = env.http_requests
        for request in requests[seen_requests:]:
            if request.method == "POST" and request.path.startswith("/channels/") and request.path.endswith(
                    "/messages"):
                sent[int(request.path.split("/")[2])].append(instant)
        seen_requests = len(requests)
        if index % 2000 == 0:
            await env.settle()
    await env.settle()

    assert set(sent) <= real_channels, "a DM went through SimCord to a channel outside the sample"
    assert not set(recorded) & real_channels, "a sampled member's DM bypassed SimCord"
    for channel_id, instants in recorded.items():
        sent[channel_id].extend(instants)
    channel_owner = {member.user.dm_channel.id: member.id for member in members}
    assert set(sent) <= set(channel_owner), "a DM went to a channel that is no member's"
    wrong = {member.id: (len(sent[member.user.dm_channel.id]), len(expected[member.id]))
             for member in members if sent[member.user.dm_channel.id] != expected[member.id]}
    assert not wrong, f"{len(wrong)} members got other DMs than expected (sent, expected): {list(wrong.items())[:5]}"
    total = sum(len(v) for v in expected.values())
    assert total > MEMBERS * 150  # the test really covered a year of reminders
    assert sum(len(sent[channel_id]) for channel_id in real_channels) > REAL_DMS * 150

    # The sent-records left after pruning: one per member and local day that got its DM in the last days.
    rows = await bot.db.fetchall("SELECT user_id, local_date FROM reminder_sends WHERE outcome = 'sent'")
    stored = {(row[0], str(row[1])) for row in rows}  # SQLite: the stored text; PostgreSQL: a date
    zones = {member.id: ZoneInfo(z) for member, z in zip(members, member_zones, strict=True)}
    kept_since = END - timedelta(days=SENT_RECORD_DAYS - 1)
    shown = {(member.id, i.astimezone(zones[member.id]).date().isoformat())
             for member in members for i in expected[member.id] if i >= kept_since}
    assert shown <= stored, f"DMs without a sent-record: {sorted(shown - stored)[:5]}"
    assert len(stored) == len(rows) >= len(shown) > MEMBERS * 10

    # A sample of real DMs: each names the server and shows the member's step and buttons.
    for member in sampled[:5]:
        history = member.user.dm_channel.history()
        assert len(history) == len(expected[member.id])
        last = history[-1]
        assert "Study Hall" in last.content
        assert last.embeds[0].title.startswith("Next up: step 1.")
        assert len(last.components[0].children) == 4  # type: ignore[attr-defined]

"""The reminder tick (bot/services/reminders.py) without SimCord: a fake of the Discord boundary, a real database
(a SQLite file, and PostgreSQL: the `db_url` fixture runs each test on both engines).

The fake behaves like Discord with `enforce_nonce`: a second send with a nonce it has seen returns the first
message instead of creating another. Each scenario here failed on the old tick (cogs/reminders.py `run_due`),
which sent a chunk and only then recorded it: these are the repeats of issue 8, section 1.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import bindparam, text

from bot.config import Settings
from bot.domain.plan import Plan
from bot.domain.reminders import DeliveryKind, PauseReason, Schedule, SendWindow, delivery_nonce
from bot.domain.sharding import Ownership
from bot.services.reminders import DmsClosed, ReminderDispatcher, ReminderMessage, Unbuildable
from db import reminders as store
from db.database import Database, from_db
from db.types import Instant
from tests.store_faults import refuse_writes

G = 7
ALICE, BOB, CAROL, DAVE = 101, 102, 103, 104
T9 = datetime(2026, 1, 1, 9, tzinfo=UTC)
SET_AT = datetime(2026, 1, 1, 8, tzinfo=UTC)


def guild_on(shard: int, count: int) -> int:
    """A server id on `shard` of `count` (Discord's rule: (id >> 22) % count)."""
    return ((count + shard) << 22) | 0x3FFFFF


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Sent:
    user_id: int
    nonce: str
    kind: DeliveryKind
    message_id: int
    guild_id: int = G
    for_date: object = None


@dataclass
class FakeDiscord:
    """The Discord boundary, faked: DMs by nonce (enforce_nonce), members, and faults to inject."""

    members: set[tuple[int, int]] = field(default_factory=set)
    faults: dict[int, BaseException] = field(default_factory=dict)  # user -> raised by their next send
    before_send: Callable[[int], object] | None = None
    messages: list[Sent] = field(default_factory=list)  # DMs that exist
    attempts: list[tuple[int, str]] = field(default_factory=list)  # every send request: (user, nonce)
    checks: list[int] = field(default_factory=list)

    async def open_dm(self, user_id: int) -> int:
        return 9_000 + user_id

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        assert channel_id == 9_000 + message.user_id
        self.attempts.append((message.user_id, nonce))
        if self.before_send is not None:
            result = self.before_send(message.user_id)
            if asyncio.iscoroutine(result):
                await result
        fault = self.faults.pop(message.user_id, None)
        if fault is not None:
            raise fault
        for existing in self.messages:
            if existing.nonce == nonce:
                return existing.message_id  # Discord with enforce_nonce: the message it already created
        self.messages.append(Sent(message.user_id, nonce, message.kind, len(self.messages) + 1, message.guild_id,
                                  message.for_date))
        return len(self.messages)

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        self.checks.append(user_id)
        return (guild_id, user_id) in self.members

    def dms(self, user_id: int) -> list[Sent]:
        return [m for m in self.messages if m.user_id == user_id]


@dataclass
class ProcessView:
    """One bot process's sender: the same Discord, counting what this process sent."""

    discord: FakeDiscord
    sent: int = 0

    async def open_dm(self, user_id: int) -> int:
        return await self.discord.open_dm(user_id)

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        self.sent += 1
        return await self.discord.send_dm(channel_id, message, nonce)

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        return await self.discord.is_member(guild_id, user_id)


@pytest.fixture
def plan() -> Plan:
    """The bundled plan (not through the `settings` fixture: that one is per behaviour engine, and these store
    tests already run once per engine through db_url)."""
    return Settings(_env_file=None, discord_token=None).load_plan()  # type: ignore[call-arg]


def dispatcher(db: Database, plan: Plan, discord: FakeDiscord, **kwargs: object) -> ReminderDispatcher:
    return ReminderDispatcher(db, plan, discord, window=SendWindow(rate=10**9), **kwargs)  # type: ignore[arg-type]


async def remind(db: Database, discord: FakeDiscord, *users: int, at: time = time(9), zone: str = "UTC",
                 now: datetime = SET_AT) -> None:
    for user in users:
        await store.set_reminder(db, G, user, Schedule(at, ZoneInfo(zone)), now)
        discord.members.add((G, user))


READ_ONLY = r"read-?only"  # SQLite: "attempt to write a readonly database"; PostgreSQL: "read-only transaction"


async def read_only(db: Database, on: bool = True) -> None:
    """A real refusal: the database fails every write (tests/store_faults.py, on either engine)."""
    await refuse_writes(db, on)


async def test_a_database_that_refuses_writes_sends_nothing_then_each_dm_once(db: Database, plan: Plan,
                                                                              caplog: pytest.LogCaptureFixture
                                                                              ) -> None:
    """Before: alice and bob got a DM every tick (6 in 3 minutes) because nothing could be recorded."""
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB)
    tick = dispatcher(db, plan, discord)
    await read_only(db)
    with caplog.at_level(logging.ERROR):
        for seconds in range(0, 181, 30):
            with pytest.raises(Exception, match=READ_ONLY):
                await tick.run_due(T9 + timedelta(seconds=seconds))
    assert discord.attempts == []  # nothing claimed, nothing sent
    await read_only(db, on=False)
    for seconds in range(210, 400, 30):
        await tick.run_due(T9 + timedelta(seconds=seconds))
    assert [len(discord.dms(u)) for u in (ALICE, BOB)] == [1, 1]
    assert len(discord.attempts) == 2
    [row] = await store.deliveries_of(db, G, ALICE)
    assert (row["state"], row["slot"], row["local_date"]) == ("sent", "day", "2026-01-01")


async def test_a_crash_between_send_and_record_resends_after_the_grace_period_with_the_same_nonce(
        db: Database, plan: Plan) -> None:
    """Before: the next tick, 30 s later, sent the same DMs again (a new message each time)."""
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB)
    discord.before_send = lambda _user: read_only(db)  # the disk fills while the DMs are out
    with pytest.raises(Exception, match=READ_ONLY):
        await dispatcher(db, plan, discord).run_due(T9)
    first = list(discord.attempts)
    assert sorted(u for u, _ in first) == [ALICE, BOB]
    [row] = await store.deliveries_of(db, G, ALICE)
    assert row["state"] == "claimed"  # committed before the send; its result could not be recorded
    discord.before_send = None
    await read_only(db, on=False)
    restarted = dispatcher(db, plan, discord)  # as after a crash and restart
    for seconds in (30, 60, 90):  # within the 2-minute grace: the claim may still be in flight
        await restarted.run_due(T9 + timedelta(seconds=seconds))
    assert discord.attempts == first
    await restarted.run_due(T9 + timedelta(seconds=150))
    again = discord.attempts[len(first):]
    assert sorted(again) == sorted(first)  # sent again, with the very same nonces
    assert [len(discord.dms(u)) for u in (ALICE, BOB)] == [1, 1]  # Discord returned the first message
    [row] = await store.deliveries_of(db, G, ALICE)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    for seconds in (180, 210, 3600):
        await restarted.run_due(T9 + timedelta(seconds=seconds))
    assert len(discord.attempts) == 4


async def test_one_members_failure_never_aborts_or_repeats_anyone_elses_dm(db: Database, plan: Plan,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Before: a non-HTTP exception aborted the chunk's gather: nothing recorded, everyone re-sent every tick."""
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB, CAROL, DAVE)
    discord.faults[ALICE] = aiohttp.ClientOSError(104, "Connection reset by peer")
    discord.faults[BOB] = TimeoutError()
    tick = dispatcher(db, plan, discord)
    with caplog.at_level(logging.WARNING, logger="bot.services.reminders"):
        await tick.run_due(T9)
    assert [len(discord.dms(u)) for u in (ALICE, BOB, CAROL, DAVE)] == [0, 0, 1, 1]
    logged = [r.getMessage() for r in caplog.records]
    assert any(f"member {ALICE} in guild {G}" in m and "ClientOSError" in m for m in logged)
    assert any(f"member {BOB} in guild {G}" in m and "TimeoutError" in m for m in logged)
    for seconds in range(30, 200, 30):
        await tick.run_due(T9 + timedelta(seconds=seconds))
    assert [len(discord.dms(u)) for u in (ALICE, BOB, CAROL, DAVE)] == [1, 1, 1, 1]
    nonces = {u: {n for a, n in discord.attempts if a == u} for u in (ALICE, BOB)}
    assert all(len(n) == 1 for n in nonces.values())  # the retry carried the same nonce
    assert len(discord.attempts) == 6
    assert all(m.kind is DeliveryKind.DAILY for m in discord.messages)  # the bot was online: not "late"


async def test_a_member_whose_dm_cannot_be_built_is_paused_and_the_others_get_theirs(
        db: Database, plan: Plan, caplog: pytest.LogCaptureFixture) -> None:
    """Before: an exception while building one member's DM aborted the chunk; bob and carol got a DM every tick."""
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB, CAROL, zone="America/New_York", at=time(4))
    discord.faults[ALICE] = Unbuildable("embed field too long")  # what the renderer raises for alice's data
    tick = dispatcher(db, plan, discord)
    with caplog.at_level(logging.ERROR, logger="bot.services.reminders"):
        for seconds in range(0, 200, 30):
            await tick.run_due(T9 + timedelta(seconds=seconds))
    assert [len(discord.dms(u)) for u in (ALICE, BOB, CAROL)] == [0, 1, 1]
    assert any(f"member {ALICE} in guild {G}" in r.getMessage() for r in caplog.records)
    reminder = await store.get_reminder(db, G, ALICE)
    assert reminder is not None
    assert reminder.paused is PauseReason.UNREADABLE
    assert reminder.schedule.at == time(4)  # kept
    [row] = await store.deliveries_of(db, G, ALICE)
    assert row["state"] == "failed"
    assert "embed field too long" in str(row["reason"])


async def store_odd_done_at(db: Database, done_at: str) -> None:
    """What an old import could store as alice's step-1 done date: SQLite keeps the text as it is; PostgreSQL
    (timestamptz) can only hold the instants among them (the odd years), so the others are SQLite's case alone."""
    insert = text("INSERT INTO progress (guild_id, user_id, step, status, updated_at, done_at) "
                  "VALUES (:g, :u, 1, 'done', :at, :done)").bindparams(bindparam("at", type_=Instant))
    value: object = done_at
    if db.dialect == "postgresql":
        try:
            instant = from_db(done_at)
        except ValueError:
            pytest.skip("PostgreSQL's timestamptz cannot hold this text")
        if instant.tzinfo is None:
            pytest.skip("PostgreSQL's timestamptz cannot hold an instant without an offset")
        value = instant
        insert = insert.bindparams(bindparam("done", type_=Instant))
    async with db.transaction() as conn:
        await conn.execute(insert, {"g": G, "u": ALICE, "at": utc(2026, 1, 1), "done": value})


@pytest.mark.parametrize("done_at", ["0001-01-01T00:00:00.000000+00:00", "9999-12-31T23:59:59.000000+00:00",
                                     "not a date", "2026-01-01T00:00:00"])
async def test_odd_stored_dates_neither_break_nor_repeat_anyones_reminder(db: Database, plan: Plan,
                                                                          done_at: str) -> None:
    """Before: a year-1 done date made streaks() raise, a garbage one made the chunk's progress read raise;
    bob and carol got a DM every tick. Now the odd date is left out and everyone gets one DM."""
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB, CAROL, zone="America/New_York", at=time(4))
    await store_odd_done_at(db, done_at)
    tick = dispatcher(db, plan, discord)
    for seconds in range(0, 200, 30):
        await tick.run_due(T9 + timedelta(seconds=seconds))
    assert [len(discord.dms(u)) for u in (ALICE, BOB, CAROL)] == [1, 1, 1]
    assert discord.dms(ALICE)[0].kind is DeliveryKind.DAILY
    reminder = await store.get_reminder(db, G, ALICE)
    assert reminder is not None
    assert reminder.paused is None


async def test_closed_dms_pause_and_other_reminders_go_on(db: Database, plan: Plan) -> None:
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB)
    discord.faults[ALICE] = DmsClosed("50007")
    await dispatcher(db, plan, discord).run_due(T9)
    reminder = await store.get_reminder(db, G, ALICE)
    assert reminder is not None
    assert reminder.paused is PauseReason.DMS_CLOSED
    assert len(discord.dms(BOB)) == 1


async def test_every_due_reminder_goes_out_in_the_tick_however_many_batches(db: Database, plan: Plan) -> None:
    """Before: a tick read one batch (5,000) and left the rest for later ticks, whose DMs then said "late"."""
    discord = FakeDiscord()
    users = list(range(1_000, 1_130))
    await remind(db, discord, *users)
    await dispatcher(db, plan, discord, batch=50).run_due(T9)  # 130 due, read 50 at a time
    assert sorted(m.user_id for m in discord.messages) == users
    assert all(m.kind is DeliveryKind.DAILY for m in discord.messages)


async def test_late_is_said_only_after_real_downtime(db: Database, plan: Plan) -> None:
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB, at=time(9))
    discord.faults[ALICE] = TimeoutError()  # alice's DM waits for a retry, the bot stays online
    online = dispatcher(db, plan, discord)
    await online.run_due(utc(2026, 1, 1, 8, 59, 30))
    for seconds in range(0, 9 * 60, 30):  # it ticks every 30 s; alice's retry succeeds at 09:00:30
        await online.run_due(T9 + timedelta(seconds=seconds))
    assert [m.kind for m in discord.messages] == [DeliveryKind.DAILY, DeliveryKind.DAILY]
    # The bot goes down after the 09:08:30 tick and comes back at 11:00 (a new process): that DM is late.
    back = dispatcher(db, plan, discord)
    await back.run_due(utc(2026, 1, 2, 11))
    assert [m.kind for m in discord.messages][-2:] == [DeliveryKind.LATE, DeliveryKind.LATE]
    # A stretch without ticks in the same process counts as downtime too.
    await back.run_due(utc(2026, 1, 3, 11))
    assert [m.kind for m in discord.messages][-2:] == [DeliveryKind.LATE, DeliveryKind.LATE]


async def test_membership_is_checked_at_most_once_a_week_and_a_member_who_left_is_paused(
        db: Database, plan: Plan) -> None:
    discord = FakeDiscord()
    await remind(db, discord, ALICE, BOB)  # /remind set: they are members now
    tick = dispatcher(db, plan, discord)
    for day in range(1, 16):
        await tick.run_due(utc(2026, 1, day, 9))
        if day == 10:
            discord.members.discard((G, ALICE))  # alice leaves the server
    assert discord.checks == [ALICE, BOB, ALICE, BOB]  # day 8 (a week after /remind set), then day 15
    assert len(discord.dms(BOB)) == 15
    assert len(discord.dms(ALICE)) == 14  # 1-14: the weekly check on day 15 found she had left
    reminder = await store.get_reminder(db, G, ALICE)
    assert reminder is not None
    assert reminder.paused is PauseReason.LEFT_SERVER
    assert reminder.schedule.at == time(9)  # settings kept
    await store.set_reminder(db, G, ALICE, reminder.schedule, utc(2026, 1, 15, 12))  # back: /remind set resumes
    discord.members.add((G, ALICE))
    await tick.run_due(utc(2026, 1, 16, 9))
    assert len(discord.dms(ALICE)) == 15


async def test_stop_claims_nothing_more_and_what_was_claimed_is_recorded(db: Database, plan: Plan) -> None:
    discord = FakeDiscord()
    users = list(range(2_000, 2_100))
    await remind(db, discord, *users)
    tick = dispatcher(db, plan, discord, chunk=10)

    def stop_after_first(_user: int) -> None:
        tick.stop()

    discord.before_send = stop_after_first
    await tick.run_due(T9)
    assert len(discord.messages) == 10  # the claimed chunk went out
    sent = {m.user_id for m in discord.messages}
    rows = await db.fetchall("SELECT user_id, state FROM reminder_deliveries")
    assert {(r[0], r[1]) for r in rows} == {(u, "sent") for u in sent}  # recorded; nothing else claimed
    discord.before_send = None
    await dispatcher(db, plan, discord).run_due(T9 + timedelta(seconds=30))  # after a restart
    assert sorted(m.user_id for m in discord.messages) == users


def test_the_nonce_is_the_same_for_a_delivery_and_different_for_others() -> None:
    day = datetime(2026, 1, 1, tzinfo=UTC).date()
    nonce = delivery_nonce(G, ALICE, day, "day")
    assert len(nonce) <= 25
    assert nonce == delivery_nonce(G, ALICE, day, "day")
    others = {delivery_nonce(G, BOB, day, "day"), delivery_nonce(G + 1, ALICE, day, "day"),
              delivery_nonce(G, ALICE, day + timedelta(days=1), "day"),
              delivery_nonce(G, ALICE, day, "snooze 2026-01-01T10:10:00+00:00")}
    assert nonce not in others
    assert len(others) == 4


def test_the_dispatcher_imports_no_discord() -> None:
    """The tick is a use case behind a Sender protocol: importing it loads no discord module."""
    code = "import sys, bot.services.reminders; print(any(m.split('.')[0] == 'discord' for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("shards", ["both own every server", "disjoint", "overlapping"])
async def test_two_processes_ticking_the_same_instants_send_each_member_one_dm_a_day(
        db_url: str, plan: Plan, shards: str) -> None:
    """Two stores on one database (two bot processes: each its own engine and connections), ticking the same
    instants concurrently for 300 members in three servers over three days, with their writes interleaved.
    Every member gets exactly one DM a day, and no DM is even requested twice. On PostgreSQL the claims race for
    real (no process lock): the delivery's primary key and `FOR UPDATE SKIP LOCKED` decide; on SQLite the file
    lock makes writers take turns."""
    guilds = [guild_on(shard, 4) for shard in range(3)]  # servers on shards 0, 1 and 2 of 4
    ownership = {"both own every server": (Ownership.everything(), Ownership.everything()),
                 "disjoint": (Ownership(4, (0, 1)), Ownership(4, (2, 3))),
                 "overlapping": (Ownership(4, (0, 1, 2)), Ownership(4, (1, 2, 3)))}[shards]
    first, second = Database(db_url), Database(db_url)
    await first.open()
    await first.migrate()
    await second.open()
    try:
        discord = FakeDiscord()
        users = {guild: list(range(10_000 * (n + 1), 10_000 * (n + 1) + 100)) for n, guild in enumerate(guilds)}
        for guild, members in users.items():
            for user in members:
                await store.set_reminder(first, guild, user, Schedule(time(9), ZoneInfo("UTC")), SET_AT)
                discord.members.add((guild, user))

        async def interleave(_user: int) -> None:
            await asyncio.sleep(0)  # every DM is a moment in which the other process runs

        discord.before_send = interleave
        views = [ProcessView(discord), ProcessView(discord)]  # which process sent what
        ticks = [dispatcher(db, plan, view, chunk=20, batch=120, ownership=owned)  # type: ignore[arg-type]
                 for db, view, owned in zip((first, second), views, ownership, strict=True)]
        for day in (1, 2, 3):
            for seconds in (0, 0, 30):  # twice at the same instant, then the next tick
                now = utc(2026, 1, day, 9) + timedelta(seconds=seconds)
                await asyncio.gather(*(tick.run_due(now) for tick in ticks))
        everyone = [(guild, user) for guild, members in users.items() for user in members]
        per_day = Counter((m.guild_id, m.user_id, m.for_date) for m in discord.messages)
        assert sorted(per_day) == sorted((g, u, utc(2026, 1, day).date()) for g, u in everyone for day in (1, 2, 3))
        assert set(per_day.values()) == {1}
        assert len(discord.attempts) == len(discord.messages) == 900  # nothing requested twice
        if shards == "both own every server":
            assert all(view.sent for view in views)  # both really took part: the claims decided between them
        rows = await first.fetchall("SELECT state, COUNT(*) FROM reminder_deliveries GROUP BY state")
        assert [tuple(r) for r in rows] == [("sent", 900)]
        sent = await first.fetchall("SELECT COUNT(*) FROM reminder_sends WHERE outcome = 'sent'")
        assert sent[0][0] == 900
    finally:
        await second.close()
        await first.close()


def test_the_dispatcher_paces_at_its_processes_share_of_the_shards(db: Database, plan: Plan) -> None:
    half = ReminderDispatcher(db, plan, FakeDiscord(), ownership=Ownership(8, (0, 1, 2, 3)))  # type: ignore[arg-type]
    whole = ReminderDispatcher(db, plan, FakeDiscord())  # type: ignore[arg-type]
    assert (half.window.rate, whole.window.rate) == (20, 40)

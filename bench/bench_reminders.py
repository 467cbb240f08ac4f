"""Reminders at scale: 100,000 members with a daily reminder.

1. The tick's database work when 1,000 are due (target: at most 5 ms): the due query, loading the due
   members' progress, and recording the results, on a real SQLite file, beside one trivial query.
2. The bot's resident memory with those 100,000 reminders against an empty bot (target: at most 60 MB more),
   each measured in a fresh process.
3. The bot-side cost per reminder delivered through SimCord, beside a trivial command (/help), and the
   longest event-loop stall during a 1,000-reminder tick.
4. Shards: the due query over 100,000 reminders in 2,000 servers, for a process that owns every shard and for
   processes that own some (the SQL shard filter), with its query plan. Alone: `python -m bench.bench_reminders
   shards`.
5. Two processes on one PostgreSQL database (real OS processes, tests/shard_worker.py: each its own interpreter,
   store and shard range, Discord faked at the sender): 200,000 reminders in 2,000 servers, 2,000 of them due
   within one minute, ticked at the instants the 30-second job would tick them, both processes told each instant
   at the same moment. Counted: duplicates (none allowed), each process's share, the fan-out time unpaced (what
   the processes can do) and with their real pacing, against the floor of Discord's 50 requests a second (one
   bot token's global limit, shared by all of its processes). STEPWISE_BENCH_PROCESS_REMINDERS sets the size.
   Alone: `python -m bench.bench_reminders processes`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, insert, text, update

from bench.common import print_table, timed
from bot.config import Settings
from bot.domain.reminders import DeliveryKind, SendWindow, delivery_nonce, plan_delivery
from bot.domain.sharding import Ownership, shard_of
from bot.services.reminders import CHUNK, CLAIM_GRACE
from db import reminders as store
from db import tables
from db.database import Database

MEMBERS = 100_000
DUE = 1_000
GUILD = 1
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the tick under test
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata"]


async def populate(url: str | Path, members: int, due: int, first_user: int = 10_000,
                   guilds: Sequence[int] = (GUILD,)) -> None:
    """`members` reminders (and some progress) straight into the store (a SQLite file or a PostgreSQL database);
    `due` of them due at T, the rest later today. Member i is in server guilds[i % len(guilds)] (one server unless
    told). Core inserts with lists of parameter dicts (executemany), in batches."""
    db = Database(url)
    await db.open()
    await db.migrate()
    rng = random.Random(7)
    stamp = T - timedelta(days=30)
    member_rows: list[dict[str, Any]] = []
    reminder_rows: list[dict[str, Any]] = []
    progress_rows: list[dict[str, Any]] = []
    for index in range(members):
        user = first_user + index
        next_due = T if index < due else T + timedelta(seconds=rng.randrange(60, 86_400))
        zone = rng.choice(ZONES)
        guild = guilds[index % len(guilds)]
        member_rows.append({"guild_id": guild, "user_id": user, "reached_at": stamp, "timezone": zone,
                            "created_at": stamp})
        reminder_rows.append({"guild_id": guild, "user_id": user,
                              "local_time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}", "timezone": zone,
                              "days": 127, "regular_due": next_due, "due_date": next_due.date(),
                              "next_due_utc": next_due, "created_at": stamp, "updated_at": stamp,
                              "member_checked_at": T})
        for step in range(1, rng.randrange(0, 9) + 1):
            progress_rows.append({"guild_id": guild, "user_id": user, "step": step, "status": "done",
                                  "updated_at": stamp, "done_at": T - timedelta(days=9 - step)})
    for table, rows in ((tables.members, member_rows), (tables.reminders, reminder_rows),
                        (tables.progress, progress_rows)):
        for start in range(0, len(rows), 20_000):
            async with db.transaction() as conn:
                await conn.execute(insert(table), rows[start : start + 20_000])
    async with db.transaction() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await db.close()


# ---------------------------------------------------------------------------- 1. database work


async def bench_db(url: str | Path, engine: str) -> None:
    db = Database(url)
    await db.open()
    plan = await store.due_plan(db, T)
    trivial = await timed(200, lambda _: db.fetchone("SELECT 1"))
    select_60 = await timed(50, lambda _: store.due_reminders(db, T - timedelta(seconds=1), limit=60))
    due = await store.due_reminders(db, T)
    assert len(due) == DUE, len(due)
    select_1000 = await timed(30, lambda _: store.due_reminders(db, T))
    planning = [_timed_sync(lambda: [plan_delivery(d.reminder, T, d.sent_dates) for d in due]) for _ in range(30)]
    pairs = [(d.reminder.guild_id, d.reminder.user_id) for d in due]
    chunks = [pairs[i : i + CHUNK] for i in range(0, DUE, CHUNK)]
    progress_chunk = await timed(len(chunks) * 10, lambda i: store.progress_of(db, chunks[i % len(chunks)]))
    progress_all = await timed(30, lambda _: store.progress_of(db, pairs))
    results = [store.TickResult(d.reminder, plan_delivery(d.reminder, T, d.sent_dates), 1, 1, 5) for d in due]
    record_chunk: list[float] = []
    whole_db: list[float] = []
    whole: list[float] = []
    for _ in range(15):
        for chunk_start in range(0, DUE, CHUNK):
            start = time.perf_counter()
            await store.record_tick(db, results[chunk_start : chunk_start + CHUNK], T)
            record_chunk.append(time.perf_counter() - start)
        await _reset(db)
        # The tick's whole database work as run_due does it: the due query, then per chunk the members' progress
        # for the DM and the record of the chunk's results (sending left out); planning timed apart.
        db_time = 0.0
        start = time.perf_counter()
        fresh = await store.due_reminders(db, T)
        db_time += time.perf_counter() - start
        plan_start = time.perf_counter()
        planned = [(d.reminder, plan_delivery(d.reminder, T, d.sent_dates)) for d in fresh]
        plan_time = time.perf_counter() - plan_start
        for chunk_start in range(0, DUE, CHUNK):
            part = planned[chunk_start : chunk_start + CHUNK]
            step = time.perf_counter()
            claims = [store.Claim(r.guild_id, r.user_id, T.date(), "day", DeliveryKind.DAILY,
                                  delivery_nonce(r.guild_id, r.user_id, T.date(), "day")) for r, _ in part]
            await store.claim_deliveries(db, claims, T, CLAIM_GRACE)
            await store.progress_of(db, [(r.guild_id, r.user_id) for r, _ in part])
            await store.record_tick(db, [store.TickResult(r, d, 1, 1, 5, claim=c)
                                         for (r, d), c in zip(part, claims, strict=True)], T)
            db_time += time.perf_counter() - step
        whole.append(db_time + plan_time)
        whole_db.append(db_time)
        await _reset(db)
    per_chunk = statistics.median(progress_chunk) + statistics.median(record_chunk)
    print(f"\nDue query plan ({engine}): {'; '.join(plan)}")
    print_table(f"Tick database work, {MEMBERS:,} reminders, {engine}", [
        ("trivial query (SELECT 1)", trivial),
        ("due query, 60 due", select_60),
        (f"(a) due query, {DUE:,} due (to Reminder objects)", select_1000),
        (f"plan {DUE:,} deliveries (domain, event loop)", planning),
        (f"(b) DM progress of one chunk of {CHUNK}", progress_chunk),
        (f"(c) record one chunk of {CHUNK} (one hop)", record_chunk),
        (f"progress of {DUE:,} members, one query", progress_all),
        (f"(d) tick DB work, {DUE:,} due: a + {DUE // CHUNK}x(b+c)", whole_db),
        (f"(d) + planning, {DUE:,} due", whole),
    ], baseline="trivial query (SELECT 1)")
    print(f"Sum of medians a + {DUE // CHUNK} x (b + c): "
          f"{(statistics.median(select_1000) + DUE // CHUNK * per_chunk) * 1000:.2f} ms")
    await db.close()


# ---------------------------------------------------------------------------- 4. the due query per shard

SERVERS = 2_000
SHARD_COUNT = 8


async def bench_shards(url: str | Path, engine: str) -> None:
    """The due query with and without the shard filter, on 100,000 reminders in 2,000 servers (real snowflakes)."""
    rng = random.Random(22)
    epoch_ms = 1_420_070_400_000  # Discord's epoch
    guilds = [((int(T.timestamp() * 1000) - epoch_ms - rng.randrange(10**11)) << 22) | rng.randrange(1 << 22)
              for _ in range(SERVERS)]
    await populate(url, MEMBERS, DUE, guilds=guilds)
    db = Database(url)
    await db.open()
    rows_plan = await store.due_plan(db, T, ownership=Ownership(SHARD_COUNT, (0, 1, 2, 3)))
    print(f"\nDue query plan ({engine}), owning 4 of {SHARD_COUNT} shards: {'; '.join(rows_plan)}")
    cases = [("every shard (no filter)", None),
             (f"shards 0-3 of {SHARD_COUNT}", Ownership(SHARD_COUNT, (0, 1, 2, 3))),
             (f"shard 0 of {SHARD_COUNT}", Ownership(SHARD_COUNT, (0,))),
             ("shards 0-31 of 64", Ownership(64, tuple(range(32))))]
    rows: list[tuple[str, list[float]]] = []
    for name, ownership in cases:
        due = await store.due_reminders(db, T, ownership=ownership)
        expected = sum(1 for i in range(DUE) if ownership is None or ownership.owns(guilds[i % SERVERS]))
        assert len(due) == expected, (name, len(due), expected)
        assert all(ownership is None or ownership.owns(d.reminder.guild_id) for d in due)
        samples = await timed(40, lambda _, o=ownership: store.due_reminders(db, T, ownership=o))
        rows.append((f"{name}: {len(due):,} of {DUE:,} due", samples))
    shares = [sum(1 for g in guilds if shard_of(g, SHARD_COUNT) == s) for s in range(SHARD_COUNT)]
    print_table(f"Due query per process ({engine}), {MEMBERS:,} reminders in {SERVERS:,} servers, {DUE:,} due "
                f"(servers per shard of {SHARD_COUNT}: {shares})", rows, baseline="every shard (no filter): "
                f"{DUE:,} of {DUE:,} due")
    await db.close()


def _timed_sync(action: Any) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


async def _reset(db: Database, due: int = DUE) -> None:
    async with db.transaction() as conn:
        await conn.execute(delete(tables.reminder_sends))
        await conn.execute(delete(tables.reminder_deliveries))
        await conn.execute(update(tables.reminders).where(tables.reminders.c.user_id < 10_000 + due)
                           .values(regular_due=T, due_date=T.date(), next_due_utc=T, paused_reason=None))


# ---------------------------------------------------------------------------- 1c. the dispatcher, one and two processes


class StubSender:
    """The tick's Discord boundary answering at once; every send is recorded by nonce (duplicates would show)."""

    def __init__(self) -> None:
        self.nonces: list[str] = []

    async def open_dm(self, user_id: int) -> int:
        return user_id

    async def send_dm(self, channel_id: int, message: Any, nonce: str) -> int:
        await asyncio.sleep(0)
        self.nonces.append(nonce)
        return len(self.nonces)

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        return True


async def bench_dispatch(url: str | Path, engine: str, *, processes: int = 1, due: int = DUE) -> None:
    """The real ReminderDispatcher (claims, progress, record) with a stub sender and no pacing: a tick of `due`
    DMs, as one process or as `processes` processes (their own Database each) ticking the same instant at once."""
    from bot.services.reminders import ReminderDispatcher

    stores = [Database(url) for _ in range(processes)]
    for db in stores:
        await db.open()
    plan = Settings(_env_file=None, discord_token=None).load_plan()  # type: ignore[call-arg]
    logging.getLogger("bot.services.reminders").setLevel(logging.ERROR)
    ticks: list[float] = []
    shares: list[tuple[int, ...]] = []
    try:
        for _ in range(5):
            await _reset(stores[0], due)
            senders = [StubSender() for _ in stores]
            dispatchers = [ReminderDispatcher(db, plan, sender, window=SendWindow(rate=10**9))  # type: ignore[arg-type]
                           for db, sender in zip(stores, senders, strict=True)]
            start = time.perf_counter()
            await asyncio.gather(*(d.run_due(T) for d in dispatchers))
            ticks.append(time.perf_counter() - start)
            every = [n for sender in senders for n in sender.nonces]
            assert len(every) == len(set(every)) == due, (len(every), len(set(every)), due)  # each DM once
            shares.append(tuple(len(sender.nonces) for sender in senders))
    finally:
        for db in stores:
            await db.close()
    who = "one process" if processes == 1 else f"{processes} processes at once"
    print_table(f"The dispatcher ({engine}, {who}): {due:,} DMs due of {MEMBERS:,}, stub sender, no pacing",
                [(f"whole tick, {due:,} DMs", ticks)])
    if processes > 1:
        print(f"  each process's share of the DMs per run: {shares}; duplicates: 0")
    print(f"  against Discord's floor of 50 requests a second: {due / 50:.0f} s for {due:,} DMs")


# ---------------------------------------------------------------------------- 1b. the event loop during a tick


async def bench_loop_lag(source: Path, *, freeze: bool) -> None:
    """The real tick without SimCord: the cog's scheduled job in a real bot on a copy of the 100,000-reminder
    file, with Discord replaced at the boundary (the DM channel) by a stub whose send answers at once.

    A monitor task sleeps 1 ms in a loop and records how late it wakes: the longest of those is the longest
    time the tick kept the event loop from anything else (GC included). Pacing is lifted so the tick runs flat
    out; with the real 40/s pacing the loop is idle most of the time.
    """
    from bot.app import create_bot

    path = source.with_name("lag.sqlite3")
    shutil.copy(source, path)
    bot = create_bot(Settings(_env_file=None, database_path=path))  # type: ignore[call-arg]
    await bot.db.open()
    await bot.db.migrate()
    for name in bot.extension_names:
        await bot.load_extension(name)
    cog: Any = bot.get_cog("Reminders")
    cog.window = SendWindow(rate=10**9)
    sent = [0]

    class StubChannel:
        def __init__(self, channel_id: int) -> None:
            self.id = channel_id

        async def send(self, *_: Any, **__: Any) -> Any:
            await asyncio.sleep(0)
            sent[0] += 1
            return SimpleNamespace(id=sent[0])

    bot.get_partial_messageable = lambda channel_id, **_: StubChannel(channel_id)  # type: ignore[method-assign]
    if freeze:  # as `python -m bot run` does at the end of set-up (StepwiseBot.freeze_heap)
        gc.collect()
        gc.freeze()
    async with bot.db.transaction() as conn:  # the due members' DM channels are known, as after a first DM
        reminders = tables.reminders
        await conn.execute(update(reminders).where(reminders.c.user_id < 10_000 + DUE)
                           .values(dm_channel_id=reminders.c.user_id))
    ticks: list[float] = []
    worst: list[float] = []
    gc_worst: list[float] = []
    lags: list[float] = []
    try:
        for _ in range(10):
            await _reset(bot.db)
            before = sent[0]
            tick_lags: list[float] = []
            monitor = asyncio.create_task(_lag_monitor(tick_lags))
            await asyncio.sleep(0.005)
            with GcPauses() as collector:
                start = time.perf_counter()
                await bot.run_scheduled(T)
                ticks.append(time.perf_counter() - start)
            monitor.cancel()
            gc_worst.append(collector.longest)
            assert sent[0] - before == DUE, sent[0] - before
            worst.append(max(tick_lags))
            lags.extend(tick_lags)
    finally:
        await bot.close()
    gc.unfreeze()
    heap = "set-up heap frozen, as in production" if freeze else "heap not frozen"
    print_table(f"The real tick without SimCord ({DUE:,} due of {MEMBERS:,}, DM stubbed, pacing lifted, {heap})", [
        ("loop wake-up delay, every 1 ms sleep", lags),
        ("longest loop stall in a tick", worst),
        ("longest GC pause in a tick", gc_worst),
        (f"whole tick, {DUE:,} DMs", ticks),
    ])


class GcPauses:
    """The collector's pauses while active (gc.callbacks): a full collection stops the loop too."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)

    @property
    def longest(self) -> float:
        return max(self.pauses, default=0.0)


async def _lag_monitor(lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(0.001)
        lags.append(max(0.0, loop.time() - start - 0.001))


# ---------------------------------------------------------------------------- 2. memory


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def memory_probe(path: Path, tick: bool) -> float:
    """RSS of a started bot on `path` in this fresh process, with 1,000 members in the simulated server.

    With `tick`, the 1,000 due reminders are given to those members and delivered first (so the figure also
    holds SimCord's copy of 1,000 DMs: an upper bound for the bot's own share).
    """
    import simcord

    from bot.app import create_bot

    bot = create_bot(Settings(_env_file=None, database_path=path))  # type: ignore[call-arg]
    env = simcord.Env(bot, shard_count=1)
    await env.start()
    bot.scheduler.pause()
    try:
        guild = env.create_guild("Bench")
        guild.create_text_channel("study")
        members = [guild.add_member(env.create_user(f"u{i}")) for i in range(DUE)]
        await env.settle()
        cog: Any = bot.get_cog("Reminders")
        cog.window = SendWindow(rate=10**9)
        if tick:
            moves = [{"new_g": guild.id, "new_u": m.id, "old_g": GUILD, "old_u": 10_000 + i}
                     for i, m in enumerate(members)]
            async with bot.db.transaction() as conn:  # foreign keys checked at the commit, when all moved
                await conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
                for table in ("members", "reminders", "progress"):
                    await conn.execute(text(f"UPDATE {table} SET guild_id = :new_g, user_id = :new_u "
                                            "WHERE guild_id = :old_g AND user_id = :old_u"), moves)
            await bot.run_scheduled(T)
            await env.settle()
            sent = sum(1 for r in env.http_requests if r.path.endswith("/messages"))
            assert sent == DUE, sent
        env.errors  # noqa: B018 - acknowledge (none expected)
        return rss_mb()
    finally:
        await env.shutdown()
        await bot.close()


def memory_in_subprocess(source: Path, tick: bool) -> float:
    """Each probe gets its own copy of the database: a tick changes it."""
    path = source.with_name(f"probe-{time.perf_counter_ns()}.sqlite3")
    shutil.copy(source, path)
    code = ("import asyncio, sys; from pathlib import Path; from bench.bench_reminders import memory_probe; "
            f"print(asyncio.run(memory_probe(Path({str(path)!r}), {tick!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    return float(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- 3. through SimCord


async def bench_simcord(folder: Path) -> None:
    import logging

    import simcord

    from bench.common import bot_side_timer
    from bot.app import create_bot

    logging.getLogger("bot.services.reminders").setLevel(logging.ERROR)
    path = folder / "simcord.sqlite3"
    clock_now = [T - timedelta(hours=1)]
    bot = create_bot(Settings(_env_file=None, database_path=path), clock=lambda: clock_now[0])  # type: ignore[call-arg]
    env = simcord.Env(bot, shard_count=1)
    await env.start()
    bot.scheduler.pause()  # the bench drives run_scheduled itself; the wall-clock tick would compete
    try:
        guild = env.create_guild("Bench")
        channel = guild.create_text_channel("study")
        members = [guild.add_member(env.create_user(f"u{i}")) for i in range(DUE)]
        await env.settle()
        for member in members:
            await member.slash(channel, "remind set", time="09:00", timezone="UTC")
        help_rt = await timed(100, lambda _: members[0].slash(channel, "help"))
        with bot_side_timer(bot) as help_bot:
            for _ in range(100):
                await members[1].slash(channel, "help")
        cog: Any = bot.get_cog("Reminders")
        cog.window = SendWindow(rate=10**9)  # measure the work, not the 40/s pacing
        per_reminder: list[float] = []
        stalls: list[float] = []
        gc_pauses: list[float] = []
        for day in range(8):
            instant = T + timedelta(days=day)
            clock_now[0] = instant
            monitor = asyncio.create_task(_stall_monitor(stalls))
            with GcPauses() as collector:
                start = time.perf_counter()
                await bot.run_scheduled(instant)
                elapsed = time.perf_counter() - start
            monitor.cancel()
            gc_pauses.append(collector.longest)
            per_reminder.append(elapsed / DUE)
            await env.settle()
        sent = sum(1 for r in env.http_requests if r.method == "POST" and r.path.endswith("/messages")
                   and r.path.startswith("/channels/"))
        assert sent == DUE * 8, sent
        clock_now[0] = T + timedelta(days=7, hours=15)  # day 8, 00:00
        # With the real pacing: 120 due at once go out in about 2 s (40 at once, then 40 a second).
        cog.window = SendWindow()
        for member in members[:120]:
            await member.slash(channel, "remind set", time="08:30", timezone="UTC")
        start = time.perf_counter()
        await bot.run_scheduled(T + timedelta(days=8, minutes=-30))  # only those 120 are due then
        paced = time.perf_counter() - start
        assert sum(1 for r in env.http_requests if r.path.endswith("/messages")) == DUE * 8 + 120
        env.errors  # noqa: B018
    finally:
        await env.shutdown()
        await bot.close()
    print_table("Through SimCord (bot and simulated Discord in one process)", [
        ("/help round trip (trivial command)", help_rt),
        ("/help bot-side", help_bot),
        (f"one reminder delivered (tick of {DUE:,} / {DUE:,})", per_reminder),
        ("longest loop stall in a tick (incl. GC, SimCord)", stalls),
        ("longest GC pause in a tick (SimCord's heap)", gc_pauses),
    ], baseline="/help round trip (trivial command)")
    print(f"Paced: 120 reminders due at once took {paced:.2f} s at 40 DMs/s (unpaced, the same would take "
          f"{120 * sorted(per_reminder)[len(per_reminder) // 2]:.2f} s).")


async def _stall_monitor(stalls: list[float]) -> None:
    """Record the longest delay the loop adds to a 1 ms sleep while a tick runs."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    try:
        while True:
            start = loop.time()
            await asyncio.sleep(0.001)
            worst = max(worst, loop.time() - start - 0.001)
    except asyncio.CancelledError:
        stalls.append(worst)
        raise


async def pg_databases(count: int) -> tuple[list[str], Any]:
    """`count` fresh PostgreSQL databases at the schema head on a throwaway server (tests/engines.py), and its
    stop function; ([], None) when no server can be started here."""
    try:
        from tests.engines import start_pg_server

        server = start_pg_server()
    except Exception as error:  # a bench without PostgreSQL still runs SQLite
        print(f"PostgreSQL not available ({error!r}): SQLite only")
        return [], None
    urls = [(await asyncio.to_thread(server.new_database)).render_as_string(hide_password=False)
            for _ in range(count)]  # the server's calls run their own event loops: in a thread
    return urls, server.stop


# ---------------------------------------------------------------------------- 5. two OS processes, one database

PROCESS_MEMBERS = int(os.environ.get("STEPWISE_BENCH_PROCESS_REMINDERS", "200000"))
PROCESS_DUE = 2_000
PROCESS_SERVERS = 2_000
PROCESS_SHARDS = 8
DISCORD_RATE = 50  # requests a second: one bot token's global limit, whatever the number of processes
TICKS = (T, T + timedelta(seconds=30), T + timedelta(seconds=60))  # the 30-second job's instants over the minute


def snowflakes(count: int, rng: random.Random) -> list[int]:
    epoch_ms = 1_420_070_400_000  # Discord's epoch
    return [((int(T.timestamp() * 1000) - epoch_ms - rng.randrange(10**11)) << 22) | rng.randrange(1 << 22)
            for _ in range(count)]


async def _spread_due(url: str, due: int) -> None:
    """The first `due` reminders due within the minute after T (evenly), none sent yet, their DM channels known
    (as after a first DM: one request per DM); the rest stay due later today."""
    db = Database(url)
    await db.open()
    try:
        async with db.transaction() as conn:
            await conn.execute(delete(tables.reminder_sends))
            await conn.execute(delete(tables.reminder_deliveries))
            rows = [{"u": 10_000 + i, "at": T + timedelta(seconds=60 * i / due)} for i in range(due)]
            await conn.execute(text("UPDATE reminders SET regular_due = :at, due_date = :day, next_due_utc = :at, "
                                    "paused_reason = NULL, dm_channel_id = user_id WHERE user_id = :u"),
                               [{**row, "day": T.date()} for row in rows])
            later = T + timedelta(hours=1)  # the others (populate put a few inside the minute) out of it
            await conn.execute(update(tables.reminders).where(tables.reminders.c.user_id >= 10_000 + due,
                                                              tables.reminders.c.next_due_utc <= TICKS[-1])
                               .values(regular_due=later, next_due_utc=later))
    finally:
        await db.close()


async def _two_processes(url: str, ranges: tuple[tuple[int, ...], tuple[int, ...]], *,
                         paced: bool) -> dict[str, Any]:
    from tests.shard_worker import Requests, Worker

    await _spread_due(url, PROCESS_DUE)
    sent = Requests()
    options = ("--pause-ms", "0", "--chunk", str(CHUNK), "--batch", "5000", *(("--paced",) if paced else ()))
    workers = [await Worker.start(url, name, ids, PROCESS_SHARDS, sent, seed=n, options=options)
               for n, (name, ids) in enumerate(zip("ab", ranges, strict=True))]
    tick_seconds: list[float] = []
    try:
        for worker in workers:
            await worker.until("ready")
        started = time.perf_counter()
        for instant in TICKS:
            tick_started = time.perf_counter()
            for worker in workers:  # both told before either is waited for
                worker.send({"tick": instant.isoformat()})
            for worker in workers:
                await worker.until("ticked")
            tick_seconds.append(time.perf_counter() - tick_started)
        fan_out = time.perf_counter() - started
    finally:
        for worker in workers:
            await worker.close()
    nonces = [nonce for *_, nonce in sent.dms]
    members = {(g, u) for _w, g, u, _n in sent.dms}
    return {"dms": len(sent.dms), "distinct": len(set(nonces)), "members": len(members),
            "duplicates": len(nonces) - len(set(nonces)),
            "shares": {name: sum(1 for w, *_ in sent.dms if w == name) for name in "ab"},
            "ticks": tick_seconds, "fan_out": fan_out}


async def bench_processes(url: str) -> None:
    rng = random.Random(55)
    guilds = snowflakes(PROCESS_SERVERS, rng)
    started = time.perf_counter()
    await populate(url, PROCESS_MEMBERS, 0, guilds=guilds)
    print(f"\nBuilt {PROCESS_MEMBERS:,} reminders in {PROCESS_SERVERS:,} servers in "
          f"{time.perf_counter() - started:.1f} s (PostgreSQL)")
    floor = PROCESS_DUE / DISCORD_RATE
    half = tuple(range(PROCESS_SHARDS // 2))
    cases = [("disjoint: shards 0-3 / 4-7 of 8", (half, tuple(range(PROCESS_SHARDS // 2, PROCESS_SHARDS)))),
             ("overlapping: both run all 8 shards", (tuple(range(PROCESS_SHARDS)),) * 2)]
    rows: list[tuple[str, list[float]]] = []
    print(f"\nTwo OS processes, one PostgreSQL database: {PROCESS_MEMBERS:,} reminders, {PROCESS_DUE:,} due within "
          f"one minute, ticks at +0 / +30 / +60 s (floor at Discord's {DISCORD_RATE} requests/s: {floor:.0f} s)")
    for label, ranges in cases:
        runs = [await _two_processes(url, ranges, paced=False) for _ in range(3)]
        for run in runs:
            assert run["dms"] == run["distinct"] == run["members"] == PROCESS_DUE, run  # each DM once, all sent
        rows.append((f"{label}: fan-out, unpaced", [r["fan_out"] for r in runs]))
        shares = " / ".join(f"{r['shares']['a']}+{r['shares']['b']}" for r in runs)
        print(f"  {label}: {PROCESS_DUE:,} DMs, duplicates {sum(r['duplicates'] for r in runs)} in {len(runs)} runs; "
              f"shares (a+b) {shares}; per tick {', '.join(f'{s:.2f}' for s in runs[-1]['ticks'])} s")
    paced = await _two_processes(url, cases[0][1], paced=True)
    assert paced["dms"] == paced["distinct"] == PROCESS_DUE, paced
    rows.append((f"{cases[0][0]}: fan-out, paced (40/s each)", [paced["fan_out"]]))
    print_table("Fan-out of the minute's DMs (seconds; unpaced: the fake Discord answers at once)", rows, unit="s")
    rate = PROCESS_DUE / paced["fan_out"]
    print(f"  paced: {PROCESS_DUE:,} DMs in {paced['fan_out']:.1f} s = {rate:.0f} requests/s together "
          f"(shares {paced['shares']['a']} + {paced['shares']['b']}); Discord's global limit is {DISCORD_RATE}/s "
          f"per bot: {'over it' if rate > DISCORD_RATE else 'within it'}")


async def main(only: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        pg_urls, stop_pg = await pg_databases(3)
        try:
            if only == "processes":
                if pg_urls:
                    await bench_processes(pg_urls[2])
                return
            if only == "shards":
                await bench_shards(Path(folder) / "shards.sqlite3", "SQLite")
                if pg_urls:
                    await bench_shards(pg_urls[1], "PostgreSQL")
                return
            full, empty = Path(folder) / "full.sqlite3", Path(folder) / "empty.sqlite3"
            started = time.perf_counter()
            await populate(full, MEMBERS, DUE)
            await populate(empty, 0, 0)
            print(f"Built {MEMBERS:,} reminders in {time.perf_counter() - started:.1f} s (SQLite)")
            engines: list[tuple[str | Path, str]] = [(full, "SQLite")]
            if pg_urls:
                started = time.perf_counter()
                await populate(pg_urls[0], MEMBERS, DUE)
                print(f"Built {MEMBERS:,} reminders in {time.perf_counter() - started:.1f} s (PostgreSQL)")
                engines.append((pg_urls[0], "PostgreSQL"))
            for url, engine in engines:
                await bench_db(url, engine)
            for url, engine in engines:
                await bench_dispatch(url, engine)
            if pg_urls:
                await bench_dispatch(pg_urls[0], "PostgreSQL", processes=2, due=2 * DUE)
                await bench_processes(pg_urls[2])
            await bench_shards(Path(folder) / "shards.sqlite3", "SQLite")
            if pg_urls:
                await bench_shards(pg_urls[1], "PostgreSQL")
            if only == "store":
                return
            await bench_loop_lag(full, freeze=False)
            await bench_loop_lag(full, freeze=True)
            empty_rss = [memory_in_subprocess(empty, tick=False) for _ in range(3)]
            full_rss = [memory_in_subprocess(full, tick=True) for _ in range(3)]
            print("\nResident memory of a started bot (fresh process each, MB)")
            print(f"  empty database:                              {min(empty_rss):8.1f}")
            print(f"  {MEMBERS:,} reminders, after a {DUE:,}-due tick:      {min(full_rss):8.1f}")
            print(f"  difference:                                  {min(full_rss) - min(empty_rss):8.1f}  "
                  "(target <= 60)")
            await bench_simcord(Path(folder))
        finally:
            if stop_pg is not None:
                stop_pg()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))

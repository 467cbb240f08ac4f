"""A burst: 1,000 members press `/done` at once, through SimCord, in one bot process.

SimCord's public `slash` refuses to overlap another operation, so the burst delivers each member's interaction
with SimCord's own payload helpers (as tests/test_progress_cog.py does for 200 members) and does not wait for it:
the next one is delivered after a bare `await asyncio.sleep(0)`, as a gateway reader hands the bot one event per
frame. Measured, per burst of 1,000:
- answered: every interaction acknowledged with a public reply, and the store counts 1,000 more steps done;
- latency per command on the bot's side: from the moment the gateway event reaches discord.py to the end of the
  command's handling (its reply included), so the time spent queued behind the other 999 counts; and the time
  inside the command's own dispatch alone;
- commands per second: 1,000 / (last command handled - first event delivered). SimCord's own work (building the
  payloads, recording the replies) runs in the same process and on the same core, so this is a lower bound;
- the worst event-loop stall during the burst (LoopMonitor), and the longest GC pause in it (the heap that
  existed before the burst is frozen first, as `make run` freezes its set-up heap).
Baselines in the same run: the same burst of a trivial public reply (/bench-ping, no database), and /done and
/bench-ping one at a time. Also the same 1,000 /done spread evenly over 2 s (500 a second): what the latency is
when the arrival rate is below what the process sustains. Kinds alternate so drift on the shared machine hits all.

Engines: both, one after the other in the same run (bench/engines.py: a SQLite file, a fresh PostgreSQL
database; STEPWISE_BENCH_ENGINES picks). On SQLite writers take turns on one connection; on PostgreSQL they run
concurrently on the store's pool (5 connections + 10 overflow).
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import simcord
from simcord import actors as simcord_actors
from simcord.enums import AppCommandType, InteractionType
from simcord.results import InteractionResult

from bench import engines
from bench.bench_reminders import GcPauses
from bench.common import LoopMonitor, bot_side_timer, percentile, print_table, timed
from bot.app import create_bot
from bot.config import Settings

MEMBERS = int(os.environ.get("STEPWISE_BENCH_BURST", "1000"))
BURSTS = 3  # bursts of each kind; each member marks one more step per /done burst
SEQUENTIAL = 200
SPREAD = 2.0  # seconds over which the spread bursts arrive (500 a second)
TARGET_P99 = 0.250


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url, discord_token=None)  # type: ignore[call-arg]


def emit_slash(actor: simcord.MemberActor, channel: Any, name: str,
               options: dict[str, Any]) -> tuple[int, InteractionResult]:
    """Deliver one slash interaction to the bot without waiting for it (SimCord's own helpers, as `slash` builds
    it); returns the interaction id and SimCord's result, which fills in as the bot answers."""
    interactions: Any = simcord_actors._interactions
    root = simcord_actors._resolve_visible_command(actor, channel.id, name, AppCommandType.CHAT_INPUT)
    leaf, nesting = interactions.walk_to_subcommand(root, [])
    leaf_options, _resolved = interactions.build_options(actor, name, leaf, options, channel_id=channel.id)
    data = {"id": root["id"], "name": root["name"], "type": AppCommandType.CHAT_INPUT,
            "options": interactions.nest_options(root, nesting, leaf_options)}
    backend: Any = actor._env.backend
    record, payload = interactions.base_payload(backend, type=InteractionType.APPLICATION_COMMAND,
                                                channel_id=channel.id, guild_id=actor.guild.id, user_id=actor.id,
                                                data=data)
    actor._env._notify_dispatch_observers(record)
    backend.emit("INTERACTION_CREATE", payload)  # discord.py parses it now and schedules the command's task
    return int(payload["id"]), InteractionResult(actor._env, record)


@dataclass
class Burst:
    delivered: dict[int, float] = field(default_factory=dict)  # interaction id -> when its event reached the bot
    handled: dict[int, float] = field(default_factory=dict)  # interaction id -> when its handling ended
    inside: list[float] = field(default_factory=list)  # time within the tree's dispatch alone
    expected: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # set when `expected` have been handled
    in_flight: int = 0
    peak: int = 0

    @property
    def latencies(self) -> list[float]:
        return [self.handled[i] - self.delivered[i] for i in self.handled]

    @property
    def span(self) -> float:
        return max(self.handled.values()) - min(self.delivered.values())


@contextmanager
def burst_timer(bot: Any, burst: Burst) -> Iterator[Burst]:
    """Wrap the tree's dispatch: record when each interaction's handling ends, and how many overlap."""
    tree: Any = bot.tree
    original = tree._call

    async def wrapped(interaction: Any) -> Any:
        burst.in_flight += 1
        burst.peak = max(burst.peak, burst.in_flight)
        start = time.perf_counter()
        try:
            return await original(interaction)
        finally:
            end = time.perf_counter()
            burst.inside.append(end - start)
            burst.handled[interaction.id] = end
            burst.in_flight -= 1
            if len(burst.handled) >= burst.expected:
                burst.finished.set()

    tree._call = wrapped
    try:
        yield burst
    finally:
        tree._call = original


async def run_burst(env: simcord.Env, members: list[Any], channel: Any, command: str,
                    spread: float = 0.0) -> tuple[Burst, float, float, int]:
    """Every member sends `command`, all at once (`spread` 0) or evenly over `spread` seconds; returns the
    timings, the worst loop stall, the longest GC pause, and how many were answered."""
    burst = Burst(expected=len(members))
    results: list[InteractionResult] = []
    gc.collect()  # the replies SimCord recorded in earlier bursts are its heap, not the bot's: out of the way
    gc.freeze()
    async with LoopMonitor() as stalls:
        with burst_timer(env.bot, burst), GcPauses() as collector:
            first = time.perf_counter()
            for index, member in enumerate(members):
                if spread:
                    await asyncio.sleep(max(0.0, first + spread * index / len(members) - time.perf_counter()))
                at = time.perf_counter()
                interaction_id, result = emit_slash(member, channel, command, {})
                burst.delivered[interaction_id] = at
                results.append(result)
                await asyncio.sleep(0)
            # Wait for the bot itself, not with env.settle(): settling scans every pending task after each one
            # finishes (SimCord's check that nothing is still working), which with 1,000 tasks in flight is
            # quadratic and would dominate the timings (profiled: ~60 % of the burst). Settle once afterwards.
            await burst.finished.wait()
        await env.settle()
    answered = sum(1 for r in results if r.acknowledged and r.response is not None and not r.ephemeral
                   and (command != "done" or r.response.embeds))
    assert len(burst.handled) == len(members), (len(burst.handled), len(members))
    return burst, stalls.worst, collector.longest, answered


async def done_total(bot: Any, guild_id: int) -> int:
    row = await bot.db.fetchone("SELECT COALESCE(SUM(done_count), 0) FROM members WHERE guild_id = :g", {"g": guild_id})
    return int(row[0]) if row else 0


def add_ping(bot: Any) -> None:
    """A trivial public reply (no database): the burst's baseline, answered the same way /done answers."""

    @discord.app_commands.command(name="bench-ping", description="Benchmark baseline: a trivial public reply")
    async def bench_ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    bot.tree.add_command(bench_ping)


def untimed_pool_waits(bot: Any) -> None:
    """SimCord virtualises timers: each one the bot arms makes it settle, which scans every pending task. In a
    burst of 1,000 most database calls wait for a pooled connection (SQLite's reader pool holds 12, PostgreSQL's
    15), and SQLAlchemy arms a timer (its 30-s pool timeout) for every wait: profiled, SimCord's settling then
    took 75 % of the burst (a trivial reply: 72 commands/s instead of ~1,800), none of it the bot's. So the
    bench lets those waits wait without a timer; the bot's own work is unchanged."""
    for engine in {bot.db.engine, bot.db.read_engine}:
        engine.sync_engine.pool._timeout = None


async def bench_engine(engine: str, url: str) -> None:
    bot = create_bot(settings_for(url), interval_job=False)  # the bench sends every command itself
    add_ping(bot)
    cog: Any = bot.get_cog("Progress")
    if cog is not None:
        cog.render_charts = False
    env = simcord.Env(bot, settle_timeout=600.0, shard_count=1)
    await env.start()
    untimed_pool_waits(bot)
    try:
        started = time.perf_counter()
        guild = env.create_guild("Burst Hall")
        channel = guild.create_text_channel("study")
        members = [guild.add_member(env.create_user(f"m{i}")) for i in range(MEMBERS)]
        await env.settle()
        print(f"[{engine}] {MEMBERS:,} members in {time.perf_counter() - started:.1f} s")
        # As `make run` does after set-up (freeze_heap=True), each burst first freezes what exists (run_burst):
        # it lives as long as the process and stays out of the collector's full passes. Here that includes
        # SimCord's world and the replies it recorded, which a real bot does not hold.

        for i in range(5):  # warm-up: first-call costs
            await members[i].slash(channel, "bench-ping")
            await members[i].slash(channel, "done")
        with bot_side_timer(bot) as seq_ping:
            await timed(SEQUENTIAL, lambda i: members[i].slash(channel, "bench-ping"))
        with bot_side_timer(bot) as seq_done:
            await timed(SEQUENTIAL, lambda i: members[i].slash(channel, "done"))

        kinds = (("/bench-ping at once", "bench-ping", 0.0), ("/done at once", "done", 0.0),
                 (f"/done over {SPREAD:.0f} s", "done", SPREAD))
        bursts: dict[str, list[Measured]] = {label: [] for label, _, _ in kinds}
        for _ in range(BURSTS):  # alternating, so drift on the shared machine hits every kind alike
            for label, command, spread in kinds:
                before = await done_total(bot, guild.id)
                measured = Measured(*await run_burst(env, members, channel, command, spread))
                gained = await done_total(bot, guild.id) - before
                assert gained == (MEMBERS if command == "done" else 0), (command, gained)
                bursts[label].append(measured)
        env.errors  # noqa: B018 - acknowledge (none expected)
    finally:
        gc.unfreeze()
        await env.shutdown()
        await bot.close()
    report(engine, seq_ping, seq_done, bursts)


@dataclass
class Measured:
    burst: Burst
    stall: float
    gc_pause: float
    answered: int


def report(engine: str, seq_ping: list[float], seq_done: list[float], bursts: dict[str, list[Measured]]) -> None:
    rows: list[tuple[str, Sequence[float]]] = [("/bench-ping one at a time (bot side)", seq_ping),
                                               ("/done one at a time (bot side)", seq_done)]
    for label, measured in bursts.items():
        rows.append((f"{label}: delivered -> handled", [s for m in measured for s in m.burst.latencies]))
    for label, measured in bursts.items():
        rows.append((f"{label}: inside the dispatch", [s for m in measured for s in m.burst.inside]))
    print_table(f"[{engine}] Bursts of {MEMBERS:,} members, {BURSTS} of each kind (bot side: from the event "
                "reaching discord.py to the command handled, queueing included)", rows,
                baseline="/bench-ping one at a time (bot side)")
    print(f"\n[{engine}] {'per burst':<32} {'answered':>9} {'peak':>6} {'span s':>8} {'cmd/s':>8} {'p99 ms':>8} "
          f"{'stall ms':>9} {'GC ms':>7}")
    for label, measured in bursts.items():
        for index, m in enumerate(measured):
            print(f"  {label + ' #' + str(index + 1):<38} {m.answered:>9,} {m.burst.peak:>6} {m.burst.span:>8.2f} "
                  f"{MEMBERS / m.burst.span:>8.0f} {percentile(m.burst.latencies, 99) * 1000:>8.1f} "
                  f"{m.stall * 1000:>9.1f} {m.gc_pause * 1000:>7.1f}")
    for label, measured in bursts.items():
        latencies = [s for m in measured for s in m.burst.latencies]
        p99 = percentile(latencies, 99)
        answered = sum(m.answered for m in measured)
        rate = statistics.median(MEMBERS / m.burst.span for m in measured)
        print(f"[{engine}] {label}: {answered:,}/{MEMBERS * len(measured):,} answered; median "
              f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (target <= "
              f"{TARGET_P99 * 1000:.0f} ms: {'OK' if p99 <= TARGET_P99 else 'MISSED'}); {rate:.0f} commands/s; "
              f"worst loop stall {max(m.stall for m in measured) * 1000:.1f} ms, longest GC pause "
              f"{max(m.gc_pause for m in measured) * 1000:.1f} ms")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for engine, url in await engines.urls(Path(tmp), "burst"):
            await bench_engine(engine, url)

"""One bot process's scheduled work with Discord faked at the senders: in this process (`Process`, for the
in-process test) or as its own OS process (`python -m tests.shard_worker`, for the cross-process test), both in
tests/test_shard_ownership.py.

The scheduled work is wired as bot/app.py and the cogs wire it: a bot built by `create_bot` from settings with a
shard range (its own store, its ownership), the reminder dispatcher and the leaderboard posts on that store, and
Discord replaced by `FakeDiscord`, which records every send request with the process's name.

As an OS process the worker speaks JSON lines. It reads commands on stdin:

    {"tick": "<ISO instant>"}   run the reminders and the leaderboard posts due at that instant, side by side
    {"quit": true}              close the store and exit

and writes on stdout `{"ready": name}` once its store is open, one line per send request Discord got from it
(`{"dm": [guild, user, nonce]}` or `{"post": [guild, slot, nonce]}`) as it is made, and `{"ticked": instant,
"seconds": how long the tick took}` when a tick is done. Logs go to stderr. The options after the shard range
are for bench/bench_reminders.py (the production chunk and batch sizes, no pause, the real 40/s pacing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import StepwiseBot, create_bot
from bot.config import Settings
from bot.domain.reminders import SendWindow
from bot.services.posts import Board, LeaderboardPosts, Refused, Sent
from bot.services.reminders import ReminderDispatcher, ReminderMessage


@dataclass
class Requests:
    """Every send request Discord got, from either process."""

    dms: list[tuple[str, int, int, str]] = field(default_factory=list)  # (process, guild, user, nonce)
    posts: list[tuple[str, int, datetime, str]] = field(default_factory=list)  # (process, guild, slot, nonce)


@dataclass
class FakeDiscord:
    """Discord at one process's senders' boundary: every send request is recorded, with who made it.

    `pause()` is how long a request takes: by default one loop turn (the other process runs meanwhile); the OS
    worker passes a random pause of a few milliseconds, so two processes' chunks interleave in many ways.
    `on_send` is told of each request as it is made (the worker prints it).
    """

    name: str
    requests: Requests
    pause: Callable[[], float] = lambda: 0.0
    on_send: Callable[[str, tuple[object, ...]], None] | None = None

    async def open_dm(self, user_id: int) -> int:
        await asyncio.sleep(self.pause())
        return 9_000_000 + user_id

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        await asyncio.sleep(self.pause())  # a request takes a moment: the other process runs meanwhile
        self.requests.dms.append((self.name, message.guild_id, message.user_id, nonce))
        if self.on_send is not None:
            self.on_send("dm", (message.guild_id, message.user_id, nonce))
        return len(self.requests.dms)

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        await asyncio.sleep(self.pause())
        return True

    async def send_post(self, guild_id: int, channel_id: int | None, board: Board, nonce: str) -> Sent | Refused:
        await asyncio.sleep(self.pause())
        self.requests.posts.append((self.name, guild_id, board.slot, nonce))
        if self.on_send is not None:
            self.on_send("post", (guild_id, board.slot.isoformat(), nonce))
        return Sent(len(self.requests.posts))

    async def find_post(self, guild_id: int, channel_id: int | None, slot: datetime) -> int | None:
        return None


def sharded(settings: Settings, ids: tuple[int, ...] | None, count: int) -> Settings:
    """`settings` as one process of a sharded bot: `ids` of `count` shards (None: every one)."""
    return settings.model_copy(update={"shard_count": count, "shard_ids": ids})


@dataclass
class Process:
    bot: StepwiseBot
    reminders: ReminderDispatcher
    posts: LeaderboardPosts

    @classmethod
    async def start(cls, settings: Settings, discord_: FakeDiscord, *, chunk: int = 7, batch: int = 50,
                    paced: bool = False) -> Process:
        """One process's scheduled work on its own store (its own connections), its ownership from `settings`.

        By default small chunks (7 claims a transaction) and batches (50 due rows a read) make many claim
        transactions, so two processes' claims meet often, and pacing is lifted (the fake Discord has no rate
        limit); `paced` keeps the dispatcher's own window (its share of 40 requests a second)."""
        bot = create_bot(settings, interval_job=False)
        await bot.db.open()
        await bot.db.migrate()
        window = None if paced else SendWindow(rate=10**9)
        reminders = ReminderDispatcher(bot.db, bot.plan, discord_, window=window, chunk=chunk, batch=batch,
                                       ownership=bot.ownership)
        posts = LeaderboardPosts(bot.db, discord_, default_tz=ZoneInfo("UTC"), plan_total=bot.plan.total,
                                 ownership=bot.ownership)
        return cls(bot, reminders, posts)

    async def tick(self, now: datetime) -> None:
        await asyncio.gather(self.reminders.run_due(now), self.posts.tick(now))

    async def close(self) -> None:
        await self.bot.db.close()


class Worker:
    """The other side: one `python -m tests.shard_worker` OS process (its own interpreter, its own store on the
    database), driven by a test or a bench in this process."""

    def __init__(self, name: str, child: asyncio.subprocess.Process, sent: Requests) -> None:
        self.name, self.child, self.sent = name, child, sent

    @classmethod
    async def start(cls, url: str, name: str, ids: tuple[int, ...], count: int, sent: Requests, *, seed: int = 0,
                    options: tuple[str, ...] = ()) -> Worker:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.shard_worker", "--url", url, "--name", name,
            "--shard-ids", ",".join(map(str, ids)), "--shard-count", str(count), "--seed", str(seed), *options,
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return cls(name, child, sent)

    async def line(self) -> dict[str, Any]:
        assert self.child.stdout is not None
        raw = await asyncio.wait_for(self.child.stdout.readline(), WORKER_TIMEOUT)
        if not raw:
            raise AssertionError(f"worker {self.name} exited ({await self.child.wait()}) before answering")
        return json.loads(raw)  # type: ignore[no-any-return]

    async def until(self, key: str) -> dict[str, Any]:
        """Read lines until one with `key`, recording the send requests met on the way."""
        while True:
            message = await self.line()
            if "dm" in message:
                g, user, nonce = message["dm"]
                self.sent.dms.append((self.name, g, user, nonce))
            elif "post" in message:
                g, slot, nonce = message["post"]
                self.sent.posts.append((self.name, g, datetime.fromisoformat(slot), nonce))
            elif key in message:
                return message

    def send(self, command: dict[str, Any]) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write((json.dumps(command) + "\n").encode())

    async def close(self) -> None:
        if self.child.returncode is None:
            with contextlib.suppress(ConnectionError):
                self.send({"quit": True})
                assert self.child.stdin is not None
                await self.child.stdin.drain()
                self.child.stdin.close()
            try:
                await asyncio.wait_for(self.child.wait(), WORKER_TIMEOUT)
            except TimeoutError:
                self.child.kill()
                await self.child.wait()


ROOT = str(Path(__file__).resolve().parent.parent)
WORKER_TIMEOUT = 600.0  # a hang's bound, not a speed limit: a loaded machine is slow, not broken


def _emit(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def serve(url: str, name: str, ids: tuple[int, ...], count: int, seed: int, *, pause_ms: float = 3.0,
                chunk: int = 7, batch: int = 50, paced: bool = False) -> None:
    settings = Settings(_env_file=None, database_url=url, discord_token=None)  # type: ignore[call-arg]
    chance = random.Random(seed)
    discord_ = FakeDiscord(name, Requests(), pause=lambda: chance.uniform(0, pause_ms / 1000),
                           on_send=lambda kind, item: _emit({kind: list(item)}))
    process = await Process.start(sharded(settings, ids, count), discord_, chunk=chunk, batch=batch, paced=paced)
    try:
        _emit({"ready": name, "owns": process.bot.ownership.describe()})
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return  # the test went away
            command = json.loads(line)
            if command.get("quit"):
                return
            instant = datetime.fromisoformat(command["tick"])
            started = time.perf_counter()
            await process.tick(instant)
            _emit({"ticked": instant.isoformat(), "seconds": time.perf_counter() - started})
    finally:
        await process.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--shard-ids", required=True, help="comma-separated, e.g. 0,1")
    parser.add_argument("--shard-count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause-ms", type=float, default=3.0, help="each fake request takes 0 to this long")
    parser.add_argument("--chunk", type=int, default=7)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--paced", action="store_true", help="keep the dispatcher's window (its share of 40/s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=f"[{args.name}] %(levelname)s %(message)s")
    logging.getLogger("discord").setLevel(logging.ERROR)  # no voice here: its start-up warnings are noise
    ids = tuple(int(part) for part in args.shard_ids.split(","))
    asyncio.run(serve(args.url, args.name, ids, args.shard_count, args.seed, pause_ms=args.pause_ms,
                      chunk=args.chunk, batch=args.batch, paced=args.paced))


if __name__ == "__main__":
    main()

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
(`{"dm": [guild, user, nonce]}` or `{"post": [guild, slot, nonce]}`) as it is made, and `{"ticked": instant}`
when a tick is done. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
    async def start(cls, settings: Settings, discord_: FakeDiscord) -> Process:
        """One process's scheduled work on its own store (its own connections), its ownership from `settings`.

        Small chunks (7 claims a transaction) and batches (50 due rows a read) make many claim transactions, so
        two processes' claims meet often; pacing is lifted (the fake Discord has no rate limit)."""
        bot = create_bot(settings, interval_job=False)
        await bot.db.open()
        await bot.db.migrate()
        reminders = ReminderDispatcher(bot.db, bot.plan, discord_, window=SendWindow(rate=10**9), chunk=7,
                                       batch=50, ownership=bot.ownership)
        posts = LeaderboardPosts(bot.db, discord_, default_tz=ZoneInfo("UTC"), plan_total=bot.plan.total,
                                 ownership=bot.ownership)
        return cls(bot, reminders, posts)

    async def tick(self, now: datetime) -> None:
        await asyncio.gather(self.reminders.run_due(now), self.posts.tick(now))

    async def close(self) -> None:
        await self.bot.db.close()


def _emit(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def serve(url: str, name: str, ids: tuple[int, ...], count: int, seed: int) -> None:
    settings = Settings(_env_file=None, database_url=url, discord_token=None)  # type: ignore[call-arg]
    chance = random.Random(seed)
    discord_ = FakeDiscord(name, Requests(), pause=lambda: chance.uniform(0, 0.003),
                           on_send=lambda kind, item: _emit({kind: list(item)}))
    process = await Process.start(sharded(settings, ids, count), discord_)
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
            await process.tick(instant)
            _emit({"ticked": instant.isoformat()})
    finally:
        await process.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--shard-ids", required=True, help="comma-separated, e.g. 0,1")
    parser.add_argument("--shard-count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=f"[{args.name}] %(levelname)s %(message)s")
    ids = tuple(int(part) for part in args.shard_ids.split(","))
    asyncio.run(serve(args.url, args.name, ids, args.shard_count, args.seed))


if __name__ == "__main__":
    main()

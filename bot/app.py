"""Building the bot: `create_bot(settings)` wires settings, plan, database, cogs and scheduler."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord.ext import commands

from bot.config import Settings
from bot.domain.plan import Plan
from bot.domain.sharding import Ownership
from bot.services.tracks import TrackCatalog
from bot.tree import StepwiseTree
from bot.ui.pager import PageSource
from bot.ui.registry import register_components
from db.database import Database
from db.settings import COMMAND_HASH_KEY, get_meta, set_meta

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (  # in the order /help lists them
    "cogs.plan",
    "cogs.progress",
    "cogs.tracks",
    "cogs.reminders",
    "cogs.community",
    "cogs.data",
    "cogs.config",
    "cogs.insights",
    "cogs.announcements",
    "cogs.meta",
)
TICK_SECONDS = 30
DRAIN_SECONDS = 5.0  # close(): how long running scheduled work may take to finish and record what it sent

Clock = Callable[[], datetime]
ScheduledJob = Callable[[datetime], Awaitable[None]]


def intents_for(settings: Settings) -> discord.Intents:
    """The default intents, plus the privileged members intent when MEMBERS_INTENT is on."""
    intents = discord.Intents.default()
    intents.members = settings.members_intent
    return intents


class StepwiseBot(commands.AutoShardedBot):
    """The bot and the resources it owns. Build it with `create_bot`.

    Sharded (discord.py's AutoShardedBot): with no shard settings one process runs every shard Discord
    recommends; with SHARD_COUNT / SHARD_IDS it runs those shards, and `ownership` keeps its scheduled work
    (reminders, leaderboard posts) to the servers on them (bot.sharding).
    """

    def __init__(self, settings: Settings, plan: Plan, *, clock: Clock | None = None,
                 extensions: tuple[str, ...] = EXTENSIONS, freeze_heap: bool = False,
                 interval_job: bool = True) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents_for(settings),
            chunk_guilds_at_startup=False,  # the member-remove/join events need no member list
            tree_cls=StepwiseTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,  # type: ignore[arg-type]  # None: every shard
        )
        self.settings = settings
        self.ownership: Ownership = settings.ownership
        self.plan = plan
        self.clock: Clock = clock or discord.utils.utcnow
        self.db = Database(settings.database_target)
        self.tracks = TrackCatalog(self.db, plan)  # the plans each server offers; plan 0 is `plan`
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.extension_names = extensions
        self.synced = False  # whether this start-up pushed the command tree to Discord
        self.page_sources: dict[str, PageSource] = {}  # paged lists, by kind (see bot.ui.pager)
        self._scheduled_jobs: dict[str, ScheduledJob] = {}
        # Lanes (issue 8 §1): each scheduled job runs under its own lock, beside the others, so leaderboard posts
        # never wait behind the reminder fan-out. `draining` (set by close()) stops new work from starting.
        self._lanes: dict[str, asyncio.Lock] = {}
        self._lane_tasks: dict[str, set[asyncio.Task[None]]] = {}
        self.draining = False
        self.freeze_heap = freeze_heap  # see setup_hook: for the long-running bot, not for tests
        # The real 30-second APScheduler job. Tests turn it off and call run_scheduled(now) themselves.
        self.interval_job = interval_job

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        log.info("running %s: scheduled work for the servers on them", self.ownership.describe())
        await self.db.open()
        await self.db.migrate()
        register_components(self)  # every persistent button, whatever cogs load
        for name in self.extension_names:
            await self.load_extension(name)
        await self.sync_commands_if_changed()
        if self.interval_job:
            self.scheduler.add_job(self._tick, "interval", seconds=TICK_SECONDS, id="stepwise-tick",
                                   max_instances=1, coalesce=True, misfire_grace_time=TICK_SECONDS)
            self.scheduler.start()
        if self.freeze_heap:
            # Everything built so far lives as long as the process: keep it out of the collector's full
            # passes, which otherwise stop the event loop for ~20 ms now and then (bench_reminders, loop lag).
            gc.collect()
            gc.freeze()

    async def close(self) -> None:
        # Drain first (issue 8 §1): no new scheduled work; running lanes stop claiming, and what they already
        # claimed is sent and recorded (bounded by DRAIN_SECONDS); then HTTP and the database close.
        self.draining = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        try:
            await self._drain_lanes(DRAIN_SECONDS)
        finally:
            try:
                await super().close()
            finally:
                await self.db.close()

    # ------------------------------------------------------------------ commands

    def command_tree_hash(self) -> str:
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        payload = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands(guild=guild)]
        payload.sort(key=lambda c: str(c.get("name")))
        text = json.dumps({"guild": self.settings.dev_guild_id, "commands": payload}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    async def sync_commands_if_changed(self, *, force: bool = False) -> bool:
        """Push the command tree to Discord only when it differs from the last one pushed."""
        if self.settings.dev_guild_id:
            self.tree.copy_global_to(guild=discord.Object(self.settings.dev_guild_id))
        digest = self.command_tree_hash()
        if not force and await get_meta(self.db, COMMAND_HASH_KEY) == digest:
            log.info("command tree unchanged; not syncing")
            return False
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        synced = await self.tree.sync(guild=guild)
        await set_meta(self.db, COMMAND_HASH_KEY, digest)
        self.synced = True
        log.info("synced %d commands %s", len(synced), f"to guild {guild.id}" if guild else "globally")
        return True

    # ------------------------------------------------------------------ scheduled work

    def add_scheduled_job(self, name: str, job: ScheduledJob) -> None:
        """Register work for `run_scheduled`. Jobs must be idempotent for the same `now`."""
        self._scheduled_jobs[name] = job

    def remove_scheduled_job(self, name: str) -> None:
        self._scheduled_jobs.pop(name, None)

    async def run_scheduled(self, now: datetime | None = None) -> None:
        """Run every scheduled job due at `now` (default: the clock), each in its own lane, side by side.

        Returns when every lane is done. Safe to call again for the same instant. Nothing starts while closing.
        """
        instant = now or self.clock()
        if self.draining:
            return
        lanes = [self._start_lane(name, job, instant) for name, job in list(self._scheduled_jobs.items())]
        if lanes:
            await asyncio.gather(*lanes)

    def _start_lane(self, name: str, job: ScheduledJob, instant: datetime) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run_lane(name, job, instant), name=f"stepwise-lane-{name}")
        running = self._lane_tasks.setdefault(name, set())
        running.add(task)
        task.add_done_callback(running.discard)
        return task

    async def _run_lane(self, name: str, job: ScheduledJob, instant: datetime) -> None:
        async with self._lanes.setdefault(name, asyncio.Lock()):
            if self.draining:
                return
            try:
                await job(instant)
            except Exception:
                log.exception("scheduled job %s failed at %s", name, instant.isoformat())

    async def _drain_lanes(self, seconds: float) -> None:
        """Wait (at most `seconds`) for running lanes to finish; then cancel what is left."""
        current = asyncio.current_task()
        running = [t for tasks in self._lane_tasks.values() for t in tasks if t is not current and not t.done()]
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=seconds)
        for task in pending:
            log.warning("scheduled lane %s did not finish within %.0f s of close(); cancelled", task.get_name(),
                        seconds)
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _tick(self) -> None:
        """The interval job: start each lane that is not already running, and return at once."""
        if not self.is_ready() or self.draining:
            return
        instant = self.clock()
        for name, job in list(self._scheduled_jobs.items()):
            if not any(not task.done() for task in self._lane_tasks.get(name, ())):
                self._start_lane(name, job, instant)


def create_bot(settings: Settings, *, clock: Clock | None = None, **kwargs: Any) -> StepwiseBot:
    """A fresh, unstarted bot. Raises SettingsError when the plan cannot be loaded."""
    return StepwiseBot(settings, settings.load_plan(), clock=clock, **kwargs)

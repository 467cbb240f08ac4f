"""The reminder tick, in one place: select what is due, claim, send through a `Sender`, record. No discord here.

Each DM is a delivery with a durable state (db/reminders.py, `reminder_deliveries`):

1. claimed: committed before anything is sent (a chunk of up to CHUNK in one transaction). When the database
   refuses the write (read-only file, full disk), the tick stops and nothing unclaimed is sent.
2. sent (message id) or failed (reason): recorded with the chunk's sent-records and advanced due instants in one
   transaction. A claim left by a crash stays "claimed"; it is sent again only after CLAIM_GRACE, with the same
   nonce (derived from the delivery), so Discord returns the message it already created instead of a second.

Every member is handled on their own: building their DM, checking they are still in the server (one REST lookup
at most once a week) and sending it are inside one try. A failure is logged with guild and member and never
aborts or repeats another member's DM. A member whose DM cannot be built, or who left the server, is paused with
the reason (shown in /remind status); closed DMs pause too; other failures are retried on the next tick.

`stop()` (bot.close() draining) makes the tick claim nothing more; what is claimed is sent and recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.domain.plan import Plan, Step
from bot.domain.progress import Status, StepState, Streak, current_step, streaks
from bot.domain.reminders import (
    SENDERS,
    Delivery,
    DeliveryKind,
    PauseReason,
    Reminder,
    Schedule,
    SendWindow,
    chunked,
    delivery_nonce,
    delivery_slot,
    plan_delivery,
    send_rate_for,
)
from bot.domain.sharding import Ownership
from bot.domain.timeutil import local_date
from bot.domain.tracks import Track, TrackUnavailable
from bot.services.tracks import TrackCatalog
from db import reminders as store
from db.database import Database
from db.insights import prune_weekly_active

log = logging.getLogger(__name__)

ACTIVE_WEEKS_KEPT = timedelta(weeks=14)  # /insights shows 12 weeks of active learners: older rows are pruned

CHUNK = 40  # deliveries claimed, sent and recorded together: about one second of sending
BATCH = 5000  # due reminders read at once; a tick reads batches until none is left
CLAIM_GRACE = timedelta(minutes=2)  # a claim older than this was left by a crash: send again, same nonce
MEMBER_CHECK_EVERY = timedelta(days=7)  # confirm membership (one REST lookup) at most this often per member
DOWNTIME_GAP = timedelta(minutes=2)  # no tick for longer than this counts as downtime ("a little late")


# ---------------------------------------------------------------------------- the Discord boundary


class DmsClosed(Exception):
    """The member does not accept DMs from the bot (Discord 50007): pause their reminder."""


class ChannelGone(Exception):
    """The stored DM channel no longer exists: open a new one next time."""


class Unbuildable(Exception):
    """The DM could not be rendered from the member's data: pause their reminder."""


@dataclass(frozen=True, slots=True)
class ReminderMessage:
    """What one reminder DM says; the sender renders it."""

    guild_id: int
    user_id: int
    kind: DeliveryKind
    for_date: date
    schedule: Schedule
    step: Step | None  # None: the member finished the plan
    done: int
    streak: Streak
    plan: Plan | None = None  # the member's track's plan (None: the dispatcher's plan)
    plan_id: int = 0  # the member's track (0: the bundled plan)
    track_name: str | None = None  # named in the DM when it is a server's own plan
    unavailable: str | None = None  # the member's track cannot be used: why (TrackUnavailable), instead of a step


class Sender(Protocol):
    """The three things the tick asks of Discord. Implementations raise DmsClosed / ChannelGone / Unbuildable
    for those cases; any other exception is a passing failure (retried on the next tick)."""

    async def open_dm(self, user_id: int) -> int:
        """Open (or find) the DM channel with a user; its id."""
        ...

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        """Send the reminder DM with this nonce (enforced); the message id."""
        ...

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        """Whether the user is still in the server (one REST lookup); raises when it cannot tell."""
        ...


# ---------------------------------------------------------------------------- the dispatcher


@dataclass(frozen=True, slots=True)
class _Job:
    due: store.DueReminder
    delivery: Delivery
    claim: store.Claim

    @property
    def reminder(self) -> Reminder:
        return self.due.reminder


class ReminderDispatcher:
    """Runs the reminder tick for `now`: `await dispatcher.run_due(now)`. Idempotent for the same `now`."""

    def __init__(self, db: Database, plan: Plan, sender: Sender, *, window: SendWindow | None = None,
                 senders: int = SENDERS, chunk: int = CHUNK, batch: int = BATCH, grace: timedelta = CLAIM_GRACE,
                 stopping: Callable[[], bool] | None = None, ownership: Ownership | None = None,
                 tracks: TrackCatalog | None = None) -> None:
        self.db = db
        self.tracks = tracks  # each member's track (None: everyone follows `plan`)
        self.ownership = ownership or Ownership.everything()  # only these shards' servers' reminders
        self.plan = plan
        self.sender = sender
        # At most 40 requests a second across ticks, for the whole bot: a process running part of the shards takes
        # its part of that (Discord's global limit is per bot token, shared by every process).
        self.window = window or SendWindow(rate=send_rate_for(self.ownership.share))
        self.senders = senders
        self.chunk = chunk
        self.batch = batch
        self.grace = grace
        self._stopping = stopping or (lambda: False)
        self._stopped = False
        self.online_since: datetime | None = None  # start of the current stretch of ticks without a gap
        self._ticked_until: datetime | None = None
        self._tracks: dict[tuple[int, int], Track | TrackUnavailable] = {}
        self._last_prune: str | None = None

    def stop(self) -> None:
        """Claim nothing more (what is already claimed is still sent and recorded)."""
        self._stopped = True

    @property
    def stopping(self) -> bool:
        return self._stopped or self._stopping()

    async def run_due(self, now: datetime) -> None:
        """Send every reminder due at `now`, batch after batch, chunk after chunk; stop early when stopping."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.online_since is None or (self._ticked_until is not None
                                         and now - self._ticked_until > DOWNTIME_GAP):
            self.online_since = now  # first tick of this process, or after a stretch without ticks
        self._tracks.clear()  # read again each tick: members switch tracks, plans are updated
        try:
            after: tuple[str, int, int] | None = None
            while not self.stopping:
                due = await store.due_reminders(self.db, now, limit=self.batch, after=after,
                                                ownership=self.ownership)
                if not due:
                    break
                after = due[-1].position
                await self._run_batch(due, now)
                if len(due) < self.batch:
                    break
            day = now.date().isoformat()
            if self._last_prune != day and not self.stopping:
                self._last_prune = day
                await store.prune_sent_records(self.db, now)
                await prune_weekly_active(self.db, now.date() - ACTIVE_WEEKS_KEPT)
        finally:
            ended = now + timedelta(seconds=loop.time() - started)
            self._ticked_until = max(ended, self._ticked_until) if self._ticked_until else ended

    async def _run_batch(self, due: Sequence[store.DueReminder], now: datetime) -> None:
        quiet: list[store.TickResult] = []
        jobs: list[_Job] = []
        for index, item in enumerate(due):
            reminder = item.reminder
            try:
                delivery = plan_delivery(reminder, now, item.sent_dates, online_since=self.online_since)
            except Exception:
                log.exception("cannot plan the reminder of member %s in guild %s; skipped this tick",
                              reminder.user_id, reminder.guild_id)
                continue
            if delivery.sends and delivery.for_date and delivery.kind:
                slot = delivery_slot(delivery, reminder.snooze_until)
                claim = store.Claim(reminder.guild_id, reminder.user_id, delivery.for_date, slot, delivery.kind,
                                    delivery_nonce(reminder.guild_id, reminder.user_id, delivery.for_date, slot))
                jobs.append(_Job(item, delivery, claim))
            else:
                quiet.append(store.TickResult(reminder, delivery))
            if index % 100 == 99:
                await asyncio.sleep(0)  # keep the loop responsive while planning a big batch (~0.5 ms per 100)
        if quiet:
            await store.record_tick(self.db, quiet, now)
        for chunk in chunked(jobs, self.chunk):
            if self.stopping:
                return
            await self._run_chunk(chunk, now)

    async def _run_chunk(self, chunk: Sequence[_Job], now: datetime) -> None:
        # 1. Claim before sending: if the database refuses, this raises and nothing of the chunk is sent.
        decisions = await store.claim_deliveries(self.db, [job.claim for job in chunk], now, self.grace)
        results: list[store.TickResult] = []
        to_send: list[_Job] = []
        for job in chunk:
            decision = decisions[job.claim.key]
            if decision.send:
                to_send.append(job)
            elif decision.message_id is not None:  # sent before, its record lost: advance, do not send again
                results.append(store.TickResult(job.reminder, job.delivery, decision.message_id))
            # else: a recent claim (a crash moments ago): leave it due until its grace period ends
        if to_send:
            try:
                states = await store.progress_of(self.db, [(j.reminder.guild_id, j.reminder.user_id)
                                                           for j in to_send])
                if self.tracks is not None:
                    self._tracks.update(await self.tracks.for_members([(j.reminder.guild_id, j.reminder.user_id)
                                                                   for j in to_send]))
            except Exception:
                log.exception("cannot read progress for %d reminders; their claims are retried after %s",
                              len(to_send), self.grace)
                raise
            results += await self._send_all(to_send, states, now)
        # 2. Record: sent / failed, the sent-records and the advanced due instants, in one transaction.
        try:
            await store.record_tick(self.db, results, now)
        except Exception:
            log.exception("cannot record %d reminder results; the sent ones are claimed and will not be sent "
                          "again before %s (then with the same nonce)", len(results), self.grace)
            raise

    async def _send_all(self, jobs: Sequence[_Job], states: dict[tuple[int, int], dict[int, StepState]],
                        now: datetime) -> list[store.TickResult]:
        queue = list(jobs)
        results: list[store.TickResult] = []

        async def worker() -> None:
            while queue:
                job = queue.pop(0)
                results.append(await self._send_one(job, states.get((job.reminder.guild_id,
                                                                     job.reminder.user_id), {}), now))
                await asyncio.sleep(0)  # let the loop run between DMs even when a request completes at once

        await asyncio.gather(*(worker() for _ in range(min(self.senders, len(queue)))))
        return results

    async def _slot(self) -> None:
        """Wait for a free request slot (at most the window's rate in any second)."""
        loop = asyncio.get_running_loop()
        for _ in range(10_000):
            wait = self.window.take(loop.time())
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _message(self, job: _Job, states: dict[int, StepState], now: datetime) -> ReminderMessage:
        reminder, delivery = job.reminder, job.delivery
        tz = reminder.schedule.tz
        track = self._tracks.get((reminder.guild_id, reminder.user_id)) if self.tracks is not None else None
        if isinstance(track, TrackUnavailable):  # their track's plan cannot be read or was removed: the DM says
            # so (and how to go on) instead of naming a step of another plan; nothing is paused
            return ReminderMessage(reminder.guild_id, reminder.user_id, delivery.kind or DeliveryKind.DAILY,
                                   job.claim.for_date, reminder.schedule, None, 0, Streak(0, 0), self.plan,
                                   track.plan_id, track.name, unavailable=track.message)
        plan = track.plan if track is not None else self.plan
        step = current_step(plan, states)
        done_times = [s.done_at for s in states.values() if s.status is Status.DONE and s.done_at]
        return ReminderMessage(reminder.guild_id, reminder.user_id, delivery.kind or DeliveryKind.DAILY,
                               job.claim.for_date, reminder.schedule, step, len(done_times),
                               streaks(done_times, tz, local_date(now, tz)), plan,
                               track.plan_id if track is not None else 0,
                               None if track is None or track.bundled else track.name)

    async def _send_one(self, job: _Job, states: dict[int, StepState], now: datetime) -> store.TickResult:
        """One member's delivery, fully isolated: never raises (except cancellation)."""
        reminder, claim = job.reminder, job.claim
        guild_id, user_id = reminder.guild_id, reminder.user_id
        try:
            message = self._message(job, states, now)
        except Exception as error:
            log.exception("the reminder of member %s in guild %s cannot be built from their data; pausing it",
                          user_id, guild_id)
            return store.TickResult(reminder, pause=PauseReason.UNREADABLE, claim=claim,
                                    failure=f"unreadable: {error!r}")
        checked = False
        last_check = job.due.member_checked_at
        if last_check is None or now - last_check >= MEMBER_CHECK_EVERY:
            try:
                await self._slot()
                member = await self.sender.is_member(guild_id, user_id)
            except Exception as error:
                log.warning("cannot check that member %s is still in guild %s (%r); sending anyway",
                            user_id, guild_id, error)
            else:
                if not member:
                    log.info("member %s left guild %s: pausing their reminder", user_id, guild_id)
                    return store.TickResult(reminder, pause=PauseReason.LEFT_SERVER, claim=claim,
                                            failure="left_server", member_checked=True)
                checked = True
        channel_id = reminder.dm_channel_id
        try:
            if channel_id is None:
                await self._slot()
                channel_id = await self.sender.open_dm(user_id)
            await self._slot()
            message_id = await self.sender.send_dm(channel_id, message, claim.nonce)
        except DmsClosed:
            log.info("DMs closed for member %s: pausing their reminder in guild %s", user_id, guild_id)
            return store.TickResult(reminder, pause=PauseReason.DMS_CLOSED, dm_channel_id=channel_id, claim=claim,
                                    failure="dms_closed", member_checked=checked)
        except Unbuildable as error:
            log.error("the reminder DM of member %s in guild %s cannot be rendered (%r); pausing it",
                      user_id, guild_id, error.__cause__ or error)
            return store.TickResult(reminder, pause=PauseReason.UNREADABLE, dm_channel_id=channel_id, claim=claim,
                                    failure=f"unreadable: {error.__cause__ or error!r}", member_checked=checked)
        except ChannelGone as error:
            log.warning("reminder DM to member %s in guild %s: channel gone (%s); retrying next tick", user_id,
                        guild_id, error)
            try:
                await store.forget_dm_channel(self.db, user_id)
            except Exception:
                log.exception("cannot forget the DM channel of user %s", user_id)
            return store.TickResult(reminder, claim=claim, failure=f"channel gone: {error}", member_checked=checked)
        except Exception as error:
            log.warning("reminder DM to member %s in guild %s failed (%r); retrying next tick", user_id, guild_id,
                        error)
            return store.TickResult(reminder, dm_channel_id=channel_id, claim=claim, failure=repr(error),
                                    member_checked=checked)
        return store.TickResult(reminder, job.delivery, message_id, message.step.number if message.step else None,
                                channel_id, claim=claim, member_checked=checked)

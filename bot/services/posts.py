"""Scheduled leaderboard posts, exactly once: claim the slot, send with its nonce, record what happened.

Each slot of a server's schedule is a durable delivery (`db.posts`): claimed (committed before the send, with a
nonce derived from the server and the slot) -> posted (message id) or failed (reason). A refusal (no channel,
missing permission, a 4xx answer) fails the slot for good. Anything else (a crash, a cancelled tick, a network
error that is not an HTTP answer, a 5xx) leaves it claimed: after `GRACE` it is tried again, with the same nonce,
until the slot is `LATE_LIMIT` old, then it is given up. A retry first looks in the channel for the post the
lost attempt may have made (Discord's nonce check only covers a few minutes), so a slot is never posted twice.
Every problem is the server's last `leaderboard_post` failure in `/config show`.

No discord import: the cog implements `PostSender`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain.community import LATE_LIMIT, Ranked, due_slots, period_storage_key, previous_week_key
from bot.domain.sharding import Ownership
from bot.domain.timeutil import local_date
from bot.domain.tracks import BUNDLED, track_key
from bot.services.tracks import TrackCatalog
from db.community import DuePost, due_posts, get_settings, on_pace, top
from db.database import Database
from db.posts import PostClaim, claim_slot, record_posted, record_problem, stale_claims, start_retry
from db.settings import get_guild_timezone

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=2)  # a claim this old with no outcome is retried (its attempt crashed or was lost)
NONCE_LENGTH = 25  # Discord's limit for a nonce string


def post_nonce(guild_id: int, slot: datetime) -> str:
    """The nonce of one server's slot: the same on every attempt, different for every slot, 25 characters."""
    digest = hashlib.sha256(f"leaderboard:{guild_id}:{slot.astimezone(UTC).isoformat()}".encode()).hexdigest()
    return "lb" + digest[:NONCE_LENGTH - 2]


def _utc(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class TrackBoard:
    """The board of one of a server's own plans (a track), posted beside the bundled plan's."""

    name: str
    total: int  # the track's steps
    rows: Sequence[Ranked]
    movers: Sequence[Ranked]
    movers_label: str


MAX_TRACK_BOARDS = 10  # a server's own plans at most (plan_upload.MAX_PLANS): the renderer fits them into one
# message (10 embeds, 6,000 characters) and says how many it had to leave out


@dataclass(frozen=True, slots=True)
class Board:
    """What one scheduled post shows (the sender renders it)."""

    slot: datetime
    late: bool
    rows: Sequence[Ranked]
    movers: Sequence[Ranked]
    movers_label: str  # "this week" / "last week"
    cohort_line: str | None
    tracks: Sequence[TrackBoard] = ()  # the server's own plans with somebody ranked on them, oldest first
    track_name: str | None = None  # the bundled plan's name, when there are track boards beside it


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Discord (or the channel's state) said no: retrying the same slot would not help."""

    reason: str


class PostSender(Protocol):
    async def send_post(self, guild_id: int, channel_id: int | None, board: Board, nonce: str) -> Sent | Refused:
        """Post `board` with `nonce`. Raise when the outcome is unknown (network error, 5xx): it is retried."""

    async def find_post(self, guild_id: int, channel_id: int | None, slot: datetime) -> int | None:
        """The id of my post for `slot` if it is already in the channel (None when absent or not checkable)."""


class LeaderboardPosts:
    """The scheduled-post use case: `tick(now)` is the scheduled job."""

    def __init__(self, db: Database, sender: PostSender, *, default_tz: ZoneInfo, plan_total: int,
                 ownership: Ownership | None = None, tracks: TrackCatalog | None = None) -> None:
        self.db = db
        self.tracks = tracks  # the server's own plans get a board each (None: the bundled plan's only)
        self.ownership = ownership or Ownership.everything()  # only these shards' servers' posts
        self.sender = sender
        self.default_tz = default_tz
        self.plan_total = plan_total
        self._in_flight: set[tuple[int, datetime]] = set()  # attempts running in this process: never retried

    async def tick(self, now: datetime) -> None:
        """Claim and post every slot due at `now`, then retry claims left without an outcome."""
        for due in await due_posts(self.db, now, ownership=self.ownership):
            try:
                await self._claim_due(due, now)
            except Exception:
                log.exception("leaderboard post for guild %s at %s failed", due.guild_id, now.isoformat())
        for claim in await stale_claims(self.db, attempted_before=now - GRACE, ownership=self.ownership):
            if (claim.guild_id, claim.slot) in self._in_flight:
                continue
            try:
                await self._retry(claim, now)
            except Exception:
                log.exception("leaderboard retry for guild %s, slot %s failed", claim.guild_id,
                              claim.slot.isoformat())

    async def _claim_due(self, due: DuePost, now: datetime) -> None:
        tz = await get_guild_timezone(self.db, due.guild_id, self.default_tz)
        decision = due_slots(due.next_slot, now, due.schedule, tz)
        if decision is None:
            return
        if decision.post is None:
            log.info("guild %s: skipping %d leaderboard slot(s) older than the late limit", due.guild_id,
                     decision.skipped)
        claim = await claim_slot(
            self.db, due.guild_id, due.next_slot, decision.next, post=decision.post, late=decision.late,
            nonce=post_nonce(due.guild_id, decision.post or due.next_slot), channel_id=due.channel_id, now=now)
        if claim is not None:
            await self._attempt(claim, now, look_first=False)

    async def _retry(self, claim: PostClaim, now: datetime) -> None:
        if now - claim.slot > LATE_LIMIT:
            reason = (f"I gave up on the leaderboard due {_utc(claim.slot)}: it could not be posted (or confirmed) "
                      f"within {LATE_LIMIT.total_seconds() / 3600:g} hours. Last problem: "
                      f"{claim.reason or 'the bot stopped while posting'}")
            log.warning("guild %s: %s", claim.guild_id, reason)
            await record_problem(self.db, claim, reason, final=True, now=now)
            return
        taken = await start_retry(self.db, claim, now)
        if taken is not None:
            log.info("guild %s: retrying the leaderboard due %s (attempt %d)", claim.guild_id,
                     claim.slot.isoformat(), taken.attempts)
            await self._attempt(taken, now, look_first=True)

    async def _attempt(self, claim: PostClaim, now: datetime, *, look_first: bool) -> None:
        key = (claim.guild_id, claim.slot)
        self._in_flight.add(key)
        try:
            try:
                found = await self.sender.find_post(claim.guild_id, claim.channel_id, claim.slot) \
                    if look_first else None
                outcome = Sent(found) if found is not None else await self.sender.send_post(
                    claim.guild_id, claim.channel_id, await self._board(claim), claim.nonce)
            except Exception as error:
                reason = (f"Posting the leaderboard due {_utc(claim.slot)} did not finish "
                          f"({type(error).__name__}: {error}). I will try again until "
                          f"{_utc(claim.slot + LATE_LIMIT)}.")
                log.warning("guild %s: %s", claim.guild_id, reason, exc_info=True)
                await record_problem(self.db, claim, reason, final=False, now=now)
                return
            if isinstance(outcome, Sent):
                await record_posted(self.db, claim, outcome.message_id, now)
            else:
                log.warning("guild %s: leaderboard post failed: %s", claim.guild_id, outcome.reason)
                await record_problem(self.db, claim, outcome.reason, final=True, now=now)
        finally:
            self._in_flight.discard(key)

    async def _board(self, claim: PostClaim) -> Board:
        guild_id, slot = claim.guild_id, claim.slot
        tz = await get_guild_timezone(self.db, guild_id, self.default_tz)
        rows, movers, label = await self._ranked(guild_id, slot, tz, BUNDLED)
        settings = await get_settings(self.db, guild_id)
        cohort_line = None
        if settings.cohort:
            expected = settings.cohort.expected(local_date(slot, tz), self.plan_total)
            ahead, members = await on_pace(self.db, guild_id, expected)
            cohort_line = (f"**{ahead}** of {members} members are on pace or ahead "
                           f"(at least {expected} step{'' if expected == 1 else 's'} by today).")
        boards: list[TrackBoard] = []
        name = None
        if self.tracks is not None:
            own = [t for t in await self.tracks.tracks(guild_id) if not t.bundled]
            for track in own[:MAX_TRACK_BOARDS]:
                t_rows, t_movers, t_label = await self._ranked(guild_id, slot, tz, track.plan_id)
                if t_rows:
                    boards.append(TrackBoard(track.name, track.plan.total, t_rows, t_movers, t_label))
            name = self.tracks.bundled.name if boards else None
        return Board(slot, claim.late, rows, movers, label, cohort_line, tuple(boards), name)

    async def _ranked(self, guild_id: int, slot: datetime, tz: ZoneInfo,
                      plan_id: int) -> tuple[list[Ranked], list[Ranked], str]:
        """Top 10 of one track, its movers this week (else last week), and which week that is."""
        rows = await top(self.db, guild_id, None, 10, plan_id=plan_id)
        movers = await top(self.db, guild_id, track_key(period_storage_key(slot, tz, "week") or "", plan_id), 5)
        label = "this week"
        if not movers:
            movers, label = await top(self.db, guild_id, track_key(previous_week_key(slot, tz), plan_id), 5), \
                "last week"
        return rows, movers, label

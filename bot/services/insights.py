"""Insights for organisers: where a track's members are, how long its steps take, who is stalled; and nudges.

`report` reads the track's summaries (db/insights.py) and computes the picture (bot.domain.insights). `nudge`
sends each stalled member one friendly DM: claimed durably before the send (at most one a week per member, a
deterministic nonce, so a retry or a second organiser never doubles it), then recorded sent or failed. Members
who hid themselves are never named nor nudged; closed DMs are recorded and skipped. Discord is behind `Nudger`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain.insights import (
    NUDGE_EVERY,
    WEEKS_SHOWN,
    Insights,
    InsightsInput,
    Stalled,
    compute_insights,
    nudge_nonce,
    nudge_text,
    stalled_cutoff,
)
from bot.domain.timeutil import local_date, monday_of
from bot.domain.tracks import Track
from db import insights as store
from db.database import Database

log = logging.getLogger(__name__)

NUDGES_PER_PRESS = 100  # DMs one press sends at most (Discord allows the bot ~50 requests a second in all)
CLAIM_GRACE = timedelta(minutes=2)  # a claim this old, never finished, was left by a crash: sent again, same nonce


class DmsClosed(Exception):
    """The member does not accept DMs from the bot."""


class Nudger(Protocol):
    async def send_nudge(self, user_id: int, text: str, nonce: str) -> int:
        """Send the DM with this nonce (enforced); the message id. Raise DmsClosed when the member's DMs are
        closed; any other exception is a failure for this member only."""
        ...


@dataclass(frozen=True, slots=True)
class Report:
    insights: Insights
    hidden_stalled: int  # stalled members not named (hidden); counted in insights.stalled.total
    nudgeable: tuple[Stalled, ...]  # visible stalled members (the ones a Nudge would reach), longest first


@dataclass(frozen=True, slots=True)
class NudgeResult:
    sent: int = 0
    recent: int = 0  # nudged within the last week already
    closed: int = 0  # DMs closed
    failed: int = 0
    left_for_later: int = 0  # beyond NUDGES_PER_PRESS


async def report(db: Database, guild_id: int, track: Track, now: datetime, tz: ZoneInfo) -> Report:
    today = local_date(now, tz)
    first_week = monday_of(today) - timedelta(weeks=WEEKS_SHOWN - 1)
    plan = track.plan
    sums = await store.track_summaries(db, guild_id, track.plan_id, last_step=plan.last_number,
                                       cutoff=stalled_cutoff(now), first_week=first_week)
    on_step = {step: n for step, n in sums.on_step.items() if step <= plan.last_number}
    finished = sum(n for step, n in sums.on_step.items() if step > plan.last_number)
    visible = [Stalled(r.user_id, r.step, r.since) for r in sums.stalled if r.visible]
    hidden = sum(1 for r in sums.stalled if not r.visible)
    inp = InsightsInput(plan=plan, on_step=on_step, finished=finished, durations=sums.durations,
                        weekly_active=sums.weekly_active, stalled=visible, stalled_total=sums.stalled_total,
                        now=now, today=today)
    return Report(compute_insights(inp), hidden, tuple(visible))


async def still_stalled(db: Database, guild_id: int, track: Track, shown: tuple[Stalled, ...], *, now: datetime,
                        tz: ZoneInfo) -> tuple[Stalled, ...]:
    """Those of `shown` (a report made minutes ago) who are still stalled and visible now, where they are now:
    a member who hid themselves, moved on or left since is not nudged."""
    wanted = {member.user_id for member in shown}
    fresh = await report(db, guild_id, track, now, tz)
    return tuple(member for member in fresh.nudgeable if member.user_id in wanted)


async def nudge(db: Database, nudger: Nudger, guild_id: int, track: Track, stalled: tuple[Stalled, ...], *,
                now: datetime, tz: ZoneInfo, by: int | None) -> NudgeResult:
    """One DM to each of `stalled` (visible members only: the caller passes Report.nudgeable), each member's
    delivery isolated from the others'."""
    week = monday_of(local_date(now, tz))
    sent = recent = closed = failed = 0
    for member in stalled[:NUDGES_PER_PRESS]:
        step = track.plan.get(member.step)
        if step is None:
            continue
        nonce = nudge_nonce(guild_id, member.user_id, week)
        if not await store.claim_nudge(db, guild_id, member.user_id, week=week, plan_id=track.plan_id,
                                       step=step.number, nonce=nonce, now=now, by=by, every=NUDGE_EVERY,
                                       grace=CLAIM_GRACE):
            recent += 1
            continue
        try:
            message_id = await nudger.send_nudge(member.user_id, nudge_text(step, track.plan.title), nonce)
        except DmsClosed:
            closed += 1
            await store.finish_nudge(db, guild_id, member.user_id, week, now=now, message_id=None,
                                     reason="dms closed")
            continue
        except Exception as error:  # this member's failure only; recorded, not retried this week
            log.warning("nudge for user %s in guild %s failed", member.user_id, guild_id, exc_info=True)
            failed += 1
            await store.finish_nudge(db, guild_id, member.user_id, week, now=now, message_id=None,
                                     reason=f"{type(error).__name__}: {error}"[:500])
            continue
        sent += 1
        await store.finish_nudge(db, guild_id, member.user_id, week, now=now, message_id=message_id, reason=None)
    return NudgeResult(sent, recent, closed, failed, max(0, len(stalled) - NUDGES_PER_PRESS))

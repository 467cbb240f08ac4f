"""What /insights reads, from the summaries (never the raw progress rows), and the nudges' durable claims.

- where members are: `members` per track and current step (index members_track_step);
- how long steps take: `step_durations` (kept by db/progress.py with every write);
- active learners per week: `weekly_counts` (the same; `weekly_active` says who, so each counts once a week);
- stalled members: `members` on the track whose latest done step (or, with none, their start) is older than the
  cutoff, not finished and still in the server.
The cost is a group-by over the track's members plus a few index ranges: tens of milliseconds at 100,000 members
(bench/bench_insights.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select, update

from db.database import Database
from db.dialects import upsert
from db.progress import EPOCH
from db.tables import members, nudges, step_durations, weekly_active, weekly_counts

_m, _d, _w, _wc, _n = members.c, step_durations.c, weekly_active.c, weekly_counts.c, nudges.c
STALLED_LISTED = 200  # stalled members read by name at most (the count is always complete)


@dataclass(frozen=True, slots=True)
class StalledRow:
    user_id: int
    step: int
    since: datetime
    visible: bool


@dataclass(frozen=True)
class TrackSummaries:
    on_step: dict[int, int]  # current step -> members (steps beyond the plan: finished)
    durations: dict[int, dict[int, int]]  # step -> {days: members}
    weekly_active: list[tuple[date, int]]
    stalled: list[StalledRow]  # longest stalled first, at most STALLED_LISTED
    stalled_total: int


def _since() -> ColumnElement[Any]:
    """When a member's current stretch began: their latest done step, or their start if nothing is done."""
    return case((and_(_m.done_count > 0, _m.reached_at > EPOCH), _m.reached_at), else_=_m.created_at)


async def track_summaries(db: Database, guild_id: int, plan_id: int, *, last_step: int, cutoff: datetime,
                          first_week: date) -> TrackSummaries:
    """Everything /insights shows about one track, read in one snapshot (one awaited hop)."""
    on_track = (_m.guild_id == guild_id, _m.plan_id == plan_id, _m.left_at.is_(None))
    since = _since()

    def read(conn: Connection) -> TrackSummaries:
        on_step = {int(step): int(n) for step, n in conn.execute(
            select(_m.current_step, func.count()).where(*on_track).group_by(_m.current_step)).all()}
        durations: dict[int, dict[int, int]] = {}
        for step, days, count in conn.execute(
                select(_d.step, _d.days, _d.members).where(_d.guild_id == guild_id, _d.plan_id == plan_id,
                                                           _d.members > 0)).all():
            durations.setdefault(int(step), {})[int(days)] = int(count)
        weeks = [(week, int(n)) for week, n in conn.execute(
            select(_wc.week, _wc.members).where(_wc.guild_id == guild_id, _wc.plan_id == plan_id,
                                                _wc.week >= first_week)).all()
                 if isinstance(week, date)]
        stuck = (*on_track, _m.current_step <= last_step, since < cutoff)
        total = int(conn.execute(select(func.count()).where(*stuck)).scalar_one())
        rows = conn.execute(select(_m.user_id, _m.current_step, since.label("since"), _m.visible)
                            .where(*stuck).order_by(since, _m.user_id).limit(STALLED_LISTED)).all()
        stalled = [StalledRow(int(u), int(s), at, bool(v)) for u, s, at, v in rows if isinstance(at, datetime)]
        return TrackSummaries(on_step, durations, weeks, stalled, total)

    return await db.run_sync(read, write=False)


# ---------------------------------------------------------------------------------------------- nudges

async def last_nudges(db: Database, guild_id: int, users: Sequence[int]) -> dict[int, datetime]:
    """user -> when they were last nudged (claimed) in this server."""
    if not users:
        return {}
    rows = await db.fetchall(select(_n.user_id, func.max(_n.claimed_at))
                             .where(_n.guild_id == guild_id, _n.user_id.in_(list(users))).group_by(_n.user_id))
    return {int(u): at for u, at in (tuple(r) for r in rows) if isinstance(at, datetime)}


async def claim_nudge(db: Database, guild_id: int, user_id: int, *, week: date, plan_id: int, step: int,
                      nonce: str, now: datetime, by: int | None, every: timedelta,
                      grace: timedelta = timedelta(minutes=2)) -> bool:
    """Claim this week's nudge of the member before sending it: False when they had one within `every` or this
    week's is claimed already (two organisers pressing at once send one). A claim of this week older than
    `grace` that was never finished was left by a crash or a restart between claim and send: it is claimed again
    (True), and sent with the nonce it was claimed with, so Discord never shows it twice."""

    def write(conn: Connection) -> bool:
        mine = conn.execute(select(_n.state, _n.claimed_at).where(_n.guild_id == guild_id, _n.user_id == user_id,
                                                                  _n.week == week)).first()
        if mine is not None:
            state, claimed_at = mine
            if state != "claimed" or not isinstance(claimed_at, datetime) or now - claimed_at < grace:
                return False
            taken = conn.execute(update(nudges).where(  # only one retry wins, whoever else is retrying it
                _n.guild_id == guild_id, _n.user_id == user_id, _n.week == week, _n.state == "claimed",
                _n.claimed_at == claimed_at).values(claimed_at=now, by_user=by))
            return taken.rowcount == 1
        recent = conn.execute(select(func.max(_n.claimed_at)).where(_n.guild_id == guild_id,
                                                                    _n.user_id == user_id)).scalar()
        if isinstance(recent, datetime) and now - recent < every:
            return False
        inserted = conn.execute(
            upsert(nudges).values(guild_id=guild_id, user_id=user_id, week=week, plan_id=plan_id, step=step,
                                  nonce=nonce, state="claimed", claimed_at=now, by_user=by)
            .on_conflict_do_nothing(index_elements=["guild_id", "user_id", "week"]).returning(_n.user_id)).first()
        return inserted is not None

    return await db.run_sync(write)


async def finish_nudge(db: Database, guild_id: int, user_id: int, week: date, *, now: datetime,
                       message_id: int | None, reason: str | None) -> None:
    def write(conn: Connection) -> None:
        conn.execute(update(nudges).where(_n.guild_id == guild_id, _n.user_id == user_id, _n.week == week)
                     .values(state="sent" if message_id is not None else "failed", finished_at=now,
                             message_id=message_id, reason=reason))

    await db.run_sync(write)


async def nudge_states(db: Database, guild_id: int) -> list[tuple[int, date, str]]:
    """(user, week, state) of every nudge in the server (tests, /config show)."""
    rows = await db.fetchall(select(_n.user_id, _n.week, _n.state).where(_n.guild_id == guild_id)
                             .order_by(_n.user_id, _n.week))
    return [(int(u), w, str(s)) for u, w, s in (tuple(r) for r in rows)]


async def prune_weekly_active(db: Database, before: date) -> None:
    """Drop active-week rows older than the weeks /insights shows (called with the daily prune)."""

    def write(conn: Connection) -> None:
        conn.execute(weekly_active.delete().where(_w.week < before))

    await db.run_sync(write)

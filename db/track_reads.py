"""Reads (and one guarded write) across a server's tracks: the scope:all leaderboard, and a change that must
stay on the track the caller read.

The scope:all board ranks every visible member with a step done by the share of their own track they have
done (done / steps of that track), ties to whoever reached their count first, then the lower id, the order
`bot.domain.community.rank_key` uses within one track.

Cost. Per-track rankings come from the `members_track_rank` index, so nothing scans progress rows:
- a page (0-based `p`, `k` a page) reads the top `(p + 1) * k` members of each of the server's `T` tracks (an
  index range each) and merges them in Python: `T * (p + 1) * k` rows, at most 11 * 10 = 110 for the first
  page of a server with the most plans it may have. Deep pages cost more (page 50 reads up to 5,500 rows);
  the pager clamps to the pages there are.
- the caller's rank is counted, per track, from the `rank_counts` histogram (members per done count, one row
  per count: members with a higher share) plus an index range for the members with exactly the caller's share
  who got there first: two small reads per track, whatever the size of the server.
- the number ranked is the sum of the tracks' histograms.
All in one read snapshot (`Database.run_sync(write=False)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, func, literal_column, select, tuple_

from bot.domain.changes import plan_changes
from bot.domain.errors import UserError
from bot.domain.paging import page_slice
from bot.domain.tracks import track_key
from db.community import SHOWN
from db.database import Database
from db.progress import ChangeResult, Decide, _load_for_write, _lock_member, _write
from db.tables import members, rank_counts

_m, _rc = members.c, rank_counts.c


@dataclass(frozen=True, slots=True)
class ShareRanked:
    """One row of the scope:all board: rank, member, their track and how far they are on it."""

    rank: int
    user_id: int
    plan_id: int
    done: int
    total: int  # steps of their track
    reached_at: datetime

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


@dataclass(frozen=True, slots=True)
class ShareStanding:
    """The caller on the scope:all board: `rank` None when hidden, with nothing done, or on no listed track."""

    rank: int | None
    plan_id: int
    done: int
    total: int  # steps of their track (0 when it is not one of the tracks)
    hidden: bool
    ranked: int  # members ranked across all tracks


@dataclass(frozen=True, slots=True)
class ShareBoard:
    own: ShareStanding
    rows: list[ShareRanked]
    index: int
    count: int


def _key(done: int, total: int, reached_at: datetime, user_id: int) -> tuple[Fraction, datetime, int]:
    return (-Fraction(done, total), reached_at, user_id)


def _top(conn: Connection, guild_id: int, plan_id: int, limit: int) -> list[Any]:
    return list(conn.execute(
        select(_m.user_id, _m.done_count, _m.reached_at)
        .where(_m.guild_id == guild_id, _m.plan_id == plan_id, _m.visible == SHOWN, _m.done_count > literal_column("0"))
        .order_by(_m.done_count.desc(), _m.reached_at, _m.user_id).limit(limit)).all())


def _ranked_on(conn: Connection, guild_id: int, plan_id: int) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(_rc.members), 0))
                            .where(_rc.guild_id == guild_id, _rc.period == track_key("all", plan_id))).scalar_one())


def _ahead_on(conn: Connection, guild_id: int, plan_id: int, steps: int, *, done: int, total: int,
              reached_at: datetime, user_id: int) -> int:
    """Members of track `plan_id` (of `steps` steps) ranked ahead of a member with `done` of `total` steps.

    A share done'/steps is higher than done/total when done' * total > done * steps, that is when
    done' > floor(done * steps / total); equal when done' * total == done * steps exactly."""
    limit = done * steps // total
    higher = int(conn.execute(select(func.coalesce(func.sum(_rc.members), 0)).where(
        _rc.guild_id == guild_id, _rc.period == track_key("all", plan_id), _rc.done_count > limit)).scalar_one())
    if (done * steps) % total:
        return higher
    tied_first = int(conn.execute(select(func.count()).select_from(members).where(
        _m.guild_id == guild_id, _m.plan_id == plan_id, _m.visible == SHOWN, _m.done_count == limit,
        tuple_(_m.reached_at, _m.user_id) < tuple_(bindparam("r", reached_at, type_=_m.reached_at.type),
                                                   bindparam("u", user_id, type_=_m.user_id.type)))).scalar_one())
    return higher + tied_first


def _own(conn: Connection, guild_id: int, user_id: int, tracks: Mapping[int, int], ranked: int) -> ShareStanding:
    row = conn.execute(select(_m.visible, _m.plan_id, _m.done_count, _m.reached_at)
                       .where(_m.guild_id == guild_id, _m.user_id == user_id)).first()
    if row is None:  # never used the bot here
        return ShareStanding(None, 0, 0, 0, False, ranked)
    visible, plan_id, done, reached_at = bool(row[0]), int(row[1]), int(row[2]), row[3]
    total = tracks.get(plan_id, 0)
    if not visible or done == 0 or total == 0:
        return ShareStanding(None, plan_id, done, total, not visible, ranked)
    ahead = sum(_ahead_on(conn, guild_id, other, steps, done=done, total=total, reached_at=reached_at,
                          user_id=user_id) for other, steps in tracks.items() if steps > 0)
    return ShareStanding(ahead + 1, plan_id, done, total, False, ranked)


async def share_board(db: Database, guild_id: int, user_id: int, tracks: Mapping[int, int], page: int, *,
                      per_page: int) -> ShareBoard:
    """A page of the scope:all board and the caller's place on it. `tracks`: plan id -> steps of each track the
    server offers (members on any other plan id are left out)."""
    listed = {plan_id: steps for plan_id, steps in tracks.items() if steps > 0}

    def read(conn: Connection) -> ShareBoard:
        ranked = sum(_ranked_on(conn, guild_id, plan_id) for plan_id in listed)
        own = _own(conn, guild_id, user_id, listed, ranked)
        index, count, start = page_slice(ranked, page, per_page)
        found = [(int(u), plan_id, int(d), steps, r) for plan_id, steps in listed.items()
                 for u, d, r in (tuple(x) for x in _top(conn, guild_id, plan_id, start + per_page))]
        found.sort(key=lambda f: _key(f[2], f[3], f[4], f[0]))
        rows = [ShareRanked(start + i + 1, u, p, d, t, r)
                for i, (u, p, d, t, r) in enumerate(found[start:start + per_page])]
        return ShareBoard(own, rows, index, count)

    return await db.run_sync(read, write=False)


# ---------------------------------------------------------------------------------------------- guarded write

async def change_on_track(db: Database, guild_id: int, user_id: int, decide: Decide, now: datetime, *,
                          plan_id: int, default_tz: ZoneInfo) -> ChangeResult:
    """`db.progress.change_member`, but only while the member is still on track `plan_id` (the track whose
    plan `decide` validates step numbers against): a switch that lands between reading the track and this
    write makes it write nothing and raise a UserError instead of marking a step of the other track."""

    def change(conn: Connection) -> ChangeResult:
        _lock_member(conn, guild_id, user_id)
        loaded = _load_for_write(conn, guild_id, user_id, default_tz)
        if loaded.plan_id != plan_id:
            raise UserError("Your track changed just now, so nothing was changed: run the command again "
                            "(`/track list` shows your track).")
        changes = decide(loaded.member)
        if not changes:
            return ChangeResult(loaded.member, loaded.member, ())
        return _write(conn, loaded, plan_changes(loaded.member, changes, now, loaded.tz), now, record_history=True)

    return await db.run_sync(change)

"""A server's own plans (tracks) and members moving between them.

The live tables (progress, the summary in members, history, period_counts) hold each member's current track;
`parked_progress` keeps the step states of their other tracks, and those of steps an updated plan no longer has
(archived, never deleted: they come back when the member returns to the track or the step returns to the plan).
Every move is one transaction under the member's write lock (db/progress.py `_lock_member`), and ends with the
member's summary and period counts rebuilt from their live rows, so rankings stay exact.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, and_, bindparam, delete, func, insert, select, union, update
from sqlalchemy.exc import IntegrityError

from bot.domain.changes import PERIOD_KINDS, summarize
from bot.domain.errors import UserError
from bot.domain.plan_upload import name_key
from bot.domain.progress import Status
from bot.domain.timeutil import period_key
from bot.domain.tracks import BUNDLED, track_key
from db.database import Database
from db.dialects import upsert
from db.progress import (
    EPOCH,
    _lock_member,
    _read_member,
    _readable_zone,
    default_plan_of,
    ensure_member_sync,
    readable_state,
)
from db.tables import guild_settings, members, parked_progress, period_counts, plans, progress

log = logging.getLogger(__name__)

_pl, _pp, _p, _m = plans.c, parked_progress.c, progress.c, members.c


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One uploaded plan as stored (its Markdown `source` is parsed by the caller)."""

    plan_id: int
    name: str
    version: int
    title: str
    steps: int
    source: str
    uploaded_at: datetime | None
    uploaded_by: int | None
    removed_at: datetime | None = None


_COLUMNS = (_pl.plan_id, _pl.name, _pl.version, _pl.title, _pl.steps, _pl.source, _pl.uploaded_at,
            _pl.uploaded_by, _pl.removed_at)


def _row(row: Sequence[Any]) -> PlanRow:
    return PlanRow(int(row[0]), str(row[1]), int(row[2]), str(row[3]), int(row[4]), str(row[5]), row[6],
                   None if row[7] is None else int(row[7]), row[8])




async def list_plans(db: Database, guild_id: int, *, removed: bool = False) -> list[PlanRow]:
    """The server's uploaded plans, oldest first (removed ones only when asked)."""
    query = select(*_COLUMNS).where(_pl.guild_id == guild_id).order_by(_pl.plan_id)
    if not removed:
        query = query.where(_pl.removed_at.is_(None))
    return [_row(r) for r in await db.fetchall(query)]


async def plan_versions(db: Database, guild_id: int) -> dict[int, tuple[int, str]]:
    """plan id -> (version, name) of the server's plans not removed: cheap, for a cache of parsed plans."""
    rows = await db.fetchall(select(_pl.plan_id, _pl.version, _pl.name)
                             .where(_pl.guild_id == guild_id, _pl.removed_at.is_(None)))
    return {int(r[0]): (int(r[1]), str(r[2])) for r in (tuple(x) for x in rows)}


async def get_plan(db: Database, guild_id: int, plan_id: int) -> PlanRow | None:
    row = await db.fetchone(select(*_COLUMNS).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id))
    return _row(row) if row is not None else None


async def member_track(db: Database, guild_id: int, user_id: int) -> tuple[int, int | None, str | None]:
    """(the member's track, its version, its name) in one query: the server's default track for a member without
    a row yet; version and name None for plan 0 or a plan that is gone (the caller falls back to plan 0)."""
    chosen = func.coalesce(select(_m.plan_id).where(_m.guild_id == guild_id, _m.user_id == user_id)
                           .scalar_subquery(), default_plan_of(guild_id)).label("chosen")
    head = select(chosen).subquery("head")
    row = await db.fetchone(
        select(head.c.chosen, _pl.version, _pl.name)
        .select_from(head.outerjoin(plans, and_(_pl.guild_id == guild_id, _pl.plan_id == head.c.chosen,
                                                _pl.removed_at.is_(None)))))
    if row is None:
        return BUNDLED, None, None
    chosen_id, version, name = tuple(row)
    return int(chosen_id or BUNDLED), (None if version is None else int(version)), name


async def default_plan(db: Database, guild_id: int) -> int:
    row = await db.fetchone(select(default_plan_of(guild_id)))
    return int(row[0]) if row is not None and row[0] is not None else BUNDLED


async def set_default_plan(db: Database, guild_id: int, plan_id: int) -> None:
    ins = upsert(guild_settings).values(guild_id=guild_id, default_plan=plan_id or None)
    statement = ins.on_conflict_do_update(index_elements=["guild_id"], set_={"default_plan": plan_id or None})

    def write(conn: Connection) -> None:
        conn.execute(statement)

    await db.run_sync(write)


async def followers(db: Database, guild_id: int) -> dict[int, int]:
    """plan id -> how many members' current track it is (members who left are not counted)."""
    rows = await db.fetchall(select(_m.plan_id, func.count()).where(_m.guild_id == guild_id, _m.left_at.is_(None))
                             .group_by(_m.plan_id))
    return {int(p): int(n) for p, n in (tuple(r) for r in rows)}


async def add_plan(db: Database, guild_id: int, *, name: str, title: str, steps: int, source: str,
                   now: datetime, by: int | None, limit: int) -> PlanRow:
    """Store a new plan; UserError when the name is taken or the server has `limit` plans already.

    PostgreSQL runs writers at once (READ COMMITTED): two uploads would both count the plans and both pick the
    same next id. A transaction-scoped advisory lock on the server's plans makes them take turns, so the limit
    is exact; and an id taken meanwhile by a writer that does not take the lock is retried with the next one
    (only a clash of names is the admin's to fix)."""
    key = name_key(name)

    def add(conn: Connection) -> PlanRow:
        if conn.dialect.name == "postgresql":
            conn.execute(_LOCK_PLANS, {"key": _plans_lock_key(guild_id)})
        for _ in range(_ID_ATTEMPTS):
            active = conn.execute(select(func.count()).where(_pl.guild_id == guild_id, _pl.removed_at.is_(None))
                                  ).scalar_one()
            if int(active) >= limit:
                raise UserError(f"This server has {limit} plans already, the most it can have: remove one first "
                                "(`/config plan remove`).")
            next_id = int(conn.execute(select(func.coalesce(func.max(_pl.plan_id), 0) + 1)
                                       .where(_pl.guild_id == guild_id)).scalar_one())
            try:
                with conn.begin_nested():
                    conn.execute(insert(plans).values(
                        guild_id=guild_id, plan_id=next_id, name=name, name_key=key, version=1, title=title,
                        steps=steps, source=source, uploaded_at=now, uploaded_by=by))
            except IntegrityError:
                taken = conn.execute(select(_pl.plan_id).where(_pl.guild_id == guild_id, _pl.name_key == key,
                                                               _pl.removed_at.is_(None))).first()
                if taken is not None:
                    raise UserError("A plan with that name was uploaded a moment ago: pick another name, or "
                                    "upload again to update it.") from None
                continue  # the id was taken by another upload that committed meanwhile: count again, next id
            return PlanRow(next_id, name, 1, title, steps, source, now, by)
        raise UserError("Other plans were being uploaded at the same moment: upload yours again.")

    return await db.run_sync(add)


_ID_ATTEMPTS = 5
_LOCK_PLANS = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


def _plans_lock_key(guild_id: int) -> int:
    """A 64-bit advisory-lock key for a server's plans, apart from the members' keys (db.progress._lock_member)."""
    value = (guild_id * 0x9E3779B97F4A7C15 ^ 0x706C616E73) & 0xFFFF_FFFF_FFFF_FFFF  # "plans"
    return value - (1 << 64) if value >= 1 << 63 else value


def _still_on(conn: Connection, guild_id: int, user_id: int, plan_id: int) -> bool:
    """After `_lock_member`: whether the member is still on track `plan_id` (read again, committed data)."""
    return conn.execute(select(_m.plan_id).where(_m.guild_id == guild_id, _m.user_id == user_id)).scalar() == plan_id


def _followers_of(conn: Connection, guild_id: int, plan_id: int) -> list[int]:
    return [int(u) for u in conn.execute(select(_m.user_id).where(_m.guild_id == guild_id, _m.plan_id == plan_id))
            .scalars()]


async def progress_on_steps(db: Database, guild_id: int, plan_id: int, steps: Collection[int]) -> int:
    """How many members have progress (any status) on these steps of the plan, live or parked."""
    if not steps:
        return 0
    live = (select(_p.user_id).select_from(progress.join(members, and_(_m.guild_id == _p.guild_id,
                                                                       _m.user_id == _p.user_id)))
            .where(_p.guild_id == guild_id, _m.plan_id == plan_id, _p.step.in_(list(steps))))
    parked = select(_pp.user_id).where(_pp.guild_id == guild_id, _pp.plan_id == plan_id, _pp.step.in_(list(steps)))
    both = union(live, parked).subquery()
    row = await db.fetchone(select(func.count()).select_from(both))
    return int(row[0]) if row else 0


async def update_plan(db: Database, guild_id: int, plan_id: int, *, expected_version: int, title: str,
                      steps: Collection[int], source: str, now: datetime, by: int | None,
                      default_tz: ZoneInfo) -> tuple[PlanRow, int]:
    """Store a new version of a plan (the caller showed the admin its diff against `expected_version`).

    Members on the track: their progress on steps the new version lacks is parked (archived), and parked progress
    on steps it has again comes back; their summaries are rebuilt. Returns the new row and how many members'
    progress moved. UserError when someone else updated or removed the plan since the preview.
    """
    keep = frozenset(steps)

    def write(conn: Connection) -> tuple[PlanRow, int]:
        current = conn.execute(select(*_COLUMNS).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id)
                               .with_for_update() if conn.dialect.name == "postgresql" else
                               select(*_COLUMNS).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id)).first()
        if current is None or current[8] is not None:
            raise UserError("That plan was removed meanwhile; nothing was changed.")
        if int(current[2]) != expected_version:
            raise UserError(f"Someone updated that plan meanwhile (it is at version {current[2]} now); upload "
                            "yours again to see what it changes.")
        conn.execute(update(plans).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id).values(
            version=expected_version + 1, title=title, steps=len(keep), source=source, uploaded_at=now,
            uploaded_by=by))
        moved = 0
        tz = _server_zone(conn, guild_id, default_tz)
        for user_id in _followers_of(conn, guild_id, plan_id):
            _lock_member(conn, guild_id, user_id)
            if not _still_on(conn, guild_id, user_id, plan_id):  # switched away while we waited for them
                continue
            live = {int(s) for s in conn.execute(select(_p.step).where(_p.guild_id == guild_id,
                                                                        _p.user_id == user_id)).scalars()}
            parked = {int(s) for s in conn.execute(select(_pp.step).where(
                _pp.guild_id == guild_id, _pp.user_id == user_id, _pp.plan_id == plan_id)).scalars()}
            dropped, returning = live - keep, parked & keep
            if not dropped and not returning:
                continue
            _park(conn, guild_id, user_id, plan_id, dropped)
            _unpark(conn, guild_id, user_id, plan_id, returning)
            _rebuild(conn, guild_id, user_id, plan_id, tz)
            moved += 1
        row = conn.execute(select(*_COLUMNS).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id)).one()
        return _row(row), moved

    return await db.run_sync(write)


async def remove_plan(db: Database, guild_id: int, plan_id: int, *, to_plan: int, to_steps: Collection[int],
                      now: datetime, default_tz: ZoneInfo) -> int:
    """Remove a plan: its followers move to `to_plan` (their progress on it is parked, kept), the server's default
    goes back to plan 0 if it was this plan. Returns how many members moved."""
    target = frozenset(to_steps)

    def write(conn: Connection) -> int:
        if to_plan != BUNDLED:  # where its members go must still be there (share-locked on PostgreSQL)
            query = select(_pl.plan_id).where(_pl.guild_id == guild_id, _pl.plan_id == to_plan,
                                              _pl.removed_at.is_(None))
            if conn.execute(query.with_for_update(read=True) if conn.dialect.name == "postgresql"
                            else query).first() is None:
                raise UserError("The track its members would move to was removed meanwhile, so nothing was "
                                "changed: run `/config plan remove` again.")
        found = conn.execute(update(plans).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id,
                                                 _pl.removed_at.is_(None)).values(removed_at=now))
        if found.rowcount == 0:
            raise UserError("That plan was removed already.")
        conn.execute(update(guild_settings).where(guild_settings.c.guild_id == guild_id,
                                                  guild_settings.c.default_plan == plan_id).values(default_plan=None))
        tz = _server_zone(conn, guild_id, default_tz)
        moved = 0
        for user_id in _followers_of(conn, guild_id, plan_id):
            _lock_member(conn, guild_id, user_id)
            if _still_on(conn, guild_id, user_id, plan_id):  # not switched away while we waited for them
                _switch(conn, guild_id, user_id, to_plan, steps=target, tz=tz)
                moved += 1
        return moved

    return await db.run_sync(write)


# ---------------------------------------------------------------------------------------------- moving members

async def switch_track(db: Database, guild_id: int, user_id: int, plan_id: int, *, steps: Collection[int],
                       now: datetime, default_tz: ZoneInfo, version: int | None = None) -> bool:
    """Put the member on track `plan_id` (whose plan has `steps`, at `version` when given): their current track's
    progress is parked, the new track's parked progress comes back. False when they were on it already (nothing
    written). UserError when the plan was removed, or is at another version than `version`."""
    target = frozenset(steps)

    def write(conn: Connection) -> bool:
        if plan_id != BUNDLED:
            # PostgreSQL: a share lock on the plan's row, taken before the member's lock (the order update_plan
            # and remove_plan lock in): a removal or an update of the plan waits for this switch, or this switch
            # for it and then sees the plan as it is (removed: refused; updated: refused, its steps changed).
            query = select(_pl.version).where(_pl.guild_id == guild_id, _pl.plan_id == plan_id,
                                              _pl.removed_at.is_(None))
            alive = conn.execute(query.with_for_update(read=True) if conn.dialect.name == "postgresql"
                                 else query).first()
            if alive is None:
                raise UserError("That track was removed meanwhile; see `/track list`.")
            if version is not None and int(alive[0]) != version:
                raise UserError("That track was updated just now; run the command again.")
        _lock_member(conn, guild_id, user_id)
        ensure_member_sync(conn, guild_id, user_id, now)
        return _switch(conn, guild_id, user_id, plan_id, steps=target, tz=_server_zone(conn, guild_id, default_tz))

    return await db.run_sync(write)


def _switch(conn: Connection, guild_id: int, user_id: int, plan_id: int, *, steps: frozenset[int],
            tz: ZoneInfo) -> bool:
    current = conn.execute(select(_m.plan_id).where(_m.guild_id == guild_id, _m.user_id == user_id)).scalar_one()
    if int(current) == plan_id:
        return False
    live = {int(s) for s in conn.execute(select(_p.step).where(_p.guild_id == guild_id, _p.user_id == user_id))
            .scalars()}
    _park(conn, guild_id, user_id, int(current), live)
    parked = {int(s) for s in conn.execute(select(_pp.step).where(
        _pp.guild_id == guild_id, _pp.user_id == user_id, _pp.plan_id == plan_id)).scalars()}
    _unpark(conn, guild_id, user_id, plan_id, parked & steps)
    _rebuild(conn, guild_id, user_id, plan_id, tz)
    return True


_STATE = (_p.step, _p.status, _p.note, _p.updated_at, _p.done_at, _p.took_days)
_PARKED_STATE = (_pp.step, _pp.status, _pp.note, _pp.updated_at, _pp.done_at, _pp.took_days)


def _park(conn: Connection, guild_id: int, user_id: int, plan_id: int, steps: Iterable[int]) -> None:
    """Move the member's live rows of `steps` to parked_progress under `plan_id` (the track they belong to)."""
    chosen = sorted(steps)
    if not chosen:
        return
    rows = conn.execute(select(*_STATE).where(_p.guild_id == guild_id, _p.user_id == user_id,
                                              _p.step.in_(chosen))).all()
    if rows:
        ins = upsert(parked_progress)
        conn.execute(ins.on_conflict_do_update(
            index_elements=["guild_id", "user_id", "plan_id", "step"],
            set_={"status": ins.excluded.status, "note": ins.excluded.note, "updated_at": ins.excluded.updated_at,
                  "done_at": ins.excluded.done_at, "took_days": ins.excluded.took_days}),
            [{"guild_id": guild_id, "user_id": user_id, "plan_id": plan_id, "step": r[0], "status": r[1],
              "note": r[2], "updated_at": r[3], "done_at": r[4], "took_days": r[5]} for r in rows])
    conn.execute(delete(progress).where(_p.guild_id == guild_id, _p.user_id == user_id, _p.step.in_(chosen)))


def _unpark(conn: Connection, guild_id: int, user_id: int, plan_id: int, steps: Iterable[int]) -> None:
    """Move the member's parked rows of `plan_id` for `steps` back into their live progress."""
    chosen = sorted(steps)
    if not chosen:
        return
    where = (_pp.guild_id == guild_id, _pp.user_id == user_id, _pp.plan_id == plan_id, _pp.step.in_(chosen))
    rows = conn.execute(select(*_PARKED_STATE).where(*where)).all()
    took = {r[0]: r[5] for r in rows}
    readable = [state for r in rows if (state := readable_state(guild_id, user_id, r[:5])) is not None]
    if readable:
        ins = upsert(progress)
        conn.execute(ins.on_conflict_do_update(
            index_elements=["guild_id", "user_id", "step"],
            set_={"status": ins.excluded.status, "note": ins.excluded.note, "updated_at": ins.excluded.updated_at,
                  "done_at": ins.excluded.done_at, "took_days": ins.excluded.took_days}),
            [{"guild_id": guild_id, "user_id": user_id, "step": s.step, "status": s.status.value, "note": s.note,
              "updated_at": s.updated_at, "done_at": s.done_at, "took_days": took.get(s.step)} for s in readable])
    back = [s.step for s in readable]
    if back:  # an unreadable parked row stays parked (and logged by readable_state), never lost
        conn.execute(delete(parked_progress).where(*where[:3], _pp.step.in_(back)))


def _server_zone(conn: Connection, guild_id: int, default_tz: ZoneInfo) -> ZoneInfo:
    stored = conn.execute(select(guild_settings.c.timezone).where(guild_settings.c.guild_id == guild_id)).scalar()
    return _readable_zone(stored, default_tz)


def _rebuild(conn: Connection, guild_id: int, user_id: int, plan_id: int, tz: ZoneInfo) -> None:
    """The member's summary (on track `plan_id`) and period counts, from their live progress rows."""
    member = _read_member(conn, guild_id, user_id)
    summary = summarize(member.states.values())
    conn.execute(update(members).where(_m.guild_id == guild_id, _m.user_id == user_id).values(
        done_count=summary.done_count, reached_at=summary.reached_at or EPOCH, current_step=summary.current_step,
        plan_id=plan_id))
    conn.execute(delete(period_counts).where(period_counts.c.guild_id == guild_id,
                                             period_counts.c.user_id == user_id))
    done_times = [s.done_at for s in member.states.values() if s.status is Status.DONE and s.done_at]
    counts: dict[str, tuple[int, datetime]] = {}
    for moment in done_times:
        for kind in PERIOD_KINDS:
            key = track_key(period_key(moment, tz, kind), plan_id)
            n, latest = counts.get(key, (0, moment))
            counts[key] = (n + 1, max(latest, moment))
    if counts:
        conn.execute(insert(period_counts), [
            {"guild_id": guild_id, "period": key, "user_id": user_id, "done_count": n, "reached_at": latest}
            for key, (n, latest) in sorted(counts.items())])


async def parked_done(db: Database, guild_id: int, user_id: int) -> Mapping[int, set[int]]:
    """plan id -> the steps the member has done on their other tracks (parked), for /track list."""
    rows = await db.fetchall(select(_pp.plan_id, _pp.step).where(
        _pp.guild_id == guild_id, _pp.user_id == user_id, _pp.status == Status.DONE.value))
    found: dict[int, set[int]] = {}
    for plan_id, step in (tuple(r) for r in rows):
        found.setdefault(int(plan_id), set()).add(int(step))
    return found


async def member_plans(db: Database, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(guild, user) -> the member's track, for many members at once (the reminder tick): one query per server.
    Members without a row are left out (the caller uses the server's default)."""
    by_guild: dict[int, list[int]] = {}
    for guild_id, user_id in keys:
        by_guild.setdefault(guild_id, []).append(user_id)
    found: dict[tuple[int, int], int] = {}
    for guild_id, users in by_guild.items():
        rows = await db.fetchall(select(_m.user_id, _m.plan_id).where(_m.guild_id == guild_id,
                                                                      _m.user_id.in_(users)))
        for user_id, plan_id in (tuple(r) for r in rows):
            found[(guild_id, int(user_id))] = int(plan_id)
    return found

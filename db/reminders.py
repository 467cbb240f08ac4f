"""Reminder storage: each member's schedule and next due instant, the deliveries and once-a-day sent-records.

The tick (bot/services/reminders.py) reads due reminders with one query on the `reminders_due` index, claims
each chunk's deliveries in one transaction before sending (`claim_deliveries`), and writes the chunk's results
in one transaction (`record_tick`, executemany): the deliveries' final states, the sent-records and the advanced
due instants together, so a tick that runs again, or after a restart, never sends a day's reminder twice.

Several processes on one PostgreSQL database: a delivery is claimed by whoever inserts its row first (the
primary key on the delivery decides; `ON CONFLICT DO NOTHING ... RETURNING` tells who won), and an existing row
is re-claimed only under a row lock taken with `FOR UPDATE SKIP LOCKED` (a row another process holds is left
to it). Rows are always claimed and locked in key order, so two processes never wait on each other in a circle.
On SQLite one writer at a time gives the same outcome (the lock clauses are not rendered there).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.progress import StepState
from bot.domain.reminders import (
    Delivery,
    DeliveryKind,
    PauseReason,
    Reminder,
    Schedule,
    days_to_mask,
    due_date,
    first_due,
    mask_to_days,
)
from bot.domain.sharding import Ownership
from db.database import Database, from_db, to_db
from db.dialects import upsert
from db.progress import ensure_member
from db.progress import readable_state as _readable_state
from db.shards import owned
from db.tables import members as _members
from db.tables import progress as _progress
from db.tables import reminder_deliveries as _deliveries
from db.tables import reminder_sends as _sends
from db.tables import reminders as _reminders

log = logging.getLogger(__name__)

SENT_RECORD_DAYS = 35  # sent-records older than this are pruned: they only guard the recent days

R, S, D = _reminders.c, _sends.c, _deliveries.c


def _flag(column: Any, value: bool) -> bool | int:
    """A stored yes/no: a Boolean column takes a bool, an INTEGER one 0/1 (asyncpg is strict about the type)."""
    return bool(value) if isinstance(column.type, Boolean) else int(value)


_SELECT_ONE = select(R.guild_id, R.user_id, R.local_time, R.timezone, R.days, R.enabled, R.paused_reason,
                     R.paused_at, R.regular_due, R.snooze_until, R.snooze_for, R.dm_channel_id)


def _select_one(guild_id: int, user_id: int) -> Select[Any]:
    return _SELECT_ONE.where(R.guild_id == guild_id, R.user_id == user_id)


@lru_cache(maxsize=8192)
def _schedule(local_time: str, timezone: str, days: int) -> Schedule:
    """Schedules are shared: many members pick the same time, zone and days (and a tick converts many rows)."""
    hour, minute = local_time.split(":")
    return Schedule(time(int(hour), int(minute)), ZoneInfo(timezone), mask_to_days(days))


def _reminder(row: Sequence[Any]) -> Reminder:
    return Reminder(
        guild_id=row[0],
        user_id=row[1],
        schedule=_schedule(row[2], row[3], row[4]),
        enabled=bool(row[5]),
        paused=PauseReason(row[6]) if row[6] else None,
        paused_at=row[7],
        regular_due=row[8],
        snooze_until=row[9],
        snooze_for=row[10],
        dm_channel_id=row[11],
    )


@lru_cache(maxsize=65536)
def _stamp(instant: datetime) -> str:
    """to_db, memoised: the position of a due row (a tick reads many equal instants)."""
    return to_db(instant)


@lru_cache(maxsize=65536)
def _due_day(instant: datetime, tz: ZoneInfo) -> date:
    """due_date, memoised: a tick advances many reminders to equal instants."""
    return due_date(instant, tz)


def _due_columns(reminder: Reminder) -> dict[str, Any]:
    """regular_due, due_date, snooze_until, snooze_for, next_due_utc as stored."""
    regular = reminder.regular_due
    return {
        "regular_due": regular,
        "due_date": _due_day(regular, reminder.schedule.tz) if regular else None,
        "snooze_until": reminder.snooze_until,
        "snooze_for": reminder.snooze_for,
        "next_due_utc": reminder.next_due,
    }


async def get_reminder(db: Database, guild_id: int, user_id: int) -> Reminder | None:
    row = await db.fetchone(_select_one(guild_id, user_id))
    return _reminder(row) if row else None


async def _get_in(conn: AsyncConnection, guild_id: int, user_id: int) -> Reminder | None:
    row = (await conn.execute(_select_one(guild_id, user_id))).first()
    return _reminder(row) if row else None


async def _sent_dates(conn: AsyncConnection, guild_id: int, user_id: int, since: date) -> frozenset[date]:
    rows = await conn.execute(select(S.local_date).where(S.guild_id == guild_id, S.user_id == user_id,
                                                         S.local_date >= since, S.outcome == "sent"))
    return frozenset(day for (day,) in rows if day is not None)


async def _write(conn: AsyncConnection, reminder: Reminder, now: datetime) -> None:
    schedule = reminder.schedule
    insert = upsert(_reminders).values(
        guild_id=reminder.guild_id, user_id=reminder.user_id, local_time=f"{schedule.at:%H:%M}",
        timezone=schedule.tz.key, days=days_to_mask(schedule.days), enabled=_flag(R.enabled, reminder.enabled),
        paused_reason=reminder.paused.value if reminder.paused else None, paused_at=reminder.paused_at,
        pause_noticed=_flag(R.pause_noticed, False), **_due_columns(reminder),
        dm_channel_id=reminder.dm_channel_id, created_at=now, updated_at=now)
    new = insert.excluded
    await conn.execute(insert.on_conflict_do_update(
        index_elements=[R.guild_id, R.user_id],
        set_={"local_time": new.local_time, "timezone": new.timezone, "days": new.days, "enabled": new.enabled,
              "paused_reason": new.paused_reason, "paused_at": new.paused_at,
              "pause_noticed": _flag(R.pause_noticed, False), "regular_due": new.regular_due,
              "due_date": new.due_date, "snooze_until": new.snooze_until, "snooze_for": new.snooze_for,
              "next_due_utc": new.next_due_utc,
              "dm_channel_id": func.coalesce(new.dm_channel_id, R.dm_channel_id),
              "updated_at": new.updated_at}))


async def set_reminder(db: Database, guild_id: int, user_id: int, schedule: Schedule, now: datetime) -> Reminder:
    """Create or replace a member's reminder (un-pausing it) and store their time zone on the member.

    The first reminder is the next due instant after `now`, skipping a local day that already had one.
    """
    async with db.transaction() as conn:
        await ensure_member(conn, guild_id, user_id, now)
        await conn.execute(sql_update(_members).where(_members.c.guild_id == guild_id,
                                                      _members.c.user_id == user_id).values(timezone=schedule.tz.key))
        old = await _get_in(conn, guild_id, user_id)
        sent = await _sent_dates(conn, guild_id, user_id, due_date(now, schedule.tz) - timedelta(days=1))
        reminder = Reminder(guild_id, user_id, schedule, regular_due=first_due(schedule, now, sent),
                            dm_channel_id=old.dm_channel_id if old else None)
        await _write(conn, reminder, now)
        await conn.execute(sql_update(_reminders).where(R.guild_id == guild_id, R.user_id == user_id)
                           .values(member_checked_at=now))  # they just used a command there: a member
        return reminder


async def turn_off(db: Database, guild_id: int, user_id: int, now: datetime) -> Reminder | None:
    """Stop a member's reminders, keeping their settings. None when they had none."""
    async with db.transaction() as conn:
        old = await _get_in(conn, guild_id, user_id)
        if old is None:
            return None
        reminder = Reminder(guild_id, user_id, old.schedule, enabled=False, dm_channel_id=old.dm_channel_id)
        await _write(conn, reminder, now)
        return reminder


async def turn_off_guild(db: Database, guild_id: int, now: datetime) -> int:
    """Stop every reminder of a server the bot has left (settings kept, as /remind off). Returns how many."""
    async with db.transaction() as conn:
        result = await conn.execute(
            sql_update(_reminders).where(R.guild_id == guild_id, R.enabled == _flag(R.enabled, True))
            .values(enabled=_flag(R.enabled, False), regular_due=None, due_date=None, snooze_until=None,
                    snooze_for=None, next_due_utc=None, updated_at=now))
        return int(result.rowcount)


async def snooze(db: Database, guild_id: int, user_id: int, *, until: datetime, for_date: date,
                 now: datetime) -> Reminder | None:
    """Send the reminder for `for_date` again at `until`. None when the member's reminders are not active."""
    async with db.transaction() as conn:
        old = await _get_in(conn, guild_id, user_id)
        if old is None or not old.active:
            return None
        reminder = Reminder(guild_id, user_id, old.schedule, regular_due=old.regular_due, snooze_until=until,
                            snooze_for=for_date, dm_channel_id=old.dm_channel_id)
        await _write(conn, reminder, now)
        await _record_action(conn, guild_id, user_id, for_date, "snooze")
        return reminder


async def skip_day(db: Database, guild_id: int, user_id: int, day: date, now: datetime) -> Reminder | None:
    """No more reminders on local `day`: drop a snooze for it (and its daily one if still to come)."""
    async with db.transaction() as conn:
        old = await _get_in(conn, guild_id, user_id)
        if old is None or not old.active or old.regular_due is None:
            return old
        regular = old.regular_due
        if due_date(regular, old.schedule.tz) == day:
            regular = first_due(old.schedule, now, frozenset({day}))
        keep_snooze = old.snooze_for is not None and old.snooze_for != day
        reminder = Reminder(guild_id, user_id, old.schedule, regular_due=regular,
                            snooze_until=old.snooze_until if keep_snooze else None,
                            snooze_for=old.snooze_for if keep_snooze else None, dm_channel_id=old.dm_channel_id)
        await _write(conn, reminder, now)
        await _record_action(conn, guild_id, user_id, day, "skip")
        return reminder


async def record_action(db: Database, guild_id: int, user_id: int, day: date, action: str) -> None:
    async with db.transaction() as conn:
        await _record_action(conn, guild_id, user_id, day, action)


async def _record_action(conn: AsyncConnection, guild_id: int, user_id: int, day: date, action: str) -> None:
    await conn.execute(sql_update(_sends).where(S.guild_id == guild_id, S.user_id == user_id, S.local_date == day)
                       .values(action=action))


# ---------------------------------------------------------------------------- the tick


@dataclass(frozen=True, slots=True)
class DueReminder:
    reminder: Reminder
    sent_dates: frozenset[date]  # the reminder's due day, if it already had its DM
    member_checked_at: datetime | None = None  # when membership was last confirmed (None: never)

    @property
    def position(self) -> tuple[str, int, int]:
        """Where this row is in the due order: pass it as `after` to read the next batch."""
        due = self.reminder.next_due
        return (_stamp(due) if due else "", self.reminder.guild_id, self.reminder.user_id)


_SENT_DAY = _sends.alias("s")
_R = _reminders.alias("r")


def due_statement(now: datetime | str, limit: int, after: tuple[datetime | str, int, int] | None = None,
                  ownership: Ownership | None = None) -> Select[Any]:
    """The due query: active reminders (only they have a next_due_utc) due at `now`, in (due, guild, user) order,
    each with its due day's sent-record if any; on the partial index `reminders_due`."""
    r, s = _R.c, _SENT_DAY.c
    query = (select(r.guild_id, r.user_id, r.local_time, r.timezone, r.days, r.regular_due, r.snooze_until,
                    r.snooze_for, r.dm_channel_id, s.local_date, r.member_checked_at)
             .select_from(_R.outerjoin(_SENT_DAY, and_(s.guild_id == r.guild_id, s.user_id == r.user_id,
                                                       s.local_date == r.due_date,
                                                       s.outcome == literal_column("'sent'"))))
             .where(r.next_due_utc <= now))
    if after is not None:
        query = query.where(tuple_(r.next_due_utc, r.guild_id, r.user_id) > tuple_(
            bindparam("after_due", after[0], type_=r.next_due_utc.type), after[1], after[2]))
    mine = owned(r.guild_id, ownership)
    if mine is not None:
        query = query.where(mine)
    return query.order_by(r.next_due_utc, r.guild_id, r.user_id).limit(limit)


def due_sql(*, after: bool, ownership: Ownership | None = None) -> tuple[str, tuple[int, ...]]:
    """The due query as SQLite runs it, with `?` placeholders (now, `after`'s three if asked, the shard
    parameters returned here, then the limit): for query plans in tests and benches."""
    query = due_statement("", 0, ("", 0, 0) if after else None, ownership)
    sql = str(query.compile(dialect=sqlite_dialect.dialect(), compile_kwargs={"render_postcompile": True}))
    sql = sql.removesuffix(" OFFSET ?")  # SQLAlchemy's SQLite LIMIT always adds OFFSET 0: one parameter less
    shards = ownership.sql_filter if ownership is not None else None
    return sql, (shards[0], *shards[1]) if shards is not None else ()


_NO_DAYS: frozenset[date] = frozenset()


def _due_rows(conn: Connection, now: datetime, limit: int, after: tuple[str, int, int] | None,
              ownership: Ownership | None) -> list[DueReminder]:
    """Inside the one read transaction: the query, then domain objects from memoised parts.

    Only active reminders have a next_due_utc, so enabled/paused need no reading; regular_due is set.
    """
    position = (from_db(after[0]), after[1], after[2]) if after else None
    due: list[DueReminder] = []
    rows = conn.execute(due_statement(now, limit, position, ownership))
    for guild_id, user_id, local_time, zone, days, regular, until, snooze_for, channel, sent, checked in rows:
        reminder = Reminder(guild_id, user_id, _schedule(local_time, zone, days), True, None, None, regular,
                            until, snooze_for, channel)
        due.append(DueReminder(reminder, frozenset({sent}) if sent else _NO_DAYS, checked))
    return due


async def due_reminders(db: Database, now: datetime, limit: int = 5000,
                        after: tuple[str, int, int] | None = None, *,
                        ownership: Ownership | None = None) -> list[DueReminder]:
    """Active reminders due at `now` (earliest first, at most `limit`): one query on the reminders_due index.

    `after` (a DueReminder's `position`) reads the next batch. `ownership`: only the servers on this process's
    shards (None: every server). The rows become Reminder objects inside the one hop, not on the event loop.
    """
    return await db.run_sync(lambda conn: _due_rows(conn, now, limit, after, ownership), write=False)


# ---------------------------------------------------------------------------- deliveries


@dataclass(frozen=True, slots=True)
class Claim:
    """One delivery the tick wants to send: the member, the local day, which of the day's DMs, its nonce."""

    guild_id: int
    user_id: int
    for_date: date
    slot: str
    kind: DeliveryKind
    nonce: str

    @property
    def key(self) -> tuple[int, int, str, str]:
        return (self.guild_id, self.user_id, self.for_date.isoformat(), self.slot)


@dataclass(frozen=True, slots=True)
class ClaimDecision:
    """`send`: claimed for this tick, send it. Else `message_id` set: it was already sent (record it, do not
    send); neither: another claim is still within its grace period (leave it due, send nothing)."""

    send: bool
    message_id: int | None = None


_DELIVERY_KEY = (D.guild_id, D.user_id, D.local_date, D.slot)


def _key_of(guild_id: int, user_id: int, day: date, slot: str) -> tuple[int, int, str, str]:
    return (guild_id, user_id, day.isoformat(), slot)


_RECLAIM = (
    sql_update(_deliveries)
    .where(D.guild_id == bindparam("k_guild"), D.user_id == bindparam("k_user"),
           D.local_date == bindparam("k_date", type_=D.local_date.type), D.slot == bindparam("k_slot"))
    .values(state="claimed", kind=bindparam("k_kind"), claimed_at=bindparam("k_at", type_=D.claimed_at.type),
            attempts=D.attempts + 1, finished_at=None, reason=None)
)


def _claim_in(conn: Connection, claims: Sequence[Claim], now: datetime,
              stale: datetime) -> dict[tuple[int, int, str, str], ClaimDecision]:
    by_key = {item.key: item for item in claims}
    ordered = [by_key[key] for key in sorted(by_key)]  # one lock order for every process: no waiting in a circle
    decided: dict[tuple[int, int, str, str], ClaimDecision] = {}
    if not ordered:
        return decided
    # 1. New deliveries: whoever inserts the row first holds the claim (the primary key decides).
    insert = upsert(_deliveries).values([
        {"guild_id": c.guild_id, "user_id": c.user_id, "local_date": c.for_date, "slot": c.slot,
         "kind": c.kind.value, "nonce": c.nonce, "state": "claimed", "claimed_at": now} for c in ordered])
    for row in conn.execute(insert.on_conflict_do_nothing().returning(*_DELIVERY_KEY)):
        decided[_key_of(*row)] = ClaimDecision(send=True)
    rest = [c for c in ordered if c.key not in decided]
    if not rest:
        return decided
    # 2. Existing ones, locked: a row another process holds right now is skipped (its claim is in flight).
    rows = conn.execute(
        select(*_DELIVERY_KEY, D.state, D.claimed_at, D.message_id)
        .where(tuple_(*_DELIVERY_KEY).in_([(c.guild_id, c.user_id, c.for_date, c.slot) for c in rest]))
        .order_by(*_DELIVERY_KEY).with_for_update(skip_locked=True))
    reclaim: list[dict[str, Any]] = []
    for guild_id, user_id, day, slot, state, claimed_at, message_id in rows:
        key = _key_of(guild_id, user_id, day, slot)
        item = by_key[key]
        if state == "sent":
            decided[key] = ClaimDecision(send=False, message_id=message_id)
        elif state == "failed" or claimed_at is None or claimed_at <= stale:  # None: unreadable, so old
            reclaim.append({"k_guild": guild_id, "k_user": user_id, "k_date": day, "k_slot": slot,
                            "k_kind": item.kind.value, "k_at": now})
            decided[key] = ClaimDecision(send=True)
    if reclaim:
        conn.execute(_RECLAIM, reclaim)
    for item in rest:
        decided.setdefault(item.key, ClaimDecision(send=False))  # a fresh claim, or one another process holds
    return decided


async def claim_deliveries(db: Database, claims: Sequence[Claim], now: datetime,
                           grace: timedelta) -> dict[tuple[int, int, str, str], ClaimDecision]:
    """Commit a claim for each delivery before it is sent: one transaction. Raises if the database refuses.

    New deliveries, failed ones (retried) and claims older than `grace` (left by a crash: sent again with the
    same nonce) are claimed; sent ones and fresh claims are not, nor ones another process is claiming meanwhile.
    """
    stale = now - grace
    return await db.run_sync(lambda conn: _claim_in(conn, claims, now, stale))


async def deliveries_of(db: Database, guild_id: int, user_id: int) -> list[dict[str, object]]:
    """A member's delivery rows, oldest first (for tests and operators); dates and instants as stored text."""
    rows = await db.fetchall(
        select(D.local_date, D.slot, D.kind, D.nonce, D.state, D.claimed_at, D.attempts, D.finished_at,
               D.message_id, D.reason)
        .where(D.guild_id == guild_id, D.user_id == user_id).order_by(D.local_date, D.slot))
    found: list[dict[str, object]] = []
    for row in rows:
        item = dict(row._mapping)
        item["local_date"] = item["local_date"].isoformat() if item["local_date"] else None
        for name in ("claimed_at", "finished_at"):
            item[name] = to_db(item[name]) if item[name] else None
        found.append(item)
    return found


@dataclass(frozen=True, slots=True)
class TickResult:
    """What happened to one due reminder in a tick, to be stored.

    `delivery` set: advance to its next due instant (and record the sent or missed day).
    `pause` set: the DM cannot go out until the member acts (DMs closed, left the server, unreadable data).
    Neither: a passing failure; leave the reminder due so the next tick retries it.
    `claim` set: the claimed delivery becomes 'sent' (`message_id`) or 'failed' (`failure`).
    """

    reminder: Reminder
    delivery: Delivery | None = None
    message_id: int | None = None
    step: int | None = None
    dm_channel_id: int | None = None
    pause: PauseReason | None = None
    claim: Claim | None = None
    failure: str | None = None
    member_checked: bool = False


def _is(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column = :name`, the parameter typed as the column (an instant or a day binds as the engine stores it)."""
    return column == bindparam(name, type_=column.type)


_FINISH = (sql_update(_deliveries)
           .where(_is(D.guild_id, "k_guild"), _is(D.user_id, "k_user"), _is(D.local_date, "k_date"),
                  _is(D.slot, "k_slot"), D.state == "claimed")
           .values(state=bindparam("v_state"), finished_at=bindparam("v_at", type_=D.finished_at.type),
                   message_id=bindparam("v_message", type_=D.message_id.type), reason=bindparam("v_reason")))
_CHECKED = (sql_update(_reminders).where(_is(R.guild_id, "k_guild"), _is(R.user_id, "k_user"))
            .values(member_checked_at=bindparam("v_at", type_=R.member_checked_at.type)))
_SNOOZED = (sql_update(_sends).where(_is(S.guild_id, "k_guild"), _is(S.user_id, "k_user"),
                                     _is(S.local_date, "k_date"))
            .values(snoozes=S.snoozes + 1))
_ADVANCE = (sql_update(_reminders)
            .where(_is(R.guild_id, "k_guild"), _is(R.user_id, "k_user"), _is(R.next_due_utc, "k_due"))
            .values(regular_due=bindparam("v_regular", type_=R.regular_due.type),
                    due_date=bindparam("v_date", type_=R.due_date.type),
                    snooze_until=bindparam("v_until", type_=R.snooze_until.type),
                    snooze_for=bindparam("v_for", type_=R.snooze_for.type),
                    next_due_utc=bindparam("v_next", type_=R.next_due_utc.type),
                    updated_at=bindparam("v_at", type_=R.updated_at.type)))
_PAUSE = (sql_update(_reminders)
          .where(_is(R.guild_id, "k_guild"), _is(R.user_id, "k_user"), _is(R.next_due_utc, "k_due"))
          .values(paused_reason=bindparam("v_reason"), paused_at=bindparam("v_at", type_=R.paused_at.type),
                  pause_noticed=_flag(R.pause_noticed, False), next_due_utc=None,
                  updated_at=bindparam("v_at2", type_=R.updated_at.type)))
_CHANNEL = (sql_update(_reminders).where(_is(R.user_id, "k_user"))
            .values(dm_channel_id=bindparam("v_channel", type_=R.dm_channel_id.type)))


def _record_sent() -> Any:
    """The day's sent-record: a 'missed' day becomes 'sent' when its DM went out after all; nothing else changes."""
    insert = upsert(_sends)
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[S.guild_id, S.user_id, S.local_date],
        set_={"outcome": new.outcome, "kind": new.kind, "sent_at": new.sent_at, "step": new.step,
              "message_id": new.message_id},
        where=and_(S.outcome == "missed", new.outcome == "sent"))


_RECORD_SENT = _record_sent()


def _lock_members(conn: Connection, keys: set[tuple[int, int]], users: set[int]) -> None:
    """PostgreSQL: lock the reminders a tick record touches, in key order, before writing any of them, so two
    processes recording overlapping results take turns instead of deadlocking (SQLite: one writer anyway)."""
    if conn.dialect.name != "postgresql" or not (keys or users):
        return
    found = []
    if keys:
        found.append(tuple_(R.guild_id, R.user_id).in_(sorted(keys)))
    if users:
        found.append(R.user_id.in_(sorted(users)))
    conn.execute(select(R.guild_id, R.user_id).where(or_(*found)).order_by(R.guild_id, R.user_id)
                 .with_for_update())


async def record_tick(db: Database, results: Sequence[TickResult], now: datetime) -> int:
    """Store a batch of tick results in one transaction; returns how many reminders were advanced.

    Each reminder is only advanced from the due instant the tick read (`next_due_utc = :k_due`), so a member
    who changed their reminder meanwhile keeps their change (and a second process recording the same reminder
    changes nothing).
    """
    sends: list[dict[str, Any]] = []
    snoozes: list[dict[str, Any]] = []
    advances: list[dict[str, Any]] = []
    pauses: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    finished: list[dict[str, Any]] = []
    checked: list[dict[str, Any]] = []
    for result in results:
        reminder, delivery = result.reminder, result.delivery
        key = {"k_guild": reminder.guild_id, "k_user": reminder.user_id}
        if result.claim is not None:
            sent = result.message_id is not None and result.failure is None
            claim = result.claim
            finished.append({"k_guild": claim.guild_id, "k_user": claim.user_id, "k_date": claim.for_date,
                             "k_slot": claim.slot, "v_state": "sent" if sent else "failed", "v_at": now,
                             "v_message": result.message_id if sent else None,
                             "v_reason": None if sent else (result.failure or "not sent")[:300]})
        if result.member_checked:
            checked.append({**key, "v_at": now})
        old_next = reminder.next_due
        if old_next is None:
            continue
        if result.dm_channel_id and result.dm_channel_id != reminder.dm_channel_id:
            channels.append({"k_user": reminder.user_id, "v_channel": result.dm_channel_id})
        if result.pause is not None:
            pauses.append({**key, "k_due": old_next, "v_reason": result.pause.value, "v_at": now, "v_at2": now})
            continue
        if delivery is None:
            continue
        due_at = reminder.regular_due or now
        if delivery.kind is DeliveryKind.SNOOZED and delivery.for_date:
            snoozes.append({**key, "k_date": delivery.for_date})
        elif delivery.sends and delivery.for_date:
            sends.append({"guild_id": reminder.guild_id, "user_id": reminder.user_id,
                          "local_date": delivery.for_date, "outcome": "sent",
                          "kind": delivery.kind.value if delivery.kind else None, "due_utc": due_at,
                          "sent_at": now, "step": result.step, "message_id": result.message_id})
        if delivery.missed:
            sends.append({"guild_id": reminder.guild_id, "user_id": reminder.user_id,
                          "local_date": delivery.missed, "outcome": "missed", "kind": None, "due_utc": due_at,
                          "sent_at": now, "step": None, "message_id": None})
        regular, until = delivery.regular_due, delivery.snooze_until
        advances.append({**key, "k_due": old_next, "v_regular": regular,
                         "v_date": _due_day(regular, reminder.schedule.tz), "v_until": until,
                         "v_for": delivery.snooze_for, "v_next": delivery.next_due, "v_at": now})
    if not (sends or snoozes or advances or pauses or channels or finished or checked):
        return 0

    def order(rows: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda row: tuple(row[n] for n in names))

    def write(conn: Connection) -> None:
        _lock_members(conn, {(r["k_guild"], r["k_user"]) for r in (*checked, *advances, *pauses)}
                      | {(r["guild_id"], r["user_id"]) for r in sends}, {r["k_user"] for r in channels})
        if finished:
            conn.execute(_FINISH, order(finished, "k_guild", "k_user", "k_date", "k_slot"))
        if checked:
            conn.execute(_CHECKED, order(checked, "k_guild", "k_user"))
        if sends:
            conn.execute(_RECORD_SENT, order(sends, "guild_id", "user_id", "local_date"))
        if snoozes:
            conn.execute(_SNOOZED, order(snoozes, "k_guild", "k_user", "k_date"))
        if advances:
            conn.execute(_ADVANCE, order(advances, "k_guild", "k_user"))
        if pauses:
            conn.execute(_PAUSE, order(pauses, "k_guild", "k_user"))
        if channels:
            conn.execute(_CHANNEL, order(channels, "k_user"))

    await db.run_sync(write)
    return len(advances)


async def forget_dm_channel(db: Database, user_id: int) -> None:
    """The stored DM channel is gone (404): the next reminder opens a new one."""
    async with db.transaction() as conn:
        await conn.execute(sql_update(_reminders).where(R.user_id == user_id).values(dm_channel_id=None))


async def prune_sent_records(db: Database, now: datetime) -> None:
    cutoff = now - timedelta(days=SENT_RECORD_DAYS)
    async with db.transaction() as conn:
        await conn.execute(_sends.delete().where(S.sent_at < cutoff))
        await conn.execute(_deliveries.delete().where(D.claimed_at < cutoff))


async def take_pause_notice(db: Database, guild_id: int, user_id: int) -> Reminder | None:
    """The member's paused reminder if they have not been told how to fix it yet (and mark them told).

    Costs one primary-key read for members without a pending notice: it runs after every command.
    """
    pending = and_(R.guild_id == guild_id, R.user_id == user_id, R.paused_reason.is_not(None),
                   R.pause_noticed == _flag(R.pause_noticed, False))
    row = await db.fetchone(select(literal_column("1")).select_from(_reminders).where(pending))
    if row is None:
        return None
    async with db.transaction() as conn:
        result = await conn.execute(sql_update(_reminders).where(pending)
                                    .values(pause_noticed=_flag(R.pause_noticed, True)))
        if result.rowcount == 0:
            return None
        return await _get_in(conn, guild_id, user_id)


# ---------------------------------------------------------------------------- what the DM shows

_PROGRESS_COLUMNS = (_progress.c.user_id, _progress.c.step, _progress.c.status, _progress.c.note,
                     _progress.c.updated_at, _progress.c.done_at)


async def progress_of(db: Database, members: Iterable[tuple[int, int]]) -> dict[tuple[int, int], dict[int, StepState]]:
    """Step states of several members (guild_id, user_id): one primary-key query per server, in one hop.

    Each row is read on its own (db.progress.readable_state): an odd stored value leaves that value or row out,
    never another member's DM."""
    pairs = list(dict.fromkeys(members))
    if not pairs:
        return {}
    by_guild: dict[int, list[int]] = {}
    for guild_id, user_id in pairs:
        by_guild.setdefault(guild_id, []).append(user_id)

    def load(conn: Connection) -> dict[tuple[int, int], dict[int, StepState]]:
        found: dict[tuple[int, int], dict[int, StepState]] = {pair: {} for pair in pairs}
        for guild_id, users in by_guild.items():
            for start in range(0, len(users), 500):  # well under every engine's limit on parameters
                part = users[start : start + 500]
                rows = conn.execute(select(*_PROGRESS_COLUMNS)
                                    .where(_progress.c.guild_id == guild_id, _progress.c.user_id.in_(part)))
                for user_id, *row in rows:
                    state = _readable_state(guild_id, user_id, tuple(row))
                    if state is not None:
                        found[(guild_id, user_id)][state.step] = state
        return found

    return await db.run_sync(load, write=False)


# ---------------------------------------------------------------------------- for benches and tests


async def due_plan(db: Database, now: datetime, *, limit: int = 5000, after: tuple[str, int, int] | None = None,
                   ownership: Ownership | None = None) -> list[str]:
    """The engine's plan for the due query (SQLite: EXPLAIN QUERY PLAN's details; PostgreSQL: EXPLAIN's lines)."""
    position = (from_db(after[0]), after[1], after[2]) if after else None

    def explain(conn: Connection) -> list[str]:
        compiled = due_statement(now, limit, position, ownership).compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        sqlite = conn.dialect.name == "sqlite"
        params = tuple(to_db(value) if sqlite and isinstance(value, datetime) else value
                       for value in (compiled.params[name] for name in compiled.positiontup or ()))
        rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + str(compiled), params)
        return [str(row[-1]) for row in rows]

    return await db.run_sync(explain, write=False)

"""Reminder storage: each member's schedule and next due instant, the deliveries and once-a-day sent-records.

The tick (bot/services/reminders.py) reads due reminders with one query on the `reminders_due` index, claims
each chunk's deliveries in one transaction before sending (`claim_deliveries`), and writes the chunk's results
in one transaction (`record_tick`, executemany): the deliveries' final states, the sent-records and the advanced
due instants together, so a tick that runs again, or after a restart, never sends a day's reminder twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import aiosqlite

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
from db.database import Database, from_db, from_db_opt, to_db
from db.progress import ensure_member
from db.progress import readable_state as _readable_state
from db.shards import owned_clause

log = logging.getLogger(__name__)

SENT_RECORD_DAYS = 35  # sent-records older than this are pruned: they only guard the recent days

_SELECT_ONE = ("SELECT guild_id, user_id, local_time, timezone, days, enabled, paused_reason, paused_at, regular_due, "
               "snooze_until, snooze_for, dm_channel_id FROM reminders WHERE guild_id = ? AND user_id = ?")


@lru_cache(maxsize=8192)
def _schedule(local_time: str, timezone: str, days: int) -> Schedule:
    """Schedules are shared: many members pick the same time, zone and days (and a tick converts many rows)."""
    hour, minute = local_time.split(":")
    return Schedule(time(int(hour), int(minute)), ZoneInfo(timezone), mask_to_days(days))


def _reminder(row: aiosqlite.Row) -> Reminder:
    return Reminder(
        guild_id=row[0],
        user_id=row[1],
        schedule=_schedule(row[2], row[3], row[4]),
        enabled=bool(row[5]),
        paused=PauseReason(row[6]) if row[6] else None,
        paused_at=from_db_opt(row[7]),
        regular_due=from_db_opt(row[8]),
        snooze_until=from_db_opt(row[9]),
        snooze_for=date.fromisoformat(row[10]) if row[10] else None,
        dm_channel_id=row[11],
    )


@lru_cache(maxsize=65536)
def _stamp(instant: datetime) -> str:
    """to_db, memoised: a tick stores many equal instants (everyone due at 09:00 UTC, their next ones)."""
    return to_db(instant)


@lru_cache(maxsize=65536)
def _due_day(instant: datetime, tz: ZoneInfo) -> str:
    """due_date as stored, memoised like _stamp."""
    return due_date(instant, tz).isoformat()


def _due_columns(reminder: Reminder) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(regular_due, due_date, snooze_until, snooze_for, next_due_utc) as stored."""
    regular = reminder.regular_due
    next_due = reminder.next_due
    return (
        _stamp(regular) if regular else None,
        _due_day(regular, reminder.schedule.tz) if regular else None,
        _stamp(reminder.snooze_until) if reminder.snooze_until else None,
        reminder.snooze_for.isoformat() if reminder.snooze_for else None,
        _stamp(next_due) if next_due else None,
    )


async def get_reminder(db: Database, guild_id: int, user_id: int) -> Reminder | None:
    row = await db.fetchone(_SELECT_ONE, (guild_id, user_id))
    return _reminder(row) if row else None


async def _get_in(conn: aiosqlite.Connection, guild_id: int, user_id: int) -> Reminder | None:
    row = await (await conn.execute(_SELECT_ONE, (guild_id, user_id))).fetchone()
    return _reminder(row) if row else None


async def _sent_dates(conn: aiosqlite.Connection, guild_id: int, user_id: int, since: date) -> frozenset[date]:
    rows = await conn.execute_fetchall(
        "SELECT local_date FROM reminder_sends WHERE guild_id = ? AND user_id = ? AND local_date >= ? "
        "AND outcome = 'sent'", (guild_id, user_id, since.isoformat()))
    return frozenset(date.fromisoformat(r[0]) for r in rows)


async def _write(conn: aiosqlite.Connection, reminder: Reminder, now: datetime) -> None:
    schedule = reminder.schedule
    await conn.execute(
        "INSERT INTO reminders (guild_id, user_id, local_time, timezone, days, enabled, paused_reason, paused_at, "
        "pause_noticed, regular_due, due_date, snooze_until, snooze_for, next_due_utc, dm_channel_id, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (guild_id, user_id) DO UPDATE SET local_time = excluded.local_time, "
        "timezone = excluded.timezone, days = excluded.days, enabled = excluded.enabled, "
        "paused_reason = excluded.paused_reason, paused_at = excluded.paused_at, pause_noticed = 0, "
        "regular_due = excluded.regular_due, due_date = excluded.due_date, snooze_until = excluded.snooze_until, "
        "snooze_for = excluded.snooze_for, next_due_utc = excluded.next_due_utc, "
        "dm_channel_id = COALESCE(excluded.dm_channel_id, reminders.dm_channel_id), updated_at = excluded.updated_at",
        (reminder.guild_id, reminder.user_id, f"{schedule.at:%H:%M}", schedule.tz.key, days_to_mask(schedule.days),
         int(reminder.enabled), reminder.paused.value if reminder.paused else None,
         to_db(reminder.paused_at) if reminder.paused_at else None, *_due_columns(reminder),
         reminder.dm_channel_id, to_db(now), to_db(now)),
    )


async def set_reminder(db: Database, guild_id: int, user_id: int, schedule: Schedule, now: datetime) -> Reminder:
    """Create or replace a member's reminder (un-pausing it) and store their time zone on the member.

    The first reminder is the next due instant after `now`, skipping a local day that already had one.
    """
    async with db.transaction() as conn:
        await ensure_member(conn, guild_id, user_id, now)
        await conn.execute("UPDATE members SET timezone = ? WHERE guild_id = ? AND user_id = ?",
                           (schedule.tz.key, guild_id, user_id))
        old = await _get_in(conn, guild_id, user_id)
        sent = await _sent_dates(conn, guild_id, user_id, due_date(now, schedule.tz) - timedelta(days=1))
        reminder = Reminder(guild_id, user_id, schedule, regular_due=first_due(schedule, now, sent),
                            dm_channel_id=old.dm_channel_id if old else None)
        await _write(conn, reminder, now)
        await conn.execute("UPDATE reminders SET member_checked_at = ? WHERE guild_id = ? AND user_id = ?",
                           (to_db(now), guild_id, user_id))  # they just used a command there: a member
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
        cursor = await conn.execute(
            "UPDATE reminders SET enabled = 0, regular_due = NULL, due_date = NULL, snooze_until = NULL, "
            "snooze_for = NULL, next_due_utc = NULL, updated_at = ? WHERE guild_id = ? AND enabled = 1",
            (to_db(now), guild_id),
        )
        return cursor.rowcount


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


async def _record_action(conn: aiosqlite.Connection, guild_id: int, user_id: int, day: date, action: str) -> None:
    await conn.execute("UPDATE reminder_sends SET action = ? WHERE guild_id = ? AND user_id = ? AND local_date = ?",
                       (action, guild_id, user_id, day.isoformat()))


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


_DUE_SELECT = (
    "SELECT r.guild_id, r.user_id, r.local_time, r.timezone, r.days, r.regular_due, r.snooze_until, r.snooze_for, "
    "r.dm_channel_id, s.local_date, r.member_checked_at "
    "FROM reminders AS r LEFT JOIN reminder_sends AS s ON s.guild_id = r.guild_id AND s.user_id = r.user_id "
    "AND s.local_date = r.due_date AND s.outcome = 'sent' "
    "WHERE r.next_due_utc <= ?")
_DUE_AFTER = " AND (r.next_due_utc, r.guild_id, r.user_id) > (?, ?, ?)"
_DUE_ORDER = " ORDER BY r.next_due_utc, r.guild_id, r.user_id LIMIT ?"


def due_sql(*, after: bool, ownership: Ownership | None = None) -> tuple[str, tuple[int, ...]]:
    """The due query (and its shard parameters, which follow `now` and `after`'s three): for the bench's plans."""
    owned, shard_params = owned_clause("r.guild_id", ownership)
    return _DUE_SELECT + (_DUE_AFTER if after else "") + owned + _DUE_ORDER, shard_params


@lru_cache(maxsize=65536)
def _instant(text: str) -> datetime:
    """from_db, memoised: the reminders due in one tick share a few due instants."""
    return from_db(text)


@lru_cache(maxsize=4096)
def _day(text: str) -> date:
    return date.fromisoformat(text)


def _due_rows(raw: sqlite3.Connection, now: str, limit: int, after: tuple[str, int, int] | None,
              ownership: Ownership | None) -> list[DueReminder]:
    """On the database thread: the query as plain tuples, then domain objects from memoised parts.

    Only active reminders have a next_due_utc, so enabled/paused need no reading; regular_due is set.
    """
    cursor = raw.cursor()
    cursor.row_factory = None
    due: list[DueReminder] = []
    sql, shard_params = due_sql(after=after is not None, ownership=ownership)
    rows = cursor.execute(sql, (now, *(after or ()), *shard_params, limit))
    for guild_id, user_id, local_time, zone, days, regular, until, snooze_for, channel, sent, checked in rows:
        reminder = Reminder(guild_id, user_id, _schedule(local_time, zone, days), True, None, None,
                            _instant(regular) if regular else None, _instant(until) if until else None,
                            _day(snooze_for) if snooze_for else None, channel)
        due.append(DueReminder(reminder, frozenset({_day(sent)}) if sent else _NO_DAYS,
                               _instant(checked) if checked else None))
    return due


_NO_DAYS: frozenset[date] = frozenset()


async def due_reminders(db: Database, now: datetime, limit: int = 5000,
                        after: tuple[str, int, int] | None = None, *,
                        ownership: Ownership | None = None) -> list[DueReminder]:
    """Active reminders due at `now` (earliest first, at most `limit`): one query on the reminders_due index.

    `after` (a DueReminder's `position`) reads the next batch. `ownership`: only the servers on this process's
    shards (None: every server). The rows become Reminder objects on aiosqlite's thread, not on the event loop.
    """
    return await db.run_sync(lambda raw: _due_rows(raw, _stamp(now), limit, after, ownership), write=False)


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


async def claim_deliveries(db: Database, claims: Sequence[Claim], now: datetime,
                           grace: timedelta) -> dict[tuple[int, int, str, str], ClaimDecision]:
    """Commit a claim for each delivery before it is sent: one transaction. Raises if the database refuses.

    New deliveries, failed ones (retried) and claims older than `grace` (left by a crash: sent again with the
    same nonce) are claimed; sent ones and fresh claims are not.
    """
    stamp = _stamp(now)
    stale = _stamp(now - grace)

    def claim(raw: sqlite3.Connection) -> dict[tuple[int, int, str, str], ClaimDecision]:
        cursor = raw.cursor()
        cursor.row_factory = None
        decided: dict[tuple[int, int, str, str], ClaimDecision] = {}
        for item in claims:
            key = item.key
            row = cursor.execute(
                "SELECT state, claimed_at, message_id FROM reminder_deliveries WHERE guild_id = ? AND user_id = ? "
                "AND local_date = ? AND slot = ?", key).fetchone()
            if row is None:
                cursor.execute(
                    "INSERT INTO reminder_deliveries (guild_id, user_id, local_date, slot, kind, nonce, state, "
                    "claimed_at) VALUES (?, ?, ?, ?, ?, ?, 'claimed', ?)",
                    (*key, item.kind.value, item.nonce, stamp))
                decided[key] = ClaimDecision(send=True)
            elif row[0] == "sent":
                decided[key] = ClaimDecision(send=False, message_id=row[2])
            elif row[0] == "failed" or row[1] <= stale:
                cursor.execute(
                    "UPDATE reminder_deliveries SET state = 'claimed', kind = ?, claimed_at = ?, "
                    "attempts = attempts + 1, finished_at = NULL, reason = NULL WHERE guild_id = ? AND user_id = ? "
                    "AND local_date = ? AND slot = ?", (item.kind.value, stamp, *key))
                decided[key] = ClaimDecision(send=True)
            else:
                decided[key] = ClaimDecision(send=False)
        return decided

    return await db.run_sync(claim)


async def deliveries_of(db: Database, guild_id: int, user_id: int) -> list[dict[str, object]]:
    """A member's delivery rows, oldest first (for tests and operators)."""
    rows = await db.fetchall(
        "SELECT local_date, slot, kind, nonce, state, claimed_at, attempts, finished_at, message_id, reason "
        "FROM reminder_deliveries WHERE guild_id = ? AND user_id = ? ORDER BY local_date, slot",
        (guild_id, user_id))
    return [dict(row) for row in rows]


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


async def record_tick(db: Database, results: Sequence[TickResult], now: datetime) -> int:
    """Store a batch of tick results in one transaction; returns how many reminders were advanced.

    Each reminder is only advanced from the due instant the tick read (`next_due_utc = ?`), so a member
    who changed their reminder meanwhile keeps their change.
    """
    sends: list[tuple[object, ...]] = []
    snoozes: list[tuple[object, ...]] = []
    advances: list[tuple[object, ...]] = []
    pauses: list[tuple[object, ...]] = []
    channels: list[tuple[int, int]] = []
    finished: list[tuple[object, ...]] = []
    checked: list[tuple[object, ...]] = []
    stamp = _stamp(now)
    for result in results:
        reminder, delivery = result.reminder, result.delivery
        if result.claim is not None:
            sent = result.message_id is not None and result.failure is None
            finished.append(("sent" if sent else "failed", stamp, result.message_id if sent else None,
                             None if sent else (result.failure or "not sent")[:300], *result.claim.key))
        if result.member_checked:
            checked.append((stamp, reminder.guild_id, reminder.user_id))
        old_next = reminder.next_due
        if old_next is None:
            continue
        key = (reminder.guild_id, reminder.user_id)
        if result.dm_channel_id and result.dm_channel_id != reminder.dm_channel_id:
            channels.append((result.dm_channel_id, reminder.user_id))
        if result.pause is not None:
            pauses.append((result.pause.value, stamp, stamp, *key, _stamp(old_next)))
            continue
        if delivery is None:
            continue
        if delivery.kind is DeliveryKind.SNOOZED and delivery.for_date:
            snoozes.append((*key, delivery.for_date.isoformat()))
        elif delivery.sends and delivery.for_date:
            sends.append((*key, delivery.for_date.isoformat(), "sent", delivery.kind, _stamp(reminder.regular_due
                          or now), stamp, result.step, result.message_id))
        if delivery.missed:
            sends.append((*key, delivery.missed.isoformat(), "missed", None, _stamp(reminder.regular_due or now),
                          stamp, None, None))
        regular, until = delivery.regular_due, delivery.snooze_until
        advances.append((_stamp(regular), _due_day(regular, reminder.schedule.tz), _stamp(until) if until else None,
                         delivery.snooze_for.isoformat() if delivery.snooze_for else None,
                         _stamp(delivery.next_due), stamp, *key, _stamp(old_next)))
    if not (sends or snoozes or advances or pauses or channels or finished or checked):
        return 0

    def write(raw: sqlite3.Connection) -> None:
        if finished:
            raw.executemany(
                "UPDATE reminder_deliveries SET state = ?, finished_at = ?, message_id = ?, reason = ? "
                "WHERE guild_id = ? AND user_id = ? AND local_date = ? AND slot = ? AND state = 'claimed'", finished)
        if checked:
            raw.executemany("UPDATE reminders SET member_checked_at = ? WHERE guild_id = ? AND user_id = ?", checked)
        if sends:
            raw.executemany(_RECORD_SENT, sends)
        if snoozes:
            raw.executemany(
                "UPDATE reminder_sends SET snoozes = snoozes + 1 WHERE guild_id = ? AND user_id = ? AND local_date = ?",
                snoozes)
        if advances:
            raw.executemany(
                "UPDATE reminders SET regular_due = ?, due_date = ?, snooze_until = ?, snooze_for = ?, "
                "next_due_utc = ?, updated_at = ? WHERE guild_id = ? AND user_id = ? AND next_due_utc = ?",
                advances)
        if pauses:
            raw.executemany(
                "UPDATE reminders SET paused_reason = ?, paused_at = ?, pause_noticed = 0, next_due_utc = NULL, "
                "updated_at = ? WHERE guild_id = ? AND user_id = ? AND next_due_utc = ?",
                pauses)
        if channels:
            raw.executemany("UPDATE reminders SET dm_channel_id = ? WHERE user_id = ?", channels)

    await db.run_sync(write)
    return len(advances)


_RECORD_SENT = (
    "INSERT INTO reminder_sends (guild_id, user_id, local_date, outcome, kind, due_utc, sent_at, step, message_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id, local_date) "
    "DO UPDATE SET outcome = excluded.outcome, kind = excluded.kind, sent_at = excluded.sent_at, "
    "step = excluded.step, message_id = excluded.message_id "
    "WHERE reminder_sends.outcome = 'missed' AND excluded.outcome = 'sent'")


async def forget_dm_channel(db: Database, user_id: int) -> None:
    """The stored DM channel is gone (404): the next reminder opens a new one."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE reminders SET dm_channel_id = NULL WHERE user_id = ?", (user_id,))


async def prune_sent_records(db: Database, now: datetime) -> None:
    cutoff = to_db(now - timedelta(days=SENT_RECORD_DAYS))
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM reminder_sends WHERE sent_at < ?", (cutoff,))
        await conn.execute("DELETE FROM reminder_deliveries WHERE claimed_at < ?", (cutoff,))


async def take_pause_notice(db: Database, guild_id: int, user_id: int) -> Reminder | None:
    """The member's paused reminder if they have not been told how to fix it yet (and mark them told).

    Costs one primary-key read for members without a pending notice: it runs after every command.
    """
    row = await db.fetchone(
        "SELECT 1 FROM reminders WHERE guild_id = ? AND user_id = ? AND paused_reason IS NOT NULL "
        "AND pause_noticed = 0", (guild_id, user_id))
    if row is None:
        return None
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE reminders SET pause_noticed = 1 WHERE guild_id = ? AND user_id = ? "
            "AND paused_reason IS NOT NULL AND pause_noticed = 0", (guild_id, user_id))
        if cursor.rowcount == 0:
            return None
        return await _get_in(conn, guild_id, user_id)


# ---------------------------------------------------------------------------- what the DM shows


async def progress_of(db: Database, members: Iterable[tuple[int, int]]) -> dict[tuple[int, int], dict[int, StepState]]:
    """Step states of several members (guild_id, user_id): one primary-key query per server, in one hop."""
    pairs = list(dict.fromkeys(members))
    if not pairs:
        return {}
    by_guild: dict[int, list[int]] = {}
    for guild_id, user_id in pairs:
        by_guild.setdefault(guild_id, []).append(user_id)

    def load(raw: sqlite3.Connection) -> dict[tuple[int, int], dict[int, StepState]]:
        found: dict[tuple[int, int], dict[int, StepState]] = {pair: {} for pair in pairs}
        cursor = raw.cursor()
        cursor.row_factory = None
        for guild_id, users in by_guild.items():
            for start in range(0, len(users), 500):  # well under SQLite's limit on parameters
                part = users[start : start + 500]
                sql = _PROGRESS_SQL + ",".join("?" * len(part)) + ")"  # placeholders only
                rows = cursor.execute(sql, (guild_id, *part))
                for user_id, *row in rows:
                    state = _readable_state(guild_id, user_id, tuple(row))
                    if state is not None:
                        found[(guild_id, user_id)][state.step] = state
        return found

    return await db.run_sync(load, write=False)


_PROGRESS_SQL = ("SELECT user_id, step, status, note, updated_at, done_at FROM progress "
                 "WHERE guild_id = ? AND user_id IN (")

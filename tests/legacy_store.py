"""A SQLite file as an earlier Stepwise made it: the legacy migrations applied with plain sqlite3, and rows in it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db.database import migrations, split_statements

T1 = "2026-01-05T08:00:00.000000+00:00"
T2 = "2026-01-06T09:30:00.123456+00:00"
T3 = "2026-01-07T07:00:00.000000+00:00"
GUILD = 1234567890123456789  # a real snowflake: more than 2^31
ALICE, BOB = 111111111111111111, 222222222222222222

ROWS: dict[int, list[tuple[str, dict[str, object]]]] = {
    1: [
        ("meta", {"key": "command_hash", "value": "abc123"}),
        ("guild_settings", {"guild_id": GUILD, "timezone": "Europe/Berlin"}),
        ("members", {"guild_id": GUILD, "user_id": ALICE, "visible": 1, "done_count": 2, "reached_at": T2,
                     "timezone": "Asia/Tokyo", "created_at": T1}),
        ("members", {"guild_id": GUILD, "user_id": BOB, "visible": 0, "done_count": 1, "reached_at": T1,
                     "timezone": None, "created_at": T1}),
        ("progress", {"guild_id": GUILD, "user_id": ALICE, "step": 1, "status": "done", "note": "ok",
                      "updated_at": T1, "done_at": T1}),
        ("progress", {"guild_id": GUILD, "user_id": ALICE, "step": 2, "status": "done", "note": None,
                      "updated_at": T2, "done_at": T2}),
        ("progress", {"guild_id": GUILD, "user_id": ALICE, "step": 3, "status": "in_progress",
                      "note": "half way; with 'quotes'", "updated_at": T2, "done_at": None}),
        ("progress", {"guild_id": GUILD, "user_id": BOB, "step": 1, "status": "done", "note": None,
                      "updated_at": T1, "done_at": T1}),
        ("history", {"id": 1, "guild_id": GUILD, "user_id": ALICE, "batch": 1, "step": 1, "before_status": None,
                     "before_note": None, "before_done_at": None, "after_status": "done", "after_note": "ok",
                     "after_done_at": T1, "at": T1, "undone": 0}),
        ("history", {"id": 2, "guild_id": GUILD, "user_id": ALICE, "batch": 2, "step": 2, "before_status": None,
                     "before_note": None, "before_done_at": None, "after_status": "done", "after_note": None,
                     "after_done_at": T2, "at": T2, "undone": 0}),
        ("period_counts", {"guild_id": GUILD, "period": "2026-W02", "user_id": ALICE, "done_count": 2,
                           "reached_at": T2}),
        ("period_counts", {"guild_id": GUILD, "period": "2026-01", "user_id": BOB, "done_count": 1,
                           "reached_at": T1}),
    ],
    2: [
        ("community_settings", {"guild_id": GUILD, "leaderboard_channel": 333333333333333333,
                                "leaderboard_schedule": "weekly", "leaderboard_time": "09:00",
                                "leaderboard_weekday": 0, "leaderboard_next_slot": T3,
                                "leaderboard_last_slot": T1, "leaderboard_posted_at": T1,
                                "milestones_channel": 444444444444444444, "cohort_start": "2026-01-05",
                                "cohort_pace": 2.5}),
        ("milestone_roles", {"guild_id": GUILD, "phase": 1, "role_id": 555555555555555555}),
        ("community_failures", {"guild_id": GUILD, "kind": "leaderboard_post", "at": T1,
                                "message": "Missing Access"}),
    ],
    4: [
        ("reminders", {"guild_id": GUILD, "user_id": ALICE, "local_time": "08:30", "timezone": "Asia/Tokyo",
                       "days": 127, "enabled": 1, "paused_reason": None, "paused_at": None, "pause_noticed": 0,
                       "regular_due": T3, "due_date": "2026-01-07", "snooze_until": None, "snooze_for": None,
                       "next_due_utc": T3, "dm_channel_id": 666666666666666666, "created_at": T1,
                       "updated_at": T2}),
        ("reminders", {"guild_id": GUILD, "user_id": BOB, "local_time": "21:00", "timezone": "UTC",
                       "days": 31, "enabled": 1, "paused_reason": "dms_closed", "paused_at": T2,
                       "pause_noticed": 1, "regular_due": None, "due_date": None, "snooze_until": None,
                       "snooze_for": None, "next_due_utc": None, "dm_channel_id": None, "created_at": T1,
                       "updated_at": T2}),
        ("reminder_sends", {"guild_id": GUILD, "user_id": ALICE, "local_date": "2026-01-06", "outcome": "sent",
                            "kind": "daily", "due_utc": T2, "sent_at": T2, "step": 3,
                            "message_id": 777777777777777777, "snoozes": 1, "action": "snooze"}),
        ("reminder_sends", {"guild_id": GUILD, "user_id": ALICE, "local_date": "2026-01-05", "outcome": "missed",
                            "kind": None, "due_utc": T1, "sent_at": T1, "step": None, "message_id": None,
                            "snoozes": 0, "action": None}),
    ],
    5: [
        ("reminder_deliveries", {"guild_id": GUILD, "user_id": ALICE, "local_date": "2026-01-06", "slot": "day",
                                 "kind": "daily", "nonce": "r1abc", "state": "sent", "claimed_at": T2,
                                 "attempts": 1, "finished_at": T2, "message_id": 777777777777777777,
                                 "reason": None}),
    ],
    6: [
        ("leaderboard_posts", {"guild_id": GUILD, "slot": T1, "nonce": "lb1", "channel_id": 333333333333333333,
                               "late": 0, "state": "posted", "claimed_at": T1, "attempt_at": T1, "attempts": 1,
                               "message_id": 888888888888888888, "reason": None, "finished_at": T1}),
    ],
    7: [
        ("milestones", {"guild_id": GUILD, "user_id": ALICE, "milestone": 1, "reached_at": T2,
                        "announce": "posted", "message_id": 999999999999999999, "reason": None,
                        "role_id": 555555555555555555, "role_at": T2}),
    ],
}


def build_legacy_file(path: Path, version: int) -> None:
    """Legacy migrations 1..version with plain sqlite3 (as the previous db/database.py did), each followed by
    the ROWS of that version."""
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA foreign_keys = ON")
        for number, _name, sql in migrations()[:version]:
            raw.execute("BEGIN IMMEDIATE")
            for statement in split_statements(sql):
                raw.execute(statement)
            raw.execute(f"PRAGMA user_version = {number:d}")
            raw.execute("COMMIT")
            raw.execute("BEGIN IMMEDIATE")  # the rows that version's code wrote, before the next upgrade came
            for table, row in ROWS.get(number, []):
                columns = ", ".join(row)
                marks = ", ".join(f":{name}" for name in row)
                raw.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)
            raw.execute("COMMIT")
    finally:
        raw.close()


def dump(path: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Every table's columns and rows (sorted), read with plain sqlite3."""
    raw = sqlite3.connect(path)
    try:
        out: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
        names = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for name in names:
            cursor = raw.execute(f"SELECT * FROM {name}")
            columns = [d[0] for d in cursor.description]
            out[name] = (columns, sorted(cursor.fetchall(), key=repr))
        return out
    finally:
        raw.close()


def schema(path: Path) -> list[tuple[str, str, str | None]]:
    raw = sqlite3.connect(path)
    try:
        return list(raw.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                                "AND name != 'alembic_version' ORDER BY type, name"))
    finally:
        raw.close()

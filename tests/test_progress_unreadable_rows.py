"""One unreadable stored progress value (a done date that is not a date, an unknown status, a history row an old
version left) must not make the member's /done, /progress or /undo raise, nor anyone else's.

SQLite only (PostgreSQL's typed columns and constraints cannot hold such values). The rows are written straight
into the bot's SQLite file with the standard library's sqlite3 (the status
through `PRAGMA ignore_check_constraints`, as a database from before the CHECK could hold it). Before the fix,
every test here raised ValueError from `datetime.fromisoformat` or `Status(...)` in db/progress.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import simcord

from bot.domain.progress import Status
from db.database import Database
from db.progress import StepChange, apply_changes, load_member, undo
from tests.community_support import bot_of
from tests.conftest import World
from tests.helpers import embed_text

START = datetime(2026, 1, 1, tzinfo=UTC)
G, U = 10, 20


def write(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """One statement through a second, plain sqlite3 connection that does not check constraints."""
    with sqlite3.connect(db_path, timeout=10) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(sql, params)
    conn.close()


def spoil(db_path: Path, guild_id: int, user_id: int) -> None:
    """Step 2's done date is not a date; step 3's status is unknown."""
    write(db_path, "UPDATE progress SET done_at = 'not a date' WHERE guild_id = ? AND user_id = ? AND step = 2",
          (guild_id, user_id))
    write(db_path, "UPDATE progress SET status = 'bogus' WHERE guild_id = ? AND user_id = ? AND step = 3",
          (guild_id, user_id))


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = Database(db_path)
    await database.open()
    await database.migrate()
    yield database
    await database.close()


async def test_reading_and_writing_a_member_with_unreadable_rows(db: Database, db_path: Path) -> None:
    done = [StepChange(n, Status.DONE, done_at=START - timedelta(days=5 - n)) for n in range(1, 5)]
    await apply_changes(db, G, U, done, START, default_tz=ZoneInfo("UTC"))
    spoil(db_path, G, U)
    member = await load_member(db, G, U)
    assert sorted(member.states) == [1, 2, 4]  # the unknown status leaves its row out
    assert member.states[2].status is Status.DONE
    assert member.states[2].done_at is None  # the step stays done, its date is left out
    result = await apply_changes(db, G, U, [StepChange(3, Status.DONE)], START, default_tz=ZoneInfo("UTC"))
    assert result.changed == (3,)
    assert (await load_member(db, G, U)).done == frozenset({1, 2, 3, 4})


async def test_undo_over_an_unreadable_history_date(db: Database, db_path: Path) -> None:
    await apply_changes(db, G, U, [StepChange(1, Status.DONE)], START, default_tz=ZoneInfo("UTC"))
    await apply_changes(db, G, U, [StepChange(1, Status.SKIPPED)], START, default_tz=ZoneInfo("UTC"))
    write(db_path, "UPDATE history SET before_done_at = 'yesterday' WHERE guild_id = ? AND user_id = ?", (G, U))
    moved = await undo(db, G, U, START, default_tz=ZoneInfo("UTC"))
    assert moved is not None
    assert (await load_member(db, G, U)).status_of(1) is Status.DONE  # done again, now


async def test_done_and_progress_with_unreadable_rows(env: simcord.Env, world: World, db_path: Path) -> None:
    if bot_of(env).db.dialect != "sqlite":
        pytest.skip("odd stored values exist only in SQLite files; PostgreSQL's typed columns cannot hold them")
    for member, steps in ((world.alice, range(1, 5)), (world.bob, range(1, 3))):
        changes = [StepChange(n, Status.DONE, done_at=START - timedelta(days=10 - n)) for n in steps]
        await apply_changes(bot_of(env).db, world.guild.id, member.id, changes, START,
                            default_tz=bot_of(env).settings.tz)
    spoil(db_path, world.guild.id, world.alice.id)
    mine = await world.alice.slash(world.channel, "progress")
    assert "**3/80** steps done" in embed_text(mine)
    theirs = await world.bob.slash(world.channel, "progress", member=world.alice)
    assert "**3/80** steps done" in embed_text(theirs)
    marked = await world.alice.slash(world.channel, "done")
    assert "Step 3 done" in embed_text(marked)
    assert "**4/80** steps done" in embed_text(marked)
    bob = await world.bob.slash(world.channel, "done")
    assert "Step 3 done" in embed_text(bob)

"""db/track_reads.py on a real store (SQLite and PostgreSQL): the scope:all board against a ranking made here by
sorting every member, page by page and for each member's own rank, and a change refused after a switch."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from bot.domain.errors import UserError
from bot.domain.progress import MemberProgress, Status
from db.database import Database
from db.progress import StepChange, apply_changes, load_member, set_visible
from db.track_reads import change_on_track, share_board
from db.tracks import add_plan, switch_track

G = 1
TZ = ZoneInfo("UTC")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


async def upload(db: Database, name: str, n: int) -> int:
    text = f"# {name}\n" + "".join(f"- [ ] {i}. Step {i} (Do {i})\n" for i in range(1, n + 1))
    return (await add_plan(db, G, name=name, title=name, steps=n, source=text, now=T0, by=9, limit=10)).plan_id


async def test_the_share_board_is_every_member_sorted_by_share_of_their_track(db: Database) -> None:
    tracks = {0: 80, await upload(db, "Frontend", 12): 12, await upload(db, "Data", 5): 5}
    rng = random.Random(11)
    expected = []  # (share, reached, user, plan, done) of every ranked member
    for user in range(1, 61):
        plan_id = rng.choice(list(tracks))
        if plan_id:
            await switch_track(db, G, user, plan_id, steps=range(1, tracks[plan_id] + 1), now=T0, default_tz=TZ)
        done = rng.randint(0, tracks[plan_id])
        # few distinct instants, so that equal shares on different tracks tie on time and fall to the user id
        at = T0 + timedelta(hours=rng.randint(0, 3))
        if done:
            await apply_changes(db, G, user, [StepChange(n, Status.DONE, done_at=at) for n in range(1, done + 1)],
                                at, default_tz=TZ)
        hidden = rng.random() < 0.15
        if hidden:
            await set_visible(db, G, user, False, T0)
        if done and not hidden:
            expected.append((-Fraction(done, tracks[plan_id]), at, user, plan_id, done))
    expected.sort()
    assert len({e[0] for e in expected}) < len(expected)  # there are ties

    board = await share_board(db, G, 1, tracks, 0, per_page=10)
    pages = board.count
    assert pages == -(-len(expected) // 10)
    seen = []
    for page in range(pages):
        board = await share_board(db, G, 1, tracks, page, per_page=10)
        assert board.index == page
        seen += [(r.rank, r.user_id, r.plan_id, r.done, r.total) for r in board.rows]
    assert seen == [(i + 1, e[2], e[3], e[4], tracks[e[3]]) for i, e in enumerate(expected)]
    ranks = {e[2]: i + 1 for i, e in enumerate(expected)}
    for user in range(1, 61):
        own = (await share_board(db, G, user, tracks, 0, per_page=10)).own
        assert own.ranked == len(expected)
        assert own.rank == ranks.get(user), user
    assert (await share_board(db, G, 999, tracks, 0, per_page=10)).own.rank is None  # never used the bot


async def test_members_of_a_track_not_listed_are_left_out(db: Database) -> None:
    front = await upload(db, "Frontend", 4)
    await switch_track(db, G, 1, front, steps=range(1, 5), now=T0, default_tz=TZ)
    await apply_changes(db, G, 1, [StepChange(1, Status.DONE)], T0, default_tz=TZ)
    await apply_changes(db, G, 2, [StepChange(1, Status.DONE)], T0, default_tz=TZ)
    board = await share_board(db, G, 1, {0: 80}, 0, per_page=10)
    assert [r.user_id for r in board.rows] == [2]
    assert (board.own.rank, board.own.ranked) == (None, 1)


async def test_a_change_is_refused_when_the_member_is_on_another_track(db: Database) -> None:
    front = await upload(db, "Frontend", 4)
    await apply_changes(db, G, 1, [StepChange(1, Status.DONE)], T0, default_tz=TZ)

    def decide(_member: MemberProgress) -> list[StepChange]:
        return [StepChange(2, Status.DONE)]

    result = await change_on_track(db, G, 1, decide, T0, plan_id=0, default_tz=TZ)
    assert result.changed == (2,)
    with pytest.raises(UserError, match="Your track changed just now"):
        await change_on_track(db, G, 1, decide, T0, plan_id=front, default_tz=TZ)
    await switch_track(db, G, 1, front, steps=range(1, 5), now=T0, default_tz=TZ)
    with pytest.raises(UserError):
        await change_on_track(db, G, 1, decide, T0, plan_id=0, default_tz=TZ)
    assert (await load_member(db, G, 1)).states == {}  # nothing written on the Frontend track

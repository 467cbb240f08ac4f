"""Scheduled work per track (issue 11), through the services on a real database (SQLite and PostgreSQL), Discord
faked at the sender boundary: the reminder DM names the member's next step on their own track, and the scheduled
leaderboard post carries a board per track beside the bundled plan's."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.community import PostSchedule
from bot.domain.plan import load_plan, parse_plan
from bot.domain.progress import Status
from bot.domain.reminders import Schedule, SendWindow
from bot.services.posts import Board, LeaderboardPosts, Refused, Sent
from bot.services.reminders import ReminderDispatcher, ReminderMessage
from bot.services.tracks import TrackCatalog
from db import reminders as store
from db.community import set_leaderboard
from db.database import Database
from db.progress import StepChange, apply_changes
from db.tracks import add_plan, set_default_plan

G = 7
ALICE, BOB, CAROL = 101, 102, 103
UTC_ZONE = ZoneInfo("UTC")
SET_AT = datetime(2026, 1, 5, 8, tzinfo=UTC)
T9 = datetime(2026, 1, 5, 9, tzinfo=UTC)
FRONTEND = "# Frontend\n## Basics\n" + "".join(f"- [ ] {i}. Page {i} (Build page {i})\n" for i in range(1, 7))


class Dms:
    def __init__(self) -> None:
        self.sent: dict[int, ReminderMessage] = {}

    async def open_dm(self, user_id: int) -> int:
        return user_id

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        self.sent[message.user_id] = message
        return len(self.sent)

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        return True


class Channel:
    def __init__(self) -> None:
        self.boards: list[Board] = []

    async def send_post(self, guild_id: int, channel_id: int | None, board: Board, nonce: str) -> Sent | Refused:
        self.boards.append(board)
        return Sent(len(self.boards))

    async def find_post(self, guild_id: int, channel_id: int | None, slot: datetime) -> int | None:
        return None


async def frontend(db: Database, catalog: TrackCatalog) -> int:
    row = await add_plan(db, G, name="Frontend", title="Frontend", steps=6, source=FRONTEND, now=SET_AT, by=None,
                         limit=10)
    return row.plan_id


async def test_the_reminder_names_the_next_step_of_the_members_own_track(db: Database) -> None:
    bundled = load_plan()
    catalog = TrackCatalog(db, bundled)
    plan_id = await frontend(db, catalog)
    track = await catalog.get(G, plan_id)
    assert track is not None
    await apply_changes(db, G, BOB, [StepChange(n, Status.DONE) for n in (1, 2, 3)], SET_AT, default_tz=UTC_ZONE)
    await catalog.switch(G, ALICE, track, SET_AT, default_tz=UTC_ZONE)
    await apply_changes(db, G, ALICE, [StepChange(1, Status.DONE)], SET_AT, default_tz=UTC_ZONE)
    await set_default_plan(db, G, plan_id)  # Carol has no row yet: she starts on the default, Frontend
    for user in (ALICE, BOB, CAROL):
        await store.set_reminder(db, G, user, Schedule(time(9), UTC_ZONE), SET_AT)
    dms = Dms()
    await ReminderDispatcher(db, bundled, dms, window=SendWindow(rate=10**9), tracks=catalog).run_due(T9)
    alice, bob, carol = dms.sent[ALICE], dms.sent[BOB], dms.sent[CAROL]
    assert alice.step is not None
    assert (alice.step.number, alice.step.title) == (2, "Page 2")
    assert (alice.plan_id, alice.track_name, alice.plan and alice.plan.total) == (plan_id, "Frontend", 6)
    assert bob.step == bundled.step(4)
    assert bob.plan_id == 0
    assert bob.track_name is None
    assert carol.step is not None
    assert carol.step.title == "Page 1"
    assert carol.plan_id == plan_id


async def test_the_scheduled_post_has_a_board_per_track(db: Database) -> None:
    bundled = load_plan()
    catalog = TrackCatalog(db, bundled)
    slot = datetime(2026, 1, 5, 18, tzinfo=UTC)
    await set_leaderboard(db, G, 10, PostSchedule("daily", time(18)), slot)
    channel = Channel()
    posts = LeaderboardPosts(db, channel, default_tz=UTC_ZONE, plan_total=bundled.total, tracks=catalog)
    await apply_changes(db, G, BOB, [StepChange(1, Status.DONE)], SET_AT, default_tz=UTC_ZONE)
    await posts.tick(slot)
    assert channel.boards[-1].tracks == ()  # no own plans: the post is as it always was
    assert channel.boards[-1].track_name is None
    plan_id = await frontend(db, catalog)
    track = await catalog.get(G, plan_id)
    assert track is not None
    assert parse_plan(FRONTEND).total == track.plan.total
    for user, steps in ((ALICE, 3), (CAROL, 1)):
        await catalog.switch(G, user, track, SET_AT, default_tz=UTC_ZONE)
        await apply_changes(db, G, user, [StepChange(n, Status.DONE) for n in range(1, steps + 1)],
                            SET_AT + timedelta(minutes=user), default_tz=UTC_ZONE)
    await posts.tick(slot + timedelta(days=1))
    board = channel.boards[-1]
    assert [r.user_id for r in board.rows] == [BOB]
    assert board.track_name == bundled.title
    [own] = board.tracks
    assert (own.name, own.total) == ("Frontend", 6)
    assert [(r.user_id, r.done) for r in own.rows] == [(ALICE, 3), (CAROL, 1)]
    assert [r.user_id for r in own.movers] == [ALICE, CAROL]

"""The scheduled-post use case on a real database (SQLite and PostgreSQL), without Discord: claims, nonces,
retries, refusals.

The sender here is a stand-in for the channel (the interface the cog implements), recording what it was asked
to post; everything else (the store, the service) is the real code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.community import PostSchedule
from bot.services.posts import GRACE, Board, LeaderboardPosts, Refused, Sent, post_nonce
from db.community import get_settings, set_leaderboard
from db.database import Database
from db.posts import post_state
from tests.store_faults import refuse_writes

G = 1
CHANNEL = 10
SLOT = datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
DAILY = PostSchedule("daily", time(18, 0))


class Channel:
    """A channel that keeps what it was sent; `fail` makes the next sends raise before or after delivery."""

    def __init__(self) -> None:
        self.posts: dict[str, tuple[int, Board]] = {}  # nonce -> (message id, board)
        self.sends = 0
        self.fail: list[tuple[BaseException, bool]] = []  # (error, after delivery)
        self.refuse: str | None = None

    async def send_post(self, guild_id: int, channel_id: int | None, board: Board, nonce: str) -> Sent | Refused:
        self.sends += 1
        if self.refuse:
            return Refused(self.refuse)
        error, after = self.fail.pop(0) if self.fail else (None, False)
        if error is not None and not after:
            raise error
        message_id = 1000 + len(self.posts)
        self.posts[nonce] = (message_id, board)  # a real channel would hold two messages for two sends
        if error is not None:
            raise error
        return Sent(message_id)

    async def find_post(self, guild_id: int, channel_id: int | None, slot: datetime) -> int | None:
        return next((mid for mid, board in self.posts.values() if board.slot == slot), None)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.open()
    await database.migrate()
    await set_leaderboard(database, G, CHANNEL, DAILY, SLOT)
    try:
        yield database
    finally:
        await database.close()


def service(db: Database, channel: Channel) -> LeaderboardPosts:
    return LeaderboardPosts(db, channel, default_tz=ZoneInfo("UTC"), plan_total=80)


def test_the_nonce_is_per_server_and_slot_and_fits_discord() -> None:
    nonce = post_nonce(G, SLOT)
    assert nonce == post_nonce(G, SLOT.astimezone(ZoneInfo("Pacific/Auckland")))  # the same instant
    assert len(nonce) == 25
    assert len({nonce, post_nonce(G + 1, SLOT), post_nonce(G, SLOT + timedelta(days=1))}) == 3


async def test_nothing_is_sent_when_the_claim_cannot_be_committed(db: Database,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    channel = Channel()
    await refuse_writes(db)  # the database refuses writes
    await service(db, channel).tick(SLOT)
    assert channel.sends == 0
    assert "leaderboard post for guild 1" in caplog.text  # logged, not raised
    await refuse_writes(db, on=False)
    await service(db, channel).tick(SLOT + timedelta(minutes=1))  # the slot is still due: posted now
    assert channel.sends == 1


async def test_a_lost_answer_is_found_in_the_channel_and_never_sent_twice(db: Database) -> None:
    channel = Channel()
    channel.fail.append((ConnectionResetError("reset"), True))
    posts = service(db, channel)
    await posts.tick(SLOT)
    assert (await post_state(db, G, SLOT))[0] == "claimed"  # type: ignore[index]
    await posts.tick(SLOT + GRACE / 2)  # not retried within the grace period
    await posts.tick(SLOT + GRACE + timedelta(seconds=1))
    await posts.tick(SLOT + 2 * GRACE + timedelta(seconds=2))
    assert channel.sends == 1
    state, message_id, _ = await post_state(db, G, SLOT)  # type: ignore[misc]
    assert (state, message_id) == ("posted", 1000)


async def test_a_refusal_fails_the_slot_for_good_and_is_shown(db: Database) -> None:
    channel = Channel()
    channel.refuse = "I am missing Send Messages in <#10>."
    posts = service(db, channel)
    await posts.tick(SLOT)
    await posts.tick(SLOT + timedelta(hours=1))
    assert channel.sends == 1
    assert (await post_state(db, G, SLOT))[0] == "failed"  # type: ignore[index]
    failure = (await get_settings(db, G)).failures["leaderboard_post"]
    assert failure.message == "I am missing Send Messages in <#10>."


async def test_two_services_on_one_database_post_a_slot_once(db: Database) -> None:
    """Two processes (or a tick that overlaps a slow one) share the claim in the database, not in memory."""
    channel = Channel()
    channel.fail.append((TimeoutError(), False))
    first, second = service(db, channel), service(db, channel)
    await first.tick(SLOT)
    later = SLOT + GRACE + timedelta(seconds=1)
    await first.tick(later)
    await second.tick(later)
    assert channel.sends == 2  # the failed attempt, then one retry
    assert len(channel.posts) == 1

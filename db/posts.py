"""Scheduled leaderboard posts: the durable state of each server's slot (claimed -> posted / failed).

The claim is committed before anything is sent, in the same transaction that moves the server's next slot on,
so a slot is claimed once however often (or by however many restarts, or processes) the tick runs. What happened
to it is recorded afterwards; a claim left 'claimed' (a crash, a network error) is tried again by
`bot.services.posts`. On PostgreSQL two processes may tick the same server at once: the conditional UPDATE of the
next slot (a row lock, the second waits and then finds the slot moved) and the primary key of leaderboard_posts
(ON CONFLICT DO NOTHING) let exactly one of them claim a slot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from bot.domain.sharding import Ownership
from db.database import Database
from db.dialects import upsert
from db.shards import owned
from db.tables import community_failures, community_settings, leaderboard_posts

KEEP = timedelta(days=30)  # finished rows older than this are pruned when a new slot is claimed

_posts = leaderboard_posts.c


@dataclass(frozen=True, slots=True)
class PostClaim:
    """One claimed slot: where it goes, with which nonce, and when its latest attempt started."""

    guild_id: int
    slot: datetime
    nonce: str
    channel_id: int | None
    late: bool
    attempt_at: datetime
    attempts: int
    reason: str | None = None  # why the latest attempt did not finish, if one did not


def _claim(row: Row[Any]) -> PostClaim:
    return PostClaim(int(row.guild_id), row.slot, str(row.nonce), row.channel_id, bool(row.late), row.attempt_at,
                     int(row.attempts), row.reason)


_CLAIM_COLUMNS = (_posts.guild_id, _posts.slot, _posts.nonce, _posts.channel_id, _posts.late, _posts.attempt_at,
                  _posts.attempts, _posts.reason)


async def claim_slot(db: Database, guild_id: int, expected: datetime, following: datetime, *,
                     post: datetime | None, late: bool, nonce: str, channel_id: int | None,
                     now: datetime) -> PostClaim | None:
    """Move the server's next slot from `expected` to `following` and, when `post` is a slot to post, claim it.

    One transaction: the claim is committed before the caller sends anything. None when another run (or a
    configuration change) moved the next slot first, when there is nothing to post (every due slot was too
    old), or when this slot was claimed before (a schedule changed back to the same time): then this run must
    not post.
    """
    settings = community_settings.c

    def run(conn: Connection) -> PostClaim | None:
        moved = conn.execute(
            update(community_settings)
            .where(settings.guild_id == guild_id, settings.leaderboard_next_slot == expected)
            .values(leaderboard_next_slot=following,
                    leaderboard_last_slot=post if post is not None else settings.leaderboard_last_slot)
        ).rowcount
        if moved != 1 or post is None:
            return None
        conn.execute(leaderboard_posts.delete().where(_posts.guild_id == guild_id, _posts.slot < now - KEEP,
                                                      _posts.state != "claimed"))
        inserted = conn.execute(
            upsert(leaderboard_posts)
            .values(guild_id=guild_id, slot=post, nonce=nonce, channel_id=channel_id, late=int(late),
                    claimed_at=now, attempt_at=now)
            .on_conflict_do_nothing(index_elements=[_posts.guild_id, _posts.slot])
            .returning(_posts.guild_id)
        ).first()
        if inserted is None:
            return None
        return PostClaim(guild_id, post, nonce, channel_id, late, now, 1)

    return await db.run_sync(run)


def stale_claims_query(attempted_before: datetime, ownership: Ownership | None = None) -> Any:
    """The query of `stale_claims` (for tests that look at its plan)."""
    stmt = select(*_CLAIM_COLUMNS).where(_posts.state == "claimed", _posts.attempt_at < attempted_before)
    shard = owned(_posts.guild_id, ownership)
    if shard is not None:
        stmt = stmt.where(shard)
    return stmt.order_by(_posts.attempt_at)


async def stale_claims(db: Database, *, attempted_before: datetime,
                       ownership: Ownership | None = None) -> list[PostClaim]:
    """Claims still open whose latest attempt started before `attempted_before`, oldest first (only those of
    servers on this process's shards, when `ownership` is given)."""
    return [_claim(r) for r in await db.fetchall(stale_claims_query(attempted_before, ownership))]


async def start_retry(db: Database, claim: PostClaim, now: datetime) -> PostClaim | None:
    """Take a stale claim for one more attempt (committed first); None when someone else took it or it closed."""
    async with db.transaction() as conn:
        taken = (await conn.execute(
            update(leaderboard_posts)
            .where(_posts.guild_id == claim.guild_id, _posts.slot == claim.slot, _posts.state == "claimed",
                   _posts.attempt_at == claim.attempt_at)
            .values(attempt_at=now, attempts=_posts.attempts + 1)
            .returning(_posts.attempts)
        )).first()
        if taken is None:
            return None
    return replace(claim, attempt_at=now, attempts=claim.attempts + 1)


async def record_posted(db: Database, claim: PostClaim, message_id: int, now: datetime) -> None:
    """The slot's post exists (`message_id`): the claim is done, and /config show says when it went out."""
    async with db.transaction() as conn:
        await conn.execute(
            update(leaderboard_posts)
            .where(_posts.guild_id == claim.guild_id, _posts.slot == claim.slot, _posts.state == "claimed")
            .values(state="posted", message_id=message_id, reason=None, finished_at=now)
        )
        await conn.execute(update(community_settings).where(community_settings.c.guild_id == claim.guild_id)
                           .values(leaderboard_posted_at=now))


async def record_problem(db: Database, claim: PostClaim, reason: str, *, final: bool, now: datetime) -> None:
    """An attempt did not post: `final` closes the claim as failed, otherwise it stays open for a retry.

    The problem is also the server's last `leaderboard_post` failure, for /config show.
    """
    async with db.transaction() as conn:
        await conn.execute(
            update(leaderboard_posts)
            .where(_posts.guild_id == claim.guild_id, _posts.slot == claim.slot, _posts.state == "claimed")
            .values(state="failed" if final else "claimed", reason=reason[:500], finished_at=now if final else None)
        )
        failure = upsert(community_failures).values(guild_id=claim.guild_id, kind="leaderboard_post", at=now,
                                                    message=reason[:500])
        await conn.execute(failure.on_conflict_do_update(
            index_elements=[community_failures.c.guild_id, community_failures.c.kind],
            set_={"at": failure.excluded.at, "message": failure.excluded.message}))


async def post_state(db: Database, guild_id: int, slot: datetime) -> tuple[str, int | None, str | None] | None:
    """(state, message id, reason) of one slot, or None when it was never claimed."""
    row = await db.fetchone(select(_posts.state, _posts.message_id, _posts.reason)
                            .where(_posts.guild_id == guild_id, _posts.slot == slot))
    return None if row is None else (str(row.state), row.message_id, row.reason)


"""Scheduled leaderboard posts: the durable state of each server's slot (claimed -> posted / failed).

The claim is committed before anything is sent, in the same transaction that moves the server's next slot on,
so a slot is claimed once however often (or by however many restarts) the tick runs. What happened to it is
recorded afterwards; a claim left 'claimed' (a crash, a network error) is tried again by `bot.services.posts`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.sharding import Ownership
from db.database import Database, from_db, to_db
from db.shards import owned_clause

KEEP = timedelta(days=30)  # finished rows older than this are pruned when a new slot is claimed


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


def _claim(row: sqlite3.Row) -> PostClaim:
    return PostClaim(int(row["guild_id"]), from_db(row["slot"]), str(row["nonce"]), row["channel_id"],
                     bool(row["late"]), from_db(row["attempt_at"]), int(row["attempts"]), row["reason"])


_CLAIM_COLUMNS = "guild_id, slot, nonce, channel_id, late, attempt_at, attempts, reason"


async def claim_slot(db: Database, guild_id: int, expected: datetime, following: datetime, *,
                     post: datetime | None, late: bool, nonce: str, channel_id: int | None,
                     now: datetime) -> PostClaim | None:
    """Move the server's next slot from `expected` to `following` and, when `post` is a slot to post, claim it.

    One transaction: the claim is committed before the caller sends anything. None when another run (or a
    configuration change) moved the next slot first, when there is nothing to post (every due slot was too
    old), or when this slot was claimed before (a schedule changed back to the same time): then this run must
    not post.
    """

    def run(raw: sqlite3.Connection) -> PostClaim | None:
        moved = raw.execute(
            "UPDATE community_settings SET leaderboard_next_slot = ?, "
            "leaderboard_last_slot = COALESCE(?, leaderboard_last_slot) "
            "WHERE guild_id = ? AND leaderboard_next_slot = ?",
            (to_db(following), to_db(post) if post else None, guild_id, to_db(expected)),
        ).rowcount
        if moved != 1 or post is None:
            return None
        raw.execute("DELETE FROM leaderboard_posts WHERE guild_id = ? AND slot < ? AND state != 'claimed'",
                    (guild_id, to_db(now - KEEP)))
        inserted = raw.execute(
            "INSERT INTO leaderboard_posts (guild_id, slot, nonce, channel_id, late, claimed_at, attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, slot) DO NOTHING",
            (guild_id, to_db(post), nonce, channel_id, int(late), to_db(now), to_db(now)),
        ).rowcount
        if inserted != 1:
            return None
        return PostClaim(guild_id, post, nonce, channel_id, late, now, 1)

    return await db.run_sync(run)


async def stale_claims(db: Database, *, attempted_before: datetime,
                       ownership: Ownership | None = None) -> list[PostClaim]:
    """Claims still open whose latest attempt started before `attempted_before`, oldest first (only those of
    servers on this process's shards, when `ownership` is given)."""
    owned, shard_params = owned_clause("guild_id", ownership)
    rows = await db.fetchall(
        f"SELECT {_CLAIM_COLUMNS} FROM leaderboard_posts "  # noqa: S608 - a fixed column list, a fixed condition
        "WHERE state = 'claimed' AND attempt_at < ?" + owned + " ORDER BY attempt_at",
        (to_db(attempted_before), *shard_params),
    )
    return [_claim(r) for r in rows]


async def start_retry(db: Database, claim: PostClaim, now: datetime) -> PostClaim | None:
    """Take a stale claim for one more attempt (committed first); None when someone else took it or it closed."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE leaderboard_posts SET attempt_at = ?, attempts = attempts + 1 "
            "WHERE guild_id = ? AND slot = ? AND state = 'claimed' AND attempt_at = ?",
            (to_db(now), claim.guild_id, to_db(claim.slot), to_db(claim.attempt_at)),
        )
        if cursor.rowcount != 1:
            return None
    return replace(claim, attempt_at=now, attempts=claim.attempts + 1)


async def record_posted(db: Database, claim: PostClaim, message_id: int, now: datetime) -> None:
    """The slot's post exists (`message_id`): the claim is done, and /config show says when it went out."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE leaderboard_posts SET state = 'posted', message_id = ?, reason = NULL, finished_at = ? "
            "WHERE guild_id = ? AND slot = ? AND state = 'claimed'",
            (message_id, to_db(now), claim.guild_id, to_db(claim.slot)),
        )
        await conn.execute("UPDATE community_settings SET leaderboard_posted_at = ? WHERE guild_id = ?",
                           (to_db(now), claim.guild_id))


async def record_problem(db: Database, claim: PostClaim, reason: str, *, final: bool, now: datetime) -> None:
    """An attempt did not post: `final` closes the claim as failed, otherwise it stays open for a retry.

    The problem is also the server's last `leaderboard_post` failure, for /config show.
    """
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE leaderboard_posts SET state = ?, reason = ?, finished_at = ? "
            "WHERE guild_id = ? AND slot = ? AND state = 'claimed'",
            ("failed" if final else "claimed", reason[:500], to_db(now) if final else None,
             claim.guild_id, to_db(claim.slot)),
        )
        await conn.execute(
            "INSERT INTO community_failures (guild_id, kind, at, message) VALUES (?, 'leaderboard_post', ?, ?) "
            "ON CONFLICT (guild_id, kind) DO UPDATE SET at = excluded.at, message = excluded.message",
            (claim.guild_id, to_db(now), reason[:500]),
        )


async def post_state(db: Database, guild_id: int, slot: datetime) -> tuple[str, int | None, str | None] | None:
    """(state, message id, reason) of one slot, or None when it was never claimed."""
    row = await db.fetchone("SELECT state, message_id, reason FROM leaderboard_posts WHERE guild_id = ? AND slot = ?",
                            (guild_id, to_db(slot)))
    return None if row is None else (str(row[0]), row[1], row[2])

"""Which servers this process serves: Discord's shard rule and the shard ids a process owns. Pure: no discord,
no database.

Discord puts a server on shard `(guild_id >> 22) % shard_count`; its gateway events (commands, joins, milestones)
arrive only at the process that runs that shard. Scheduled work (reminders, leaderboard posts) has no event to
arrive with, so each process picks its own servers' rows with the same rule (`Ownership.owns`, and in SQL
`db.shards.owned_clause`). Several processes with disjoint shard ids share the servers between them; overlapping
ones are still safe, because every delivery is claimed in the database before it is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_SHARDS = 65_536  # far beyond any real bot (Discord: one shard per 1,000-2,500 servers); bounds the input


class ShardSpecError(ValueError):
    """A shard list or count that cannot be used; the message says why, in one line."""


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that carries a server, by Discord's rule."""
    if shard_count < 1:
        raise ShardSpecError(f"a shard count is at least 1, not {shard_count}")
    return (guild_id >> 22) % shard_count


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """Shard ids from "0-3", "0,2,5" or "0-3,8,10-11" (spaces allowed): sorted, each once.

    Raises ShardSpecError on anything else (an empty list, a negative id, a reversed range, a duplicate).
    """
    ids: list[int] = []
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise ShardSpecError(f"{text.strip()!r} is not a list of shard ids; write them like 0-3 or 0,2,5")
    for part in parts:
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ShardSpecError(f"{part!r} is not a shard id or a range such as 0-3") from None
        if first < 0 or last < 0:
            raise ShardSpecError(f"{part!r}: shard ids start at 0")
        if last < first:
            raise ShardSpecError(f"{part!r}: a range goes from the lower id to the higher, e.g. {last}-{first}")
        if last >= MAX_SHARDS:
            raise ShardSpecError(f"{part!r}: shard ids stay below {MAX_SHARDS}")
        ids.extend(range(first, last + 1))
    return check_shard_ids(ids)


def check_shard_ids(ids: Iterable[int]) -> tuple[int, ...]:
    """The ids sorted; ShardSpecError when one appears twice, is negative, or there are none."""
    listed = list(ids)
    if not listed:
        raise ShardSpecError("no shard ids given")
    seen: set[int] = set()
    for shard in listed:
        if shard < 0:
            raise ShardSpecError(f"shard ids start at 0, not {shard}")
        if shard in seen:
            raise ShardSpecError(f"shard {shard} is listed twice")
        seen.add(shard)
    return tuple(sorted(listed))


def format_shard_ids(ids: Iterable[int]) -> str:
    """The inverse of parse_shard_ids: (0, 1, 2, 3, 5) -> "0-3,5"."""
    spans: list[list[int]] = []
    for shard in sorted(set(ids)):
        if spans and shard == spans[-1][1] + 1:
            spans[-1][1] = shard
        else:
            spans.append([shard, shard])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in spans)


@dataclass(frozen=True, slots=True)
class Ownership:
    """The shards one process runs: `count` shards in all, `ids` of them here (None: every one).

    A process with no shard settings owns everything, whatever shard count Discord recommends at connect.
    """

    count: int | None = None
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise ShardSpecError(f"a shard count is at least 1, not {self.count}")
        if self.ids is not None:
            if self.count is None:
                raise ShardSpecError("shard ids need a shard count")
            ids = check_shard_ids(self.ids)
            outside = [shard for shard in ids if shard >= self.count]
            if outside:
                raise ShardSpecError(f"shard {outside[0]} is not below the shard count {self.count} "
                                     f"(ids run 0-{self.count - 1})")
            object.__setattr__(self, "ids", ids)

    @classmethod
    def everything(cls) -> Ownership:
        return cls()

    @property
    def owns_all(self) -> bool:
        """Whether this process serves every server (one process for the whole bot)."""
        return self.ids is None or self.count is None or len(self.ids) == self.count

    @property
    def share(self) -> float:
        """The part of the bot's shards this process runs (1.0 for one process running every shard)."""
        if self.owns_all:
            return 1.0
        assert self.count is not None
        assert self.ids is not None
        return len(self.ids) / self.count

    def owns(self, guild_id: int) -> bool:
        """Whether this process does the scheduled work of this server."""
        if self.owns_all:
            return True
        assert self.count is not None
        assert self.ids is not None
        return shard_of(guild_id, self.count) in self.ids

    @property
    def sql_filter(self) -> tuple[int, tuple[int, ...]] | None:
        """(shard count, owned ids) for a store query to keep only this process's servers; None: no filter."""
        if self.owns_all:
            return None
        assert self.count is not None
        assert self.ids is not None
        return self.count, self.ids

    def describe(self) -> str:
        """For logs: "every shard", "every shard of 8", or "shards 0-3 of 8"."""
        if self.ids is None or self.count is None:
            return "every shard" if self.count is None else f"every shard of {self.count}"
        if self.owns_all:
            return f"every shard of {self.count}"
        label = "shard" if len(self.ids) == 1 else "shards"
        return f"{label} {format_shard_ids(self.ids)} of {self.count}"

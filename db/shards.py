"""Keeping a query to the servers this process owns (bot.sharding): one SQL condition, the same on every engine.

`((guild_id >> 22) % count) IN (...)` is Discord's shard rule in SQL: SQLite and PostgreSQL (bigint) both have
`>>` and `%`, and guild ids are positive, so it gives the same shard as `bot.sharding.shard_of`. The condition
only adds to a query's WHERE: an index on the due instant still drives the scan, and the rows of other processes'
servers are skipped there, never read into this one.
"""

from __future__ import annotations

import re

from bot.domain.sharding import Ownership

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def owned_clause(column: str, ownership: Ownership | None) -> tuple[str, tuple[int, ...]]:
    """(" AND <condition>", parameters) keeping the rows whose server `column` holds is owned; ("", ()) when the
    process owns every server (or `ownership` is None), so a one-process bot runs the same query as before."""
    shards = ownership.sql_filter if ownership is not None else None
    if shards is None:
        return "", ()
    if not _COLUMN.fullmatch(column):
        raise ValueError(f"not a column name: {column!r}")
    count, ids = shards
    marks = ", ".join("?" * len(ids))  # placeholders only; the ids are parameters
    return f" AND (({column} >> 22) % ?) IN ({marks})", (count, *ids)

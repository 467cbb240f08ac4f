"""Keeping a query to the servers this process owns (bot.sharding): one SQL condition, the same on every engine.

`((guild_id >> 22) % count) IN (...)` is Discord's shard rule in SQL: SQLite and PostgreSQL (bigint) both have
`>>` and `%`, and guild ids are positive, so it gives the same shard as `bot.sharding.shard_of`. The condition
only adds to a query's WHERE: an index on the due instant still drives the scan, and the rows of other processes'
servers are skipped there, never read into this one.

`owned(column, ownership)` is the condition as a Core expression (for queries built on db.tables);
`owned_clause(name, ownership)` the same as text with named parameters, for `text()` queries.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, literal_column

from bot.domain.sharding import Ownership

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def owned(column: ColumnElement[Any], ownership: Ownership | None) -> ColumnElement[bool] | None:
    """The Core condition keeping the rows whose server `column` holds is owned; None when the process owns
    every server (or `ownership` is None): then the query runs without it, as a one-process bot's always did."""
    shards = ownership.sql_filter if ownership is not None else None
    if shards is None:
        return None
    count, ids = shards
    # 22 as a literal (the rule, not data); the count and the shard ids are bound parameters
    return (column.bitwise_rshift(literal_column("22")) % count).in_(list(ids))


def owned_clause(column: str, ownership: Ownership | None) -> tuple[str, dict[str, int]]:
    """(" AND <condition>", named parameters) keeping the rows whose server `column` holds is owned; ("", {})
    when the process owns every server (or `ownership` is None), so a one-process bot runs the same query as
    before. The parameters are named `shard_count`, `shard_0`, `shard_1`, ...: merge them into the query's."""
    shards = ownership.sql_filter if ownership is not None else None
    if shards is None:
        return "", {}
    if not _COLUMN.fullmatch(column):
        raise ValueError(f"not a column name: {column!r}")
    count, ids = shards
    names = [f"shard_{i}" for i in range(len(ids))]
    marks = ", ".join(f":{name}" for name in names)  # placeholders only; the ids are parameters
    return f" AND (({column} >> 22) % :shard_count) IN ({marks})", {"shard_count": count, **dict(zip(names, ids,
                                                                                                   strict=True))}

"""`python -m bot db copy --from URL --to URL`: move a whole store to another database (e.g. SQLite -> PostgreSQL).

The source must be at this code's schema head (run `python -m bot db upgrade` on it first); the target is upgraded
to head and must hold no data. Everything is written in ONE target transaction, so a failure copies nothing.
rank_counts (a histogram the triggers keep) is rebuilt from members and period_counts rather than copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, func, insert, literal, select, text

from db.database import Database, DatabaseError
from db.schema import head_revision
from db.tables import members as members_table
from db.tables import metadata, period_counts, rank_counts

BATCH = 1000
DERIVED = {rank_counts.name}


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def copy_database(source: Database, target: Database,
                        progress: Callable[[str, int], None] | None = None) -> CopyReport:
    head = head_revision()
    stored = await source.current()
    if stored != head:
        raise DatabaseError(f"the source {source.describe()} is at schema {stored or 'none'}, not {head}: run "
                            "`python -m bot db upgrade` on it first")
    await target.migrate()
    report = CopyReport()

    async with target.transaction() as out:
        for table in metadata.sorted_tables:
            if table.name in DERIVED:
                continue
            if (await out.execute(select(literal(1)).select_from(table).limit(1))).first() is not None:
                raise DatabaseError(f"the target {target.describe()} already holds data (table {table.name}): "
                                    "copy into an empty database")
        async with source.read() as src:
            for table in metadata.sorted_tables:
                if table.name in DERIVED:
                    continue
                copied = 0
                result = await src.stream(select(table).order_by(*table.primary_key.columns))
                async for chunk in result.mappings().partitions(BATCH):
                    await out.execute(insert(table), [dict(row) for row in chunk])
                    copied += len(chunk)
                report.rows[table.name] = copied
                if progress is not None:
                    progress(table.name, copied)
        if target.dialect == "postgresql":  # deferred triggers (a rank_counts flush at commit) run now, not after
            await out.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        await out.run_sync(_rebuild_rank_counts)
        if target.dialect == "postgresql":
            await out.run_sync(_advance_sequences)
    return report


def _rebuild_rank_counts(conn: Connection) -> None:
    conn.execute(rank_counts.delete())
    m, p = members_table, period_counts
    conn.execute(insert(rank_counts).from_select(
        ["guild_id", "period", "done_count", "members"],
        select(m.c.guild_id, literal("all"), m.c.done_count, func.count())
        .where(m.c.visible == 1, m.c.done_count > 0).group_by(m.c.guild_id, m.c.done_count)))
    conn.execute(insert(rank_counts).from_select(
        ["guild_id", "period", "done_count", "members"],
        select(p.c.guild_id, p.c.period, p.c.done_count, func.count())
        .where(p.c.visible == 1, p.c.done_count > 0).group_by(p.c.guild_id, p.c.period, p.c.done_count)))


def _advance_sequences(conn: Connection) -> None:
    """Explicit ids were copied into serial columns: move their sequences past them."""
    for table in metadata.sorted_tables:
        for column in _serial_columns(table):
            highest = select(func.max(table.c[column])).scalar_subquery()
            conn.execute(select(func.setval(func.pg_get_serial_sequence(table.name, column),
                                            func.coalesce(highest, 0) + 1, False)))


def _serial_columns(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns if c.autoincrement is True]

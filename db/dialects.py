"""The dialect-specific pieces written once for both engines."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import Insert, insert


def upsert(table: Table) -> Insert:
    """INSERT ... ON CONFLICT for SQLite and PostgreSQL alike.

    `upsert(t).values(...).on_conflict_do_update(index_elements=[...], set_={...})` or `.on_conflict_do_nothing()`,
    optionally `.returning(...)`: PostgreSQL's insert construct renders the same ON CONFLICT clause on SQLite
    (3.24+; RETURNING 3.35+), so one statement serves both (checked on both engines in tests/test_database.py).
    Use `stmt.excluded.<column>` for the proposed row.
    """
    return insert(table)

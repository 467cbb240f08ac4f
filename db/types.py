"""Column types that store the same values on SQLite (as today's text) and on PostgreSQL (native types)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Instant(TypeDecorator[datetime]):
    """An aware instant. SQLite: fixed-width UTC ISO text ('2026-03-29T01:30:00.000000+00:00', sorts as it
    compares, the text the legacy schema holds). PostgreSQL: TIMESTAMP WITH TIME ZONE.

    Bind an aware datetime (a naive one raises ValueError). Results are aware UTC datetimes; on SQLite a stored
    text that cannot be read gives None (old databases may hold odd values: one bad row must not break a read).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected an aware datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("expected an aware datetime, got a naive one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return read_instant(value)


def read_instant(value: Any) -> datetime | None:
    """A stored instant (text or datetime) as an aware UTC datetime; None when it cannot be read."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 / 9999 with an offset: keep it as it is
        return value


class Day(TypeDecorator[date]):
    """A calendar date. SQLite: 'YYYY-MM-DD' text (as today). PostgreSQL: DATE. Result None when unreadable."""

    impl = Date
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(10))
        return dialect.type_descriptor(Date())

    def process_bind_param(self, value: date | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = date.fromisoformat(value)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"expected a date, got {type(value).__name__}")
        return value.isoformat() if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> date | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                return None
        return None

"""Alembic's environment: always called through db.schema with a sync connection in config.attributes."""

from __future__ import annotations

from alembic import context

from db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through db.schema.upgrade (python -m bot db upgrade), which passes a connection")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

"""adopt: the schema of Stepwise's legacy migrations 0001-0008.

SQLite: apply the legacy db/migrations files above the file's PRAGMA user_version (a database made by any
earlier Stepwise upgrades in place), then user_version 9. PostgreSQL: db/tables.py's tables plus
db/alembic/postgresql/*.sql (the triggers SQLite has).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from db.schema import adopt_sqlite, create_postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        adopt_sqlite(bind)
    else:
        create_postgresql(bind)


def downgrade() -> None:
    raise NotImplementedError("the adopted schema cannot be downgraded")

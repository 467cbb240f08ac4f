"""Schema migrations with Alembic (scripts in db/alembic; no alembic.ini: the config is built here).

Revision 0001 "adopt": on SQLite it applies the legacy db/migrations/NNNN_*.sql files above the file's
`PRAGMA user_version` (so a file made by any earlier Stepwise upgrades in place), then sets user_version to 9 so
an older Stepwise refuses the file; on PostgreSQL it creates db/tables.py's metadata and runs
db/alembic/postgresql/*.sql (what SQLite does with triggers). Later revisions go in db/alembic/versions/.
"""

from __future__ import annotations

import io
from importlib import resources
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from db import database as database_module
from db.database import DatabaseError

if TYPE_CHECKING:
    from db.database import Database

LEGACY_LATEST = 8  # the last legacy db/migrations file (schema versions of Stepwise before Alembic)
ADOPTED_USER_VERSION = 9  # set on SQLite after adoption: an older Stepwise refuses the file as "newer"
PG_MIGRATION_LOCK = 0x57E9_3153  # pg_advisory_xact_lock key: processes starting together migrate one at a time


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "db:alembic")
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise DatabaseError("no Alembic revisions found in db/alembic/versions")
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _stored_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _newer(db: Database, stored: object, head: str) -> DatabaseError:
    return DatabaseError(f"the database {db.describe()} has schema version {stored}, newer than this code knows "
                         f"({head}): upgrade Stepwise or point DATABASE_URL / DATABASE_PATH at another database")


async def upgrade(db: Database, target: str = "head") -> str:
    """Alembic upgrade in one write transaction (SQLite: BEGIN IMMEDIATE, so a failure leaves the file as it was)."""
    head = head_revision()
    known = known_revisions()

    def run(conn: Connection) -> str:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        else:
            version = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
            if version > ADOPTED_USER_VERSION:
                raise _newer(db, version, str(ADOPTED_USER_VERSION))
        stored = _stored_revision(conn)
        if stored is not None and stored not in known:
            raise _newer(db, stored, head)
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
        return _stored_revision(conn) or ""

    return await db.run_sync(run)


async def current_revision(db: Database) -> str | None:
    def run(conn: Connection) -> str | None:
        return _stored_revision(conn)

    return await db.run_sync(run, write=False)


async def describe_current(db: Database) -> str:
    """What `alembic current` prints, e.g. '0001 (head)'."""
    cfg = alembic_config()
    cfg.stdout = io.StringIO()

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.current(cfg)

    await db.run_sync(run, write=False)
    return cfg.stdout.getvalue().strip()


# --- revision 0001 ------------------------------------------------------------------------------------------------

def adopt_sqlite(conn: Connection) -> None:
    """Apply the legacy migration files above the stored user_version, then mark the file adopted."""
    current = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    available = database_module.migrations()  # looked up at call time: tests replace it
    latest = available[-1][0] if available else 0
    if current > latest:
        raise DatabaseError(f"schema version {current}, newer than this code knows ({latest})")
    for version, _name, sql in available:
        if version <= current:
            continue
        for statement in database_module.split_statements(sql):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(f"PRAGMA user_version = {version:d}")
    conn.exec_driver_sql(f"PRAGMA user_version = {ADOPTED_USER_VERSION:d}")


def create_postgresql(conn: Connection) -> None:
    from db.tables import metadata

    metadata.create_all(conn)
    for _name, sql in postgresql_scripts():
        for statement in split_postgresql(sql):
            conn.exec_driver_sql(statement)


def postgresql_scripts() -> list[tuple[str, str]]:
    """(name, sql) of db/alembic/postgresql/*.sql in name order: trigger functions and triggers for PostgreSQL."""
    folder = resources.files("db.alembic").joinpath("postgresql")
    found = [(entry.name, entry.read_text(encoding="utf-8")) for entry in folder.iterdir()
             if entry.name.endswith(".sql")]
    return sorted(found)


def split_postgresql(sql: str) -> list[str]:
    """Split a PostgreSQL script at top-level semicolons: quotes, "identifiers", -- comments and $tag$ bodies
    stay whole."""
    statements: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch in "'\"":
            end = sql.find(ch, i + 1)
            i = n if end < 0 else end + 1
        elif ch == "$":
            close = sql.find("$", i + 1)
            tag = sql[i:close + 1] if close > 0 else ""
            if tag and (tag == "$$" or tag[1:-1].replace("_", "").isalnum()) and not tag[1:2].isdigit():
                end = sql.find(tag, close + 1)
                i = n if end < 0 else end + len(tag)
            else:
                i += 1
        elif ch == ";":
            statements.append(sql[start:i].strip())
            i += 1
            start = i
        else:
            i += 1
    statements.append(sql[start:].strip())
    return [s for s in statements if s and not all(not line.strip() or line.strip().startswith("--")
                                                    for line in s.splitlines())]

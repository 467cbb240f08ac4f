"""Real database faults for tests, on either engine: the database itself refuses every write.

SQLite: `PRAGMA query_only` ("attempt to write a readonly database"); PostgreSQL: each write transaction is
made `READ ONLY` ("cannot execute INSERT in a read-only transaction"). Both are switched on through a public
SQLAlchemy event on the store's write engine, so the refusal comes from the database, not from our code.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event

from db.database import Database

READ_ONLY = r"read-?only"  # what both engines' refusals say (pytest.raises(..., match=READ_ONLY))

_SWITCHES: weakref.WeakKeyDictionary[Any, list[bool]] = weakref.WeakKeyDictionary()


def refuse_writes(db: Database, on: bool = True) -> None:
    """From the next transaction on, the database refuses writes (on=False: accepts them again)."""
    engine = db.engine.sync_engine
    switch = _SWITCHES.get(engine)
    if switch is None:
        switch = _SWITCHES[engine] = [on]
        sqlite = db.dialect == "sqlite"

        def begin(conn: Any) -> None:  # runs right after the engine's own BEGIN
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if switch[0] else 'OFF'}")
            elif switch[0]:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")

        event.listen(engine, "begin", begin)
    switch[0] = on

"""Real database faults for tests, on either engine (no mock of our code: the database itself refuses)."""

from __future__ import annotations

from sqlalchemy import text

from db.database import Database


async def refuse_writes(db: Database, on: bool = True) -> None:
    """Make the database refuse every write (on=True) or accept them again (on=False); reads keep working.

    SQLite: `PRAGMA query_only` on the writer's connection (as a read-only file would). PostgreSQL: the
    database's `default_transaction_read_only`, and the pool is emptied so every new connection gets it.
    """
    if db.dialect == "sqlite":
        async with db.engine.connect() as conn:  # the writer's one pooled connection (SQLite)
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection  # the aiosqlite connection: its public execute(), no transaction
            assert driver is not None
            await driver.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
        return
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("SET default_transaction_read_only = off"))
        name = (await auto.execute(text("SELECT current_database()"))).scalar_one()
        action = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        await auto.execute(text(f'ALTER DATABASE "{name}" {action}'))
    await db.engine.dispose()  # pooled connections keep their session settings: start new ones

"""On the embedded SQLite default, an acknowledged case survives power loss.

In WAL mode `synchronous=NORMAL` syncs only at checkpoints: a case that got its 201 (and
its outbox row) could vanish. Every connection of the service runs `synchronous=FULL`.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from govmesh_runtime.app import Runtime

SQLITE_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


async def test_every_connection_of_the_service_syncs_each_commit(runtime: Runtime) -> None:
    assert runtime.db.is_sqlite

    async def pragmas() -> tuple[str, int]:
        async with runtime.db.engine.connect() as conn:
            mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
            sync = (await conn.execute(sa.text("PRAGMA synchronous"))).scalar_one()
            await asyncio.sleep(0)  # hold the connection so the others open their own
            return str(mode), int(sync)

    seen = await asyncio.gather(*(pragmas() for _ in range(4)))
    assert seen == [("wal", SQLITE_FULL)] * 4

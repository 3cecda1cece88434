"""Instances starting together migrate one at a time (issue 16 item 3): several migrators on one
fresh database at the same moment all succeed and leave it at head, on SQLite (a lock file) and
PostgreSQL (an advisory lock). Without the lock they run the same DDL at once and all but one fail."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from govmesh_runtime.db import Database
from intake.bootstrap import MIGRATIONS as INTAKE_MIGRATIONS

pytestmark = pytest.mark.integration


async def test_instances_starting_together_migrate_one_at_a_time(database_url: str) -> None:
    databases = [Database(database_url) for _ in range(3)]
    try:
        outcomes = await asyncio.gather(*(db.migrate(INTAKE_MIGRATIONS) for db in databases), return_exceptions=True)
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        async with databases[0].engine.connect() as conn:
            versions = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [ScriptDirectory(str(INTAKE_MIGRATIONS)).get_current_head()]
    finally:
        for db in databases:
            await db.dispose()

"""Intake's own bounded table: Idempotency-Keys older than their retention are deleted (with the
outbox and inbox, by the runtime's prune job)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime.retention import Pruner, delete_older_than
from intake.adapters.tables import IdempotencyKeyRow


def idempotency_key_pruner(retention_s: float) -> Pruner:
    async def prune_idempotency_keys(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
        table = IdempotencyKeyRow.__table__  # type: ignore[attr-defined]
        return await delete_older_than(sessions, table, table.c.created_at, now - timedelta(seconds=retention_s))

    return prune_idempotency_keys

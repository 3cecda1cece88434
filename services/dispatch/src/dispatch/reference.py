"""Commands on dispatch's reference data and deliveries (listed in ``dispatch.registry``): the
routing rules, a parked webhook delivery sent again. The grid, people and element registries
keep their import paths in ``entrypoints/api`` until the grid store moves into runtime."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.repository import replace_rules
from dispatch.adapters.tables import WebhookDeliveryRow
from dispatch.domain.routing import Rule
from govmesh_kit.errors import Conflict, NotFound
from govmesh_runtime import audit
from govmesh_runtime.tables import AuditRecord


async def replace_routing_rules(rules: list[Rule], session: AsyncSession) -> None:
    """The whole rule set at once (validated as a whole before it gets here)."""
    await replace_rules(session, rules)


async def resend_webhook(
    delivery_id: uuid.UUID, session: AsyncSession, now: datetime, audit_entry: Callable[[str], AuditRecord]
) -> WebhookDeliveryRow:
    """A parked delivery's attempts start again; ``audit_entry(reason)`` is the change's audit row."""
    row = await session.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no such delivery: {delivery_id}")
    if row.parked_at is None:
        state = "delivered" if row.delivered_at is not None else "still being retried"
        raise Conflict(f"only a parked delivery is resent; this one is {state}")
    parked_at = row.parked_at
    row.parked_at = None
    row.attempts = 0
    row.next_attempt_at = now
    session.add(row)
    audit.add(session, audit_entry(f"resend to {row.department} (parked {parked_at.isoformat()}: {row.last_error})"))
    return row

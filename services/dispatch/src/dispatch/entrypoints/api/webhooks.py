"""/v1/webhooks/deliveries: operators see department webhook deliveries (parked ones above
all: they failed ``webhook_max_attempts`` times and are retried no more) and resend them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlmodel import col, select

from dispatch.adapters.tables import WebhookDeliveryRow
from dispatch.entrypoints.api.deps import RuntimeDep, refusals
from dispatch.reference import resend_webhook
from govmesh_runtime import access
from govmesh_runtime.app import UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.roles import Scope
from govmesh_runtime.tables import AuditRecord

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=refusals(403, 404, 409, 422))

TaskManager = Annotated[Principal, Depends(access.require(Scope.TASKS_MANAGE.value))]


class DeliveryState(StrEnum):
    PENDING = "pending"  # to be (re)tried
    PARKED = "parked"  # failed webhook_max_attempts times: waits for a resend
    DELIVERED = "delivered"


class DeliveryPublic(BaseModel):
    id: UUID
    task_id: UUID
    department: str
    url: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    parked_at: datetime | None
    last_error: str | None


def _public(row: WebhookDeliveryRow) -> DeliveryPublic:
    state = (
        DeliveryState.DELIVERED
        if row.delivered_at is not None
        else DeliveryState.PARKED
        if row.parked_at is not None
        else DeliveryState.PENDING
    )
    return DeliveryPublic(
        id=row.id,
        task_id=row.task_id,
        department=row.department,
        url=row.url,
        state=state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        parked_at=row.parked_at,
        last_error=row.last_error,
    )


@router.get("/deliveries", summary="Department webhook deliveries by state (parked: waiting for a resend)")
async def list_deliveries(
    caller: TaskManager,
    runtime: RuntimeDep,
    state: DeliveryState = DeliveryState.PARKED,
    department: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    query = select(WebhookDeliveryRow)
    if state is DeliveryState.DELIVERED:
        query = query.where(col(WebhookDeliveryRow.delivered_at).is_not(None))
    else:
        query = query.where(col(WebhookDeliveryRow.delivered_at).is_(None))
        parked = col(WebhookDeliveryRow.parked_at)
        query = query.where(parked.is_not(None) if state is DeliveryState.PARKED else parked.is_(None))
    if department is not None:
        query = query.where(col(WebhookDeliveryRow.department) == department)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query.order_by(col(WebhookDeliveryRow.next_attempt_at)).limit(limit))).all()
    return [_public(row) for row in rows]


@router.post("/deliveries/{delivery_id}/resend", summary="Resend a parked delivery (its attempts start again); audited")
async def resend(delivery_id: UUID, request: Request, caller: TaskManager, use_cases: UseCasesDep) -> DeliveryPublic:

    def audit_entry(reason: str) -> AuditRecord:
        fields = ("parked_at", "attempts")
        return access.change_entry(
            request, caller, resource="webhook_delivery", resource_id=str(delivery_id), fields=fields, reason=reason
        )

    return _public(await use_cases.run(resend_webhook, delivery_id, audit_entry=audit_entry))

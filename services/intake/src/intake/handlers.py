"""Intake's handlers: one async function per command or event.

A handler changes state through ``uow.session`` and emits events with ``uow.emit``;
the caller (an API route or the consumer loop) opens and commits the unit of work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from uuid import UUID

from govmesh_contracts import CaseDispatched, CaseReceived, Event, Location
from govmesh_runtime.consumer import Handler
from govmesh_runtime.uow import UnitOfWork
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import CaseRow, IdempotencyKeyRow, TimelineEntryRow
from intake.domain.cases import CaseStatus, case_number
from intake.domain.commands import AcceptCase


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


def _request_hash(cmd: AcceptCase) -> str:
    body = {k: v for k, v in asdict(cmd).items() if k != "idempotency_key"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def accept_case(cmd: AcceptCase, uow: UnitOfWork, *, centre_code: str) -> tuple[UUID, bool]:
    """Make the matter a case; return its id and whether it was created now (False for a retried request)."""
    repo = SqlCaseRepository(uow.session)
    if cmd.idempotency_key:
        previous = await repo.by_idempotency_key(cmd.idempotency_key)
        if previous is not None:
            if previous.request_hash != _request_hash(cmd):
                raise IdempotencyConflict(cmd.idempotency_key)
            return previous.case_id, False
    now = datetime.now(UTC)
    number = case_number(centre_code, now.date(), await repo.next_sequence(centre_code, now.date()))
    case = CaseRow(
        case_number=number,
        matter_code=cmd.matter_code,
        channel=cmd.channel.value,
        description=cmd.description,
        lat=cmd.lat,
        lon=cmd.lon,
        address=cmd.address,
        status=CaseStatus.RECEIVED.value,
        handled_by=f"centre:{centre_code}",
        received_at=now,
        updated_at=now,
    )
    uow.session.add(case)
    await uow.session.flush()
    if cmd.idempotency_key:
        uow.session.add(IdempotencyKeyRow(key=cmd.idempotency_key, request_hash=_request_hash(cmd), case_id=case.id))
    envelope = uow.emit(
        CaseReceived(
            case_id=case.id,
            case_number=number,
            matter_code=cmd.matter_code,
            channel=cmd.channel.value,
            description=cmd.description,
            location=Location(lat=cmd.lat, lon=cmd.lon) if cmd.lat is not None and cmd.lon is not None else None,
            address=cmd.address,
            received_at=now,
        )
    )
    uow.session.add(
        TimelineEntryRow(
            case_id=case.id,
            event_id=envelope.id,
            kind="received",
            actor=f"centre:{centre_code}",
            note=f"accepted via {cmd.channel.value}",
            at=now,
        )
    )
    return case.id, True


async def record_case_dispatched(event: CaseDispatched, uow: UnitOfWork) -> None:
    """Timeline: dispatch took the case into coordinated handling."""
    case = await SqlCaseRepository(uow.session).get(event.case_id)
    if case is None:
        # Not ours (another intake instance's database): nothing to show.
        return
    case.status = CaseStatus.DISPATCHED.value
    case.handled_by = event.handled_by
    case.updated_at = event.dispatched_at
    uow.session.add(case)
    note = f"grid {event.grid_code}" if event.grid_code else "not located on a grid"
    uow.session.add(
        TimelineEntryRow(
            case_id=event.case_id,
            event_id=uow.causation_id,
            kind="dispatched",
            actor=event.handled_by,
            note=note if not event.note else f"{note}; {event.note}",
            at=event.dispatched_at,
        )
    )


EVENT_HANDLERS: dict[type[Event], Handler] = {CaseDispatched: record_case_dispatched}

"""Dispatch's handlers: one async function per command or event."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatch.adapters.tables import DispatchCaseRow
from dispatch.domain.cases import DispatchStatus, receiving_centre
from govmesh_contracts import CaseDispatched, CaseReceived
from govmesh_runtime.uow import UnitOfWork


async def dispatch_case_on_received(event: CaseReceived, uow: UnitOfWork, *, city_centre_code: str) -> None:
    """Take a new case into coordinated handling and tell everyone it is dispatched."""
    if await uow.session.get(DispatchCaseRow, event.case_id) is not None:
        return  # the same case under another event id (e.g. replayed by hand): already ours
    now = datetime.now(UTC)
    holder = receiving_centre(city_centre_code)
    uow.session.add(
        DispatchCaseRow(
            case_id=event.case_id,
            case_number=event.case_number,
            matter_code=event.matter_code,
            grid_code=None,
            status=DispatchStatus.DISPATCHED.value,
            handled_by=holder,
            received_at=event.received_at,
            dispatched_at=now,
        )
    )
    uow.emit(CaseDispatched(case_id=event.case_id, grid_code=None, handled_by=holder, dispatched_at=now))

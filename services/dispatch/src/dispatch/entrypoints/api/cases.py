"""/v1/cases: dispatch's view of a case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from dispatch.adapters.tables import DispatchCaseRow
from govmesh_runtime.app import Runtime, get_runtime

router = APIRouter(prefix="/v1/cases", tags=["cases"])


class DispatchCasePublic(BaseModel):
    case_id: UUID
    case_number: str
    matter_code: str
    grid_code: str | None
    status: str
    handled_by: str
    received_at: datetime
    dispatched_at: datetime


@router.get("/{case_id}", summary="Dispatch's view of a case")
async def get_case(case_id: UUID, runtime: Annotated[Runtime, Depends(get_runtime)]) -> DispatchCasePublic:
    async with runtime.db.sessions() as session:
        row = await session.get(DispatchCaseRow, case_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not known to dispatch")
    return DispatchCasePublic.model_validate(row, from_attributes=True)

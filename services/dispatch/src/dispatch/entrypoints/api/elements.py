"""/v1/elements: the six-category grid element registry; personal fields masked in answers
unless the caller holds personal-data (then every record shown unmasked is audited), and
every change of personal fields audited in the change's own transaction."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import col, select

from dispatch import elements
from dispatch.adapters.tables import ElementRow
from dispatch.domain.elements import ElementCategory, mask_element
from dispatch.entrypoints.api.deps import PERSONAL_DATA, GridReader, GridWriter, RuntimeDep, refusals
from govmesh_runtime import access, audit
from govmesh_runtime.app import UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.tables import AuditRecord

router = APIRouter(prefix="/v1/elements", tags=["elements"], responses=refusals(400, 403, 404, 422))


class ElementIn(BaseModel):
    grid_code: str = Field(pattern=r"^\d{15}$")
    category: ElementCategory
    name: str = Field(min_length=1, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ElementPublic(BaseModel):
    element_id: str
    grid_code: str
    category: ElementCategory
    name: str = Field(description="Masked for people without the personal-data scope")
    attributes: dict[str, Any] = Field(description="Personal fields (phone, id_number, …) masked without personal-data")


_personal = elements.personal


def _public(row: ElementRow, *, unmasked: bool = False) -> ElementPublic:
    category = ElementCategory(row.category)
    name, attributes = row.name, json.loads(row.attributes)
    if not unmasked:
        name, attributes = mask_element(category, name, attributes)
    return ElementPublic(
        element_id=row.element_id, grid_code=row.grid_code, category=category, name=name, attributes=attributes
    )


async def _shown(request: Request, caller: Principal, rows: list[ElementRow]) -> list[ElementPublic]:
    """The rows as answers: unmasked for a caller with personal-data, each such read audited
    (one audit row per record that has personal fields, naming them)."""
    if not caller.has(PERSONAL_DATA):
        return [_public(row) for row in rows]
    by_fields: dict[tuple[str, ...], list[str]] = {}  # one audit transaction per set of fields, not per row
    for row in rows:
        fields = tuple(sorted(_personal(row)))
        if fields:
            by_fields.setdefault(fields, []).append(row.element_id)
    for fields, ids in by_fields.items():
        await access.audit_personal_data(
            request, caller, action=audit.Action.READ, resource="element", resource_ids=ids, fields=fields
        )
    return [_public(row, unmasked=True) for row in rows]


@router.put("/{element_id}", summary="Create or update an element record from a grid terminal")
async def put_element(
    element_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: ElementIn,
    request: Request,
    caller: GridWriter,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> ElementPublic:
    await access.require_place(request, caller, resource="element", place=body.grid_code)
    # Refusals are audited in their own transaction, so they are decided before the write one.
    async with runtime.db.sessions() as session:
        existing = await session.get(ElementRow, element_id)
    if existing is not None and not caller.may_act_in(existing.grid_code):  # moving it out of another grid
        raise await access.refuse(request, caller, "this element is not within your places", "element", element_id)

    def audit_entry(resource_id: str, fields: list[str]) -> AuditRecord:
        return access.change_entry(
            request, caller, resource="element", resource_id=resource_id, fields=fields, reason="element record"
        )

    row = await use_cases.run(
        elements.save_element,
        element_id,
        grid_code=body.grid_code,
        category=body.category,
        name=body.name,
        attributes=body.attributes,
        audit_entry=audit_entry,
    )
    # the caller's own input echoed back: no read to audit, the change row covers it
    return _public(row, unmasked=caller.has(PERSONAL_DATA))


class ElementBulkIn(ElementIn):
    element_id: str = Field(min_length=1, max_length=64)


@router.post("/bulk", summary="Bulk upsert of up to 50,000 records (COPY on PostgreSQL); all or nothing")
async def bulk(
    body: Annotated[list[ElementBulkIn], Field(max_length=50_000)],
    request: Request,
    caller: GridWriter,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> dict[str, int]:
    for grid_code in sorted({e.grid_code for e in body}):
        await access.require_place(request, caller, resource="element", place=grid_code)
    if caller.places:
        # an id already held by another grid would be moved out of it
        async with runtime.db.sessions() as session:
            held = (
                await session.exec(
                    select(ElementRow.element_id, ElementRow.grid_code).where(
                        col(ElementRow.element_id).in_({e.element_id for e in body})
                    )
                )
            ).all()
        for element_id, grid_code in held:
            if not caller.may_act_in(grid_code):
                raise await access.refuse(
                    request, caller, "this element is not within your places", "element", element_id
                )
    rows = [
        (e.element_id, e.grid_code, e.category.value, e.name, json.dumps(e.attributes, ensure_ascii=False))
        for e in body
    ]

    def audit_entry(resource_id: str, fields: list[str]) -> AuditRecord:
        return access.change_entry(
            request, caller, resource="element", resource_id=resource_id, fields=fields, reason="element bulk load"
        )

    count = await use_cases.run(elements.load_elements, rows, audit_entry=audit_entry)
    return {"elements": count}


@router.get("/{element_id}", summary="One element record (masked)")
async def get_element(element_id: str, request: Request, caller: GridReader, runtime: RuntimeDep) -> ElementPublic:
    async with runtime.db.sessions() as session:
        row = await session.get(ElementRow, element_id)
    await access.guard_place(
        request,
        caller,
        resource="element",
        resource_id=element_id,
        place=row.grid_code if row else None,
        found=row is not None,
    )
    assert row is not None  # guard_place answered 404 otherwise
    [shown] = await _shown(request, caller, [row])
    return shown


class ElementPage(BaseModel):
    items: list[ElementPublic]
    next_after: str | None = Field(description="Pass as ?after= for the next page; null on the last page")


@router.get("", summary="Elements of a grid, optionally one category, paginated by element id")
async def list_elements(
    request: Request,
    caller: GridReader,
    runtime: RuntimeDep,
    grid_code: Annotated[str, Query(pattern=r"^\d{15}$")],
    category: ElementCategory | None = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ElementPage:
    await access.require_place(request, caller, resource="element", place=grid_code)
    query = (
        select(ElementRow)
        .where(col(ElementRow.grid_code) == grid_code)
        .order_by(col(ElementRow.element_id))
        .limit(limit + 1)
    )
    if category is not None:
        query = query.where(col(ElementRow.category) == category.value)
    if after is not None:
        query = query.where(col(ElementRow.element_id) > after)
    async with runtime.db.sessions() as session:
        rows = list((await session.exec(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return ElementPage(items=await _shown(request, caller, rows), next_after=rows[-1].element_id if more else None)

"""/v1/elements: the six-category grid element registry; personal fields masked in answers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from dispatch.adapters.elements import bulk_upsert
from dispatch.adapters.tables import ElementRow, GridRow
from dispatch.domain.elements import ElementCategory, mask_element
from dispatch.entrypoints.api.deps import RuntimeDep, bad_request, refusals

router = APIRouter(prefix="/v1/elements", tags=["elements"], responses=refusals(400, 404, 422))


class ElementIn(BaseModel):
    grid_code: str = Field(pattern=r"^\d{15}$")
    category: ElementCategory
    name: str = Field(min_length=1, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ElementPublic(BaseModel):
    element_id: str
    grid_code: str
    category: ElementCategory
    name: str = Field(description="Masked for people")
    attributes: dict[str, Any] = Field(description="Personal fields (phone, id_number, …) masked")


def _public(row: ElementRow) -> ElementPublic:
    category = ElementCategory(row.category)
    name, attributes = mask_element(category, row.name, json.loads(row.attributes))
    return ElementPublic(
        element_id=row.element_id, grid_code=row.grid_code, category=category, name=name, attributes=attributes
    )


@router.put("/{element_id}", summary="Create or update an element record from a grid terminal")
async def put_element(
    element_id: Annotated[str, Path(min_length=1, max_length=64)], body: ElementIn, runtime: RuntimeDep
) -> ElementPublic:
    async with runtime.db.sessions() as session:
        if await session.get(GridRow, body.grid_code) is None:
            raise bad_request("grid_code", f"grid {body.grid_code} is not registered")
        row = ElementRow(
            element_id=element_id,
            grid_code=body.grid_code,
            category=body.category.value,
            name=body.name,
            attributes=json.dumps(body.attributes, ensure_ascii=False),
        )
        await session.merge(row)
        await session.commit()
    return _public(row)


class ElementBulkIn(ElementIn):
    element_id: str = Field(min_length=1, max_length=64)


@router.post("/bulk", summary="Bulk upsert of up to 50,000 records (COPY on PostgreSQL); all or nothing")
async def bulk(body: Annotated[list[ElementBulkIn], Field(max_length=50_000)], runtime: RuntimeDep) -> dict[str, int]:
    rows = [
        (e.element_id, e.grid_code, e.category.value, e.name, json.dumps(e.attributes, ensure_ascii=False))
        for e in body
    ]
    async with runtime.db.sessions() as session:
        grids = {
            g
            for g in (
                await session.exec(select(GridRow.grid_code).where(col(GridRow.grid_code).in_({r[1] for r in rows})))
            ).all()
        }
        for number, row in enumerate(rows):
            if row[1] not in grids:
                raise bad_request(f"{number}.grid_code", f"grid {row[1]} is not registered")
        count = await bulk_upsert(session, rows)
        await session.commit()
    return {"elements": count}


@router.get("/{element_id}", summary="One element record (masked)")
async def get_element(element_id: str, runtime: RuntimeDep) -> ElementPublic:
    async with runtime.db.sessions() as session:
        row = await session.get(ElementRow, element_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"element {element_id} not found")
    return _public(row)


class ElementPage(BaseModel):
    items: list[ElementPublic]
    next_after: str | None = Field(description="Pass as ?after= for the next page; null on the last page")


@router.get("", summary="Elements of a grid, optionally one category, paginated by element id")
async def list_elements(
    runtime: RuntimeDep,
    grid_code: Annotated[str, Query(pattern=r"^\d{15}$")],
    category: ElementCategory | None = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ElementPage:
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
    return ElementPage(items=[_public(r) for r in rows], next_after=rows[-1].element_id if more else None)

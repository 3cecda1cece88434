"""Commands on the six-category grid element registry (listed in ``dispatch.registry``): one
record from a grid terminal, a bulk load. Every change of personal fields is audited in the
change's own transaction (``audit_entry(element id, fields)``, built at the door from the
credential)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.elements import bulk_upsert
from dispatch.adapters.tables import ElementRow, GridRow
from dispatch.domain.elements import ElementCategory, changed_fields, personal_values
from govmesh_kit.errors import Invalid
from govmesh_runtime import audit
from govmesh_runtime.tables import AuditRecord

AuditEntry = Callable[[str, list[str]], AuditRecord]


def personal(row: ElementRow) -> dict[str, str]:
    return personal_values(ElementCategory(row.category), row.name, json.loads(row.attributes))


async def save_element(
    element_id: str,
    session: AsyncSession,
    grid_code: str,
    category: ElementCategory,
    name: str,
    attributes: dict[str, Any],
    audit_entry: AuditEntry,
) -> ElementRow:
    if await session.get(GridRow, grid_code) is None:
        raise Invalid(f"grid {grid_code} is not registered", field="grid_code")
    old = await session.get(ElementRow, element_id)
    before = personal(old) if old else {}
    row = ElementRow(
        element_id=element_id,
        grid_code=grid_code,
        category=category.value,
        name=name,
        attributes=json.dumps(attributes, ensure_ascii=False),
    )
    fields = changed_fields(before, personal(row))
    if fields:
        audit.add(session, audit_entry(element_id, list(fields)))
    await session.merge(row)
    return row


async def load_elements(
    rows: list[tuple[str, str, str, str, str]], session: AsyncSession, audit_entry: AuditEntry
) -> int:
    """Upsert (element id, grid, category, name, attributes JSON) rows, all or nothing; every
    record written with personal fields is audited in the load's transaction."""
    grids = set(
        (await session.exec(select(GridRow.grid_code).where(col(GridRow.grid_code).in_({r[1] for r in rows})))).all()
    )
    for number, row in enumerate(rows):
        if row[1] not in grids:
            raise Invalid(f"grid {row[1]} is not registered", field=f"{number}.grid_code")
    count = await bulk_upsert(session, rows)
    for element_id, _, category, name, attributes in rows:
        fields = sorted(personal_values(ElementCategory(category), name, json.loads(attributes)))
        if fields:
            audit.add(session, audit_entry(element_id, fields))
    return count

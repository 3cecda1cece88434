"""The room's logbook: patrols, visits, key persons and key places (commands of the registry).

Each entry names a grid of the room's jurisdiction and, for patrols and visits, an officer of the
room; who logs it (the credential's subject, or another officer for a supervisor) is decided at
the door and given here as ``officer_id``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.errors import NotFound
from govmesh_runtime import audit
from govmesh_runtime.tables import AuditRecord
from policing.adapters.repository import SqlPolicingRepository
from policing.adapters.tables import KeyPersonRow, KeyPlaceRow, PatrolRow, RoomRow, VisitRow
from policing.domain.tasks import TaskRuleError


async def room_or_404(session: AsyncSession, room_code: str) -> RoomRow:
    room = await SqlPolicingRepository(session).room(room_code)
    if room is None:
        raise NotFound(f"room {room_code} not found")
    return room


async def _check_place(session: AsyncSession, room_code: str, grid_code: str, officer_id: str | None) -> None:
    """A log entry names a grid of the room's jurisdiction and (if any) an officer of the room."""
    repo = SqlPolicingRepository(session)
    await room_or_404(session, room_code)
    if await repo.room_for_grid(grid_code) != room_code:
        raise TaskRuleError(f"grid_code: {grid_code} is not in room {room_code}'s jurisdiction")
    if officer_id is not None and officer_id not in {o.officer_id for o in await repo.officers(room_code)}:
        raise TaskRuleError(f"officer_id: {officer_id} is not an officer of room {room_code}")


async def log_patrol(session: AsyncSession, room_code: str, entry: dict[str, Any], officer_id: str) -> PatrolRow:
    await _check_place(session, room_code, entry["grid_code"], officer_id)
    row = PatrolRow(room_code=room_code, **{**entry, "officer_id": officer_id})
    session.add(row)
    return row


async def log_visit(session: AsyncSession, room_code: str, entry: dict[str, Any], officer_id: str) -> VisitRow:
    await _check_place(session, room_code, entry["grid_code"], officer_id)
    row = VisitRow(room_code=room_code, **{**entry, "officer_id": officer_id})
    session.add(row)
    return row


async def add_key_person(
    session: AsyncSession, room_code: str, entry: dict[str, Any], audit_entry: Callable[[str], AuditRecord]
) -> KeyPersonRow:
    """``audit_entry(row id)``: the audit row of this change of personal data, written in the
    record's own transaction (the category stays out of the log)."""
    await _check_place(session, room_code, entry["grid_code"], None)
    row = KeyPersonRow(room_code=room_code, **entry)
    session.add(row)
    await session.flush()
    audit.add(session, audit_entry(str(row.id)))
    return row


async def add_key_place(session: AsyncSession, room_code: str, entry: dict[str, Any]) -> KeyPlaceRow:
    await _check_place(session, room_code, entry["grid_code"], None)
    row = KeyPlaceRow(room_code=room_code, **entry)
    session.add(row)
    return row

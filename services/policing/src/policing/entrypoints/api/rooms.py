"""/v1/rooms: police rooms, rosters, open tasks, response times, patrol and visit logs,
key persons and key places (policing scope).

A room is within a caller's places when one of its grids is; inside a room, a place-bound
caller sees and logs only the records of grids in their places."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.masking import mask_name
from govmesh_runtime import access, audit
from govmesh_runtime.app import UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.places import within
from govmesh_runtime.roles import Scope
from govmesh_runtime.tables import AuditRecord
from policing import logbook
from policing.adapters.repository import SqlPolicingRepository
from policing.adapters.tables import KeyPersonRow, KeyPlaceRow, PatrolRow, PoliceTaskRow, VisitRow
from policing.domain.jurisdiction import OfficerRole, Shift
from policing.domain.tasks import OPEN_STATUSES, response_figures, seconds_between
from policing.entrypoints.api.deps import POLICING, Policing, RuntimeDep, guard_room, refusals
from policing.entrypoints.api.schemas import (
    KeyPersonCreate,
    KeyPersonPublic,
    KeyPlaceCreate,
    KeyPlacePublic,
    OfficerPublic,
    PatrolCreate,
    PatrolPublic,
    PoliceTaskPublic,
    ResponseTimes,
    RoomPublic,
    RoomSummary,
    Roster,
    RosterUpdate,
    ShiftPublic,
    ShiftsCreate,
    VisitCreate,
    VisitPublic,
)
from policing.entrypoints.api.tasks import public
from policing.handlers import add_shifts, remove_shift, set_roster

router = APIRouter(
    prefix="/v1/rooms",
    tags=["police rooms"],
    dependencies=[Depends(POLICING)],
    responses=refusals(400, 401, 403, 404, 409, 422),
)
GridFilter = Annotated[str | None, Query(max_length=32, description="Only this grid.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]


async def _guard_log(request: Request, caller: Principal, runtime: RuntimeDep, room_code: str, grid_code: str) -> None:
    """A log entry or register record: the room and its grid within the caller's places."""
    await guard_room(request, caller, runtime, room_code)
    await access.require_place(request, caller, resource="grid", place=grid_code)


async def _logged_by(request: Request, caller: Principal, officer_id: str | None) -> str:
    """Who a patrol or visit is logged for: the caller, never a body field; another officer's
    entry only by a holder of tasks:manage (a room's or centre's supervisor)."""
    if officer_id is None or officer_id == caller.subject:
        return caller.subject
    if not caller.has(Scope.TASKS_MANAGE):
        reason = f"officer_id: you log as {caller.subject}; another officer's entry needs scope 'tasks:manage'"
        raise await access.refuse(request, caller, reason, "log")
    return officer_id


_room = logbook.room_or_404


async def _officers(session: AsyncSession, room_code: str) -> list[OfficerPublic]:
    """The room's officers with their duty now (shifts, else the flag)."""
    repo = SqlPolicingRepository(session)
    duty = await repo.duty(room_code, datetime.now(UTC))
    return [
        OfficerPublic(
            officer_id=o.officer_id,
            name=o.name,
            role=OfficerRole(o.role),
            on_duty=duty[o.officer_id][0],
            scheduled=duty[o.officer_id][1],
        )
        for o in await repo.officers(room_code)
    ]


@router.get("", summary="The police rooms with a grid in your places")
async def list_rooms(caller: Policing, runtime: RuntimeDep, limit: Limit = 500) -> list[RoomSummary]:
    async with runtime.db.sessions() as session:
        rooms = await SqlPolicingRepository(session).rooms(places=access.place_filter(caller), limit=limit)
    return [RoomSummary.model_validate(r, from_attributes=True) for r in rooms]


@router.get("/{room_code}", summary="A room with its grids and officers")
async def get_room(room_code: str, request: Request, caller: Policing, runtime: RuntimeDep) -> RoomPublic:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        room = await _room(session, room_code)
        repo = SqlPolicingRepository(session)
        grids = await repo.room_grids(room_code)
        officers = await _officers(session, room_code)
    return RoomPublic(
        room_code=room.room_code, name=room.name, county_code=room.county_code, grid_codes=grids, officers=officers
    )


@router.get("/{room_code}/roster", summary="The duty roster: officers and auxiliaries, on duty now or not")
async def get_roster(room_code: str, request: Request, caller: Policing, runtime: RuntimeDep) -> Roster:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        return Roster(room_code=room_code, officers=await _officers(session, room_code))


@router.put(
    "/{room_code}/roster",
    summary="The duty board: who is on duty now (everyone else off); officers with shifts follow their shifts",
)
async def put_roster(
    room_code: str, body: RosterUpdate, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> Roster:
    await guard_room(request, caller, runtime, room_code)
    await use_cases.run(set_roster, room_code=room_code, on_duty=body.on_duty)
    async with runtime.db.sessions() as session:
        return Roster(room_code=room_code, officers=await _officers(session, room_code))


@router.post(
    "/{room_code}/shifts",
    status_code=status.HTTP_201_CREATED,
    summary="Add shifts to the duty roster (值班表); an officer with shifts is on duty only during them",
)
async def add_room_shifts(
    room_code: str, body: ShiftsCreate, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> list[ShiftPublic]:
    await guard_room(request, caller, runtime, room_code)
    shifts = [Shift(s.officer_id, s.starts_at, s.ends_at) for s in body.shifts]
    rows = await use_cases.run(add_shifts, room_code=room_code, shifts=shifts)
    return [ShiftPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/{room_code}/shifts", summary="The duty roster's shifts overlapping [start, end), by start")
async def list_shifts(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    start: Annotated[datetime | None, Query(description="Default: now.")] = None,
    end: Annotated[datetime | None, Query()] = None,
    limit: Limit = 500,
) -> list[ShiftPublic]:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        rows = await SqlPolicingRepository(session).shifts(
            room_code, start=start or datetime.now(UTC), end=end, limit=limit
        )
    return [ShiftPublic.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/{room_code}/shifts/{shift_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a shift")
async def delete_shift(
    room_code: str, shift_id: uuid.UUID, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> None:
    await guard_room(request, caller, runtime, room_code)
    await use_cases.run(remove_shift, room_code=room_code, shift_id=shift_id)


@router.get("/{room_code}/tasks", summary="The room's tasks; by default the open ones (not closed)")
async def room_tasks(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PoliceTaskPublic]:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        statuses = None if include_closed else [s.value for s in OPEN_STATUSES]
        rows = await SqlPolicingRepository(session).tasks(
            room_code=room_code, statuses=statuses, limit=limit, places=access.place_filter(caller)
        )
    return [public(t) for t in rows]


@router.get("/{room_code}/response-times", summary="Task counts and response/arrival times of the room")
async def response_times(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    since: Annotated[datetime | None, Query(description="Only tasks opened at or after this time.")] = None,
) -> ResponseTimes:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        query = select(PoliceTaskRow).where(col(PoliceTaskRow.room_code) == room_code)
        if since is not None:
            query = query.where(col(PoliceTaskRow.opened_at) >= since)
        rows = (await session.exec(query)).all()
    figures = response_figures(
        [t.status for t in rows],
        [seconds_between(t.reported_at, t.accepted_at) for t in rows if t.accepted_at],
        [seconds_between(t.reported_at, t.on_scene_at) for t in rows if t.on_scene_at],
    )
    return ResponseTimes(room_code=room_code, since=since, **figures.__dict__)


@router.post("/{room_code}/patrols", status_code=status.HTTP_201_CREATED, summary="Log a patrol of a grid")
async def add_patrol(
    room_code: str, body: PatrolCreate, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> PatrolPublic:
    await _guard_log(request, caller, runtime, room_code, body.grid_code)
    officer_id = await _logged_by(request, caller, body.officer_id)
    row = await use_cases.run(logbook.log_patrol, room_code=room_code, entry=body.model_dump(), officer_id=officer_id)
    return PatrolPublic.model_validate(row, from_attributes=True)


@router.get("/{room_code}/patrols", summary="The room's patrol log in your places, newest first")
async def list_patrols(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    grid_code: GridFilter = None,
    limit: Limit = 500,
) -> list[PatrolPublic]:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        query = select(PatrolRow).where(
            col(PatrolRow.room_code) == room_code, within(PatrolRow.grid_code, access.place_filter(caller))
        )
        if grid_code:
            query = query.where(col(PatrolRow.grid_code) == grid_code)
        rows = (await session.exec(query.order_by(col(PatrolRow.started_at).desc()).limit(limit))).all()
    return [PatrolPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/{room_code}/visits", status_code=status.HTTP_201_CREATED, summary="Log a visit in a grid")
async def add_visit(
    room_code: str, body: VisitCreate, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> VisitPublic:
    await _guard_log(request, caller, runtime, room_code, body.grid_code)
    officer_id = await _logged_by(request, caller, body.officer_id)
    row = await use_cases.run(logbook.log_visit, room_code=room_code, entry=body.model_dump(), officer_id=officer_id)
    return VisitPublic.model_validate(row, from_attributes=True)


@router.get("/{room_code}/visits", summary="The room's visit log in your places, newest first")
async def list_visits(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    grid_code: GridFilter = None,
    limit: Limit = 500,
) -> list[VisitPublic]:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        query = select(VisitRow).where(
            col(VisitRow.room_code) == room_code, within(VisitRow.grid_code, access.place_filter(caller))
        )
        if grid_code:
            query = query.where(col(VisitRow.grid_code) == grid_code)
        rows = (await session.exec(query.order_by(col(VisitRow.visited_at).desc()).limit(limit))).all()
    return [VisitPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/{room_code}/key-persons", status_code=status.HTTP_201_CREATED, summary="Add a key person (重点人员)")
async def add_key_person(
    room_code: str,
    body: KeyPersonCreate,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> KeyPersonPublic:
    await _guard_log(request, caller, runtime, room_code, body.grid_code)

    def audit_entry(row_id: str) -> AuditRecord:
        return access.change_entry(
            request, caller, resource="key person", resource_id=row_id, fields=KEY_PERSON_FIELDS, reason="added"
        )

    row = await use_cases.run(
        logbook.add_key_person, room_code=room_code, entry=body.model_dump(), audit_entry=audit_entry
    )
    return _key_person_shown(caller, KeyPersonPublic.model_validate(row, from_attributes=True))


@router.get(
    "/{room_code}/key-persons",
    summary="The room's key persons in your places; names unmasked only with personal-data (audited)",
)
async def list_key_persons(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    grid_code: GridFilter = None,
    limit: Limit = 500,
) -> list[KeyPersonPublic]:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        query = select(KeyPersonRow).where(
            col(KeyPersonRow.room_code) == room_code, within(KeyPersonRow.grid_code, access.place_filter(caller))
        )
        if grid_code:
            query = query.where(col(KeyPersonRow.grid_code) == grid_code)
        rows = (await session.exec(query.order_by(col(KeyPersonRow.created_at)).limit(limit))).all()
    people = [KeyPersonPublic.model_validate(r, from_attributes=True) for r in rows]
    if not caller.has("personal-data"):
        return [_key_person_shown(caller, p) for p in people]
    await access.audit_personal_data(
        request,
        caller,
        action=audit.Action.READ,
        resource="key person",
        resource_ids=[str(p.id) for p in people],
        fields=KEY_PERSON_FIELDS,
        reason=f"room {room_code}",
    )
    return people


# Who a key person is and why they are one (a category such as mental_health or community
# correction, the officers' note) are personal data: shown only with personal-data.
KEY_PERSON_FIELDS = ["name", "category", "note"]
WITHHELD = "***"


def _key_person_shown(caller: Principal, person: KeyPersonPublic) -> KeyPersonPublic:
    if caller.has("personal-data"):
        return person
    return person.model_copy(update={"name": mask_name(person.name), "category": WITHHELD, "note": None})


@router.post("/{room_code}/key-places", status_code=status.HTTP_201_CREATED, summary="Add a key place (重点场所)")
async def add_key_place(
    room_code: str,
    body: KeyPlaceCreate,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> KeyPlacePublic:
    await _guard_log(request, caller, runtime, room_code, body.grid_code)
    row = await use_cases.run(logbook.add_key_place, room_code=room_code, entry=body.model_dump())
    return KeyPlacePublic.model_validate(row, from_attributes=True)


@router.get("/{room_code}/key-places", summary="The room's key places in your places")
async def list_key_places(
    room_code: str,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    grid_code: GridFilter = None,
    limit: Limit = 500,
) -> list[KeyPlacePublic]:
    await guard_room(request, caller, runtime, room_code)
    async with runtime.db.sessions() as session:
        await _room(session, room_code)
        query = select(KeyPlaceRow).where(
            col(KeyPlaceRow.room_code) == room_code, within(KeyPlaceRow.grid_code, access.place_filter(caller))
        )
        if grid_code:
            query = query.where(col(KeyPlaceRow.grid_code) == grid_code)
        rows = (await session.exec(query.order_by(col(KeyPlaceRow.created_at)).limit(limit))).all()
    return [KeyPlacePublic.model_validate(r, from_attributes=True) for r in rows]

"""What every router of mediation needs: the runtime, the clock, and one way to run a handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, HTTPException, Request, status

from govmesh_kit.clock import Clock
from govmesh_runtime import access
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from govmesh_runtime.roles import Scope
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.tables import DisputeRow, SessionRow, StudioRow, WindowRequestRow
from mediation.domain.disputes import DisputeRuleError
from mediation.handlers.common import NotFound
from mediation.handlers.sessions import SessionConflict

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
CasesRead = Annotated[Principal, Depends(access.require(Scope.CASES_READ))]
# Every change of a dispute, a session, a window request or a deliberation is mediators' work.
Mediating = Annotated[Principal, Depends(access.require(Scope.MEDIATION))]
ContactReader = Annotated[Principal, Depends(access.require(Scope.CASES_READ, Scope.PERSONAL_DATA))]
GridRead = Annotated[Principal, Depends(access.require(Scope.GRID_READ))]
GridWrite = Annotated[Principal, Depends(access.require(Scope.GRID_WRITE))]
T = TypeVar("T")


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def rule_error(exc: DisputeRuleError) -> HTTPException:
    """A refused command: 409 when the state or the calendar forbids it, 422 when the input breaks a rule.

    The detail has the shape of FastAPI's validation errors: the field in ``loc``, the reason in ``msg``."""
    error: dict[str, Any] = {"loc": ["body", *exc.field.split(".")], "msg": exc.reason, "type": "rule"}
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if isinstance(exc, SessionConflict):
        error["type"] = "conflict"
        error["conflicts"] = [
            {
                "kind": c.kind,
                "session_id": str(c.session_id),
                "starts_at": c.starts_at.isoformat(),
                "ends_at": c.ends_at.isoformat(),
            }
            for c in exc.conflicts
        ]
        code = status.HTTP_409_CONFLICT
    elif exc.field in ("status", "judicial_confirmation") or "already" in exc.reason:
        code = status.HTTP_409_CONFLICT
    return HTTPException(code, detail=[error])


async def run(runtime: Runtime, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run a handler in one unit of work and commit; map refusals to 4xx (nothing is written then)."""
    try:
        async with runtime.uow() as uow:
            result = await action(uow)
            await uow.commit()
            return result
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except DisputeRuleError as exc:
        raise rule_error(exc) from exc


def aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["body", field],
                    "msg": "must carry a timezone (e.g. 2026-11-26T09:00:00+08:00)",
                    "type": "rule",
                }
            ],
        )
    return value


# --- places: a dispute is where its grid is; sessions and window requests follow it -------


async def guard_dispute(request: Request, caller: Principal, runtime: Runtime, dispute_id: UUID) -> None:
    """A place-bound caller acts only on disputes in their places; outside or missing is the
    same 403. Unbound callers pass (the handler answers 404 for a missing dispute)."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        dispute = await session.get(DisputeRow, dispute_id)
    await access.guard_place(
        request,
        caller,
        resource="dispute",
        resource_id=str(dispute_id),
        place=dispute.grid_code if dispute else None,
        found=dispute is not None,
    )


async def guard_session(request: Request, caller: Principal, runtime: Runtime, session_id: UUID) -> None:
    """A session is where its dispute is."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        row = await session.get(SessionRow, session_id)
        dispute = await session.get(DisputeRow, row.dispute_id) if row else None
    await access.guard_place(
        request,
        caller,
        resource="session",
        resource_id=str(session_id),
        place=dispute.grid_code if dispute else None,
        found=row is not None,
    )


def serves(caller: Principal, studio: StudioRow | None) -> bool:
    """A studio is within the caller's places when one of the areas it serves is."""
    return studio is not None and any(caller.may_act_in(code) for code in studio.area_codes)


async def require_studio(request: Request, caller: Principal, runtime: Runtime, studio_id: str | None) -> None:
    """For writes at a studio (a walk-in without a studio has no place: unbound callers only)."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        studio = await session.get(StudioRow, studio_id) if studio_id else None
    if not serves(caller, studio):
        raise await access.refuse(request, caller, "this studio is not within your places", "studio", studio_id)


async def guard_window_request(request: Request, caller: Principal, runtime: Runtime, request_id: UUID) -> None:
    """A window request is where its studio serves."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        row = await session.get(WindowRequestRow, request_id)
        studio = await session.get(StudioRow, row.studio_id) if row and row.studio_id else None
    if row is None or not serves(caller, studio):
        reason = "this window request is not within your places"
        raise await access.refuse(request, caller, reason, "window request", str(request_id))

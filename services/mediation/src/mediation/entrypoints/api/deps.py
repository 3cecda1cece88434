"""What every router of mediation needs: the runtime, the clock, and one way to run a handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status

from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from govmesh_runtime.uow import UnitOfWork
from mediation.domain.clock import Clock
from mediation.domain.disputes import DisputeRuleError
from mediation.handlers import NotFound, SessionConflict

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
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

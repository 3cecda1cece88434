"""Dependencies shared by dispatch's routers: the runtime, the dispatcher, and who may do what where."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from sqlmodel import col

from dispatch.handlers import Dispatcher
from govmesh_runtime import access
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]

# Reference data (grids, centres, workers, visits, rules, elements) and cases/tasks.
GridReader = Annotated[Principal, Depends(access.require("grid:read"))]
GridWriter = Annotated[Principal, Depends(access.require("grid:write"))]
# Grid boundaries decide who receives (and reads) which cases: the city administrator's scope.
GridImporter = Annotated[Principal, Depends(access.require("grid:import"))]
CaseReader = Annotated[Principal, Depends(access.require("cases:read"))]
CaseWriter = Annotated[Principal, Depends(access.require("cases:write"))]
TaskManager = Annotated[Principal, Depends(access.require("tasks:manage"))]  # centres: cancel tasks
PERSONAL_DATA = "personal-data"


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def bad_request(field: str, reason: str) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the field and the reason."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": reason, "type": "value_error"}])


def in_places(column: Any, principal: Principal) -> sa.ColumnElement[bool]:
    """A condition for list queries: the record's code starts with one of the caller's places.

    A record without a code (NULL: e.g. a case not located on the grid) never matches, so a
    place-bound caller does not see it; for an unbound caller the condition is always true."""
    prefixes = access.place_filter(principal)
    if prefixes is None:
        return sa.true()
    return sa.or_(*(col(column).startswith(p, autoescape=True) for p in prefixes))

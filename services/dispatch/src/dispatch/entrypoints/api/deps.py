"""Dependencies shared by dispatch's routers: the runtime, the dispatcher, and who may do what where."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from dispatch.handlers import Dispatcher
from govmesh_runtime import access
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.places import in_places as in_places  # runtime's; grids and people import it from here
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from govmesh_runtime.roles import Scope

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]

# Reference data (grids, centres, workers, visits, rules, elements) and cases/tasks; one
# narrow scope per kind of work (govmesh_runtime.roles).
GridReader = Annotated[Principal, Depends(access.require(Scope.GRID_READ))]
GridWriter = Annotated[Principal, Depends(access.require(Scope.GRID_WRITE))]
GridImporter = Annotated[Principal, Depends(access.require(Scope.GRID_IMPORT))]
CaseReader = Annotated[Principal, Depends(access.require(Scope.CASES_READ))]
TaskWorker = Annotated[Principal, Depends(access.require(Scope.TASKS_WORK))]
TaskManager = Annotated[Principal, Depends(access.require(Scope.TASKS_MANAGE))]
PERSONAL_DATA = Scope.PERSONAL_DATA.value


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def bad_request(field: str, reason: str) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the field and the reason."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": reason, "type": "value_error"}])

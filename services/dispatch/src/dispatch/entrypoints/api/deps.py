"""Dependencies shared by dispatch's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from dispatch.handlers import Dispatcher
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def bad_request(field: str, reason: str) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the field and the reason."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": reason, "type": "value_error"}])

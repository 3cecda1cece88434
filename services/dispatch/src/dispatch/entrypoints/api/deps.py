"""Dependencies shared by dispatch's routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel

from dispatch.handlers import Dispatcher
from govmesh_runtime.app import Runtime, get_runtime

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def bad_request(field: str, reason: str) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the field and the reason."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": reason, "type": "value_error"}])


class Problem(BaseModel):
    """A refused request: ``detail`` names the field and the reason, as a message or as
    FastAPI's list of ``{loc, msg, type}``."""

    detail: str | list[dict[str, Any]] | list[str]


_REFUSALS = {
    400: "The body is not well-formed JSON text (e.g. not UTF-8).",
    401: "No credentials.",
    403: "The credentials do not allow this.",
    404: "No such resource.",
    409: "The resource's current state forbids this.",
    422: "A field is missing or invalid: the field and the reason.",
    502: "The device refused the request.",
    504: "The device did not answer in time.",
}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a router or route: the refusals it may answer, each with :class:`Problem`."""
    return {code: {"model": Problem, "description": _REFUSALS[code]} for code in codes}

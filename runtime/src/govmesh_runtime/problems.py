"""Refusals as the OpenAPI documents them: one model and one table of reasons for all services."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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

"""Numbers that are not numbers are refused at the door with a 422 naming the field.

Python's JSON decoder takes ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON at all) and
turns a literal past the float range (``1e400``) into ``inf``; pydantic's lax mode turns
the strings ``"NaN"`` and ``"inf"`` into floats. Such a value then either failed a bound
and crashed the 422 itself (Starlette's JSON answer refuses ``inf``: ``"lon": 1e400`` was
a 500) or slipped through where nothing bounded it (stored as null, or as ``NaN`` that
PostgreSQL's JSON refuses later). ``create_app`` installs, for every service:

- :class:`RefuseNonFinite`, an ASGI middleware that reads a JSON body once and refuses a
  non-finite number anywhere in it (``{"loc": ["body", "attributes", "parties_count"], …}``);
- :func:`validation_errors`, the 422 handler (a problem, :mod:`govmesh_runtime.problems`):
  a value pydantic refused that is a non-finite
  number (query, path, body) is answered as "must be a finite number", never a 500.

Forms and free-form values a service parses itself (Open311 attributes) use :func:`finite`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from govmesh_runtime.nul_text import _read_body, _replay
from govmesh_runtime.problems import field_name, own_error_format, problem_response, refuse_in_asgi

MESSAGE = "must be a finite number (not NaN, Infinity or beyond ±1.8e308)"
TYPE = "finite_number"

# Cheap test first: a document without these bytes holds no non-finite number (NaN and
# Infinity are literal tokens; overflowing a float takes a 3-digit exponent or 309+ digits),
# so most bodies are never parsed twice.
_SUSPECT = re.compile(rb"NaN|Infinity|[0-9][eE][+-]?[0-9]{3}|[0-9]{309}")
_NOT_A_NUMBER = object()


def finite(value: object) -> float | None:
    """``value`` as a finite float, or None when it is not a number or not finite (``"NaN"``, ``"1e400"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def is_non_finite(value: object) -> bool:
    """A float, or text that reads as one, that is NaN or infinite (``"nan"``, ``"-Infinity"``, ``"1e400"``)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False
    return False


def non_finite_paths(body: bytes) -> list[tuple[str | int, ...]]:
    """Where a JSON document holds non-finite numbers (empty when none, or when it is not
    JSON at all: FastAPI answers that itself)."""
    if not _SUSPECT.search(body):
        return []

    def parse_float(text: str) -> object:
        number = float(text)
        return number if math.isfinite(number) else _NOT_A_NUMBER

    try:
        document = json.loads(body, parse_constant=lambda _: _NOT_A_NUMBER, parse_float=parse_float)
    except (ValueError, RecursionError):
        return []
    found: list[tuple[str | int, ...]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:  # iterative: a deeply nested body must not exhaust the Python stack
        path, value = stack.pop()
        if value is _NOT_A_NUMBER:
            found.append(path)
        elif isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
    return sorted(found, key=lambda p: [str(part) for part in p])


def refusal_errors(paths: list[tuple[str | int, ...]]) -> list[dict[str, Any]]:
    return [{"loc": ["body", *path], "msg": MESSAGE, "type": TYPE} for path in paths]


class RefuseNonFinite:
    """ASGI middleware: a JSON body with a non-finite number is a 422 naming each such field;
    nothing is done. The body is read once and handed on as it came."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or ()).get(b"content-type", b"").lower()
        if content_type and b"json" not in content_type:  # FastAPI reads a body without a type as JSON
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if disconnected:
            return
        paths = non_finite_paths(body)
        if paths:
            await refuse_in_asgi(scope, receive, send, 422, refusal_errors(paths))
            return
        await self.app(scope, _replay(body, receive), send)


def validation_error_list(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's field errors, except that a refused non-finite value is named as such and can
    be written (Starlette's JSON answer refuses ``inf``; the default handler then failed with a 500)."""
    errors = []
    for error in exc.errors():
        error = dict(error)
        if is_non_finite(error.get("input")):
            error.update(msg=MESSAGE, type=TYPE, input=str(error["input"]))
            error.pop("ctx", None)
        errors.append(error)
    return errors


async def validation_errors(request: Request, exc: Exception) -> Response:
    """The 422 of every service: a problem (RFC 9457) naming each field and its reason in the
    reader's language; a path with its own error format (Open311) keeps it."""
    assert isinstance(exc, RequestValidationError)
    errors = validation_error_list(exc)
    own = own_error_format(request)
    if own is not None:
        reasons = "; ".join(f"{field_name(list(e['loc']))}: {e['msg']}" for e in errors)
        return await own(request, HTTPException(422, detail=reasons))
    return problem_response(request, 422, errors)

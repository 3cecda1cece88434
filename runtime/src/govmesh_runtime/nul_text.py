"""Text with NUL characters (U+0000) is refused at the door with a 422 naming where it was.

PostgreSQL cannot store U+0000 in text, so such a request failed with a 500 deep in the
database (found by schemathesis, tests/fuzz). ``create_app`` installs it for every service,
inside the request-observing middleware so refusals are counted and logged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse

MESSAGE = "NUL characters (U+0000) are not allowed in text"


async def refuse_nul_text(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """HTTP middleware: a NUL in the path, the query or the body is a 422, and nothing is done."""
    where: str | None = None
    if "\x00" in request.scope.get("path", ""):
        where = "path"
    elif b"%00" in request.scope.get("query_string", b"") or b"\x00" in request.scope.get("query_string", b""):
        where = "query"
    elif request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # kept by Starlette for the endpoint
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if b"\x00" in body or b"\\u0000" in body or (form and b"%00" in body):
            where = "body"
    if where is None:
        return await call_next(request)
    return JSONResponse({"detail": [{"loc": [where], "msg": MESSAGE, "type": "value_error"}]}, status_code=422)

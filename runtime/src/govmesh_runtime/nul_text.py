"""Text with NUL characters (U+0000) is refused at the door with a 422 naming where it was.

PostgreSQL cannot store U+0000 in text, so such a request failed with a 500 deep in the
database (found by schemathesis, tests/fuzz). ``create_app`` installs it for every service,
inside the request-observing middleware so refusals are counted and logged."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MESSAGE = "NUL characters (U+0000) are not allowed in text"


class RefuseNulText:
    """ASGI middleware: a NUL in the path, the query or a text body is a 422, and nothing is done
    (a body declared ``image/*`` or ``application/octet-stream`` is binary and passes).

    Pure ASGI (not BaseHTTPMiddleware, which runs the app in another task per request): the body
    is read once here and handed on to the app as it came."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where: str | None = None
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope.get("path", ""):
            where = "path"
        elif b"%00" in query or b"\x00" in query:
            where = "query"
        elif scope["method"] in ("POST", "PUT", "PATCH"):
            body, disconnected = await _read_body(receive)
            if disconnected:
                return  # the client is gone: nothing to answer
            content_type = dict(scope.get("headers") or ()).get(b"content-type", b"")
            form = content_type.startswith(b"application/x-www-form-urlencoded")
            # a binary body (a photo) is bytes, not text: only routes that read raw bytes take it
            binary = content_type.startswith((b"image/", b"application/octet-stream"))
            if not binary and (b"\x00" in body or b"\\u0000" in body or (form and b"%00" in body)):
                where = "body"
            receive = _replay(body, receive)
        if where is None:
            await self.app(scope, receive, send)
            return
        from govmesh_runtime.problems import refuse_in_asgi  # problems reads the body helpers here

        await refuse_in_asgi(scope, receive, send, 422, [{"loc": [where], "msg": MESSAGE, "type": "nul_text"}])


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then whatever the server sends next (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

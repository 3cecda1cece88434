"""Request limits, a pure ASGI middleware in front of everything: a per-address rate
limit (429 with Retry-After), a body size cap (413, declared or streamed bodies) and a
body read timeout (408: a client that trickles its body cannot hold a worker).

The rate limit here is keyed on the client's address only, before any credential is
looked at: keying on an unverified credential gave every random ``Bearer`` a fresh
bucket. The per-principal bucket (one government system cannot starve the others)
applies after verification, in ``access.authenticated``. Health and metrics are never
limited: the operators' scrapes must get through a flood.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import OrderedDict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmesh_runtime import metrics
from govmesh_runtime.problems import PROBLEM_JSON, RATE_LIMITED, problem_body

_UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client is forgotten first


class TokenBuckets:
    """One token bucket per client: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Any = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, client: str) -> float:
        """0 when the request may pass, else the seconds until it would."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_per_s: float,
        burst: float,
        max_body_bytes: int,
        body_timeout_s: float | None = None,
    ) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate_per_s, burst) if rate_per_s > 0 else None
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.buckets is not None:
            wait = self.buckets.take(_client_key(scope))
            if wait > 0:
                metrics.RATE_LIMITED.inc()
                await _refuse(scope, send, 429, "too many requests from this client; slow down", math.ceil(wait))
                return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send)
            return

        received = 0
        started = False
        body_done = False

        async def counted_receive() -> Message:  # a body sent without Content-Length (chunked)
            nonlocal received, body_done
            if body_done or self.body_timeout_s is None:
                message = await receive()  # after the body: waiting for a disconnect is no read
            else:
                try:
                    message = await asyncio.wait_for(receive(), self.body_timeout_s)
                except TimeoutError:
                    raise _BodyTooSlow from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except* _BodyTooLarge:  # raised through the app's task groups, possibly grouped
            if not started:
                await self._too_large(scope, send)
        except* _BodyTooSlow:
            metrics.BODY_TIMEOUTS.inc()
            if not started:
                await _refuse(scope, send, 408, f"the request body did not arrive within {self.body_timeout_s:g} s")

    async def _too_large(self, scope: Scope, send: Send) -> None:
        metrics.BODY_TOO_LARGE.inc()
        await _refuse(scope, send, 413, f"the request body is larger than {self.max_body_bytes:,} bytes")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _json_headers(length: int, extra: list[tuple[bytes, bytes]] | None = None) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(length).encode()), *(extra or [])]


def _client_key(scope: Scope) -> str:
    """The client's address: the only thing known about it before its credential is verified."""
    client = scope.get("client")
    return client[0] if client else "unknown"


async def _refuse(scope: Scope, send: Send, status: int, detail: str, retry_after_s: int | None = None) -> None:
    """A problem (RFC 9457) written straight to ``send``: the app may have read part of the body."""
    problem = problem_body(status, detail, str(scope.get("path", "")), type_=RATE_LIMITED if status == 429 else None)
    body = json.dumps(problem, ensure_ascii=False).encode()
    extra = [(b"retry-after", str(retry_after_s).encode())] if retry_after_s is not None else []
    headers = _json_headers(len(body), extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

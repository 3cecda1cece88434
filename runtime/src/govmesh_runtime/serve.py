"""Run a service's app with uvicorn: ``python -m <service>`` calls ``serve``.

A slow or greedy client cannot hold the service: uvicorn gets a concurrency limit (503
beyond it), a keep-alive timeout and a cap on the header size; a request's headers must
arrive within ``http_header_timeout_s`` (uvicorn has no such timeout: a client trickling
one header byte at a time kept a connection forever); its body within
``http_body_timeout_s`` per part (``limits.RequestLimits``, 408).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from govmesh_runtime.settings import ServiceSettings


def header_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers take longer than
    ``timeout_s`` — counted from the connection, then from each answer (keep-alive)."""

    class HeaderTimeoutH11Protocol(H11Protocol):
        _headers_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the headers are in (or the connection ends)
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request's headers, on a kept-alive connection

        def _arm(self) -> None:
            self._disarm()
            self._headers_deadline = self.loop.call_later(timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._headers_deadline is not None:
                self._headers_deadline.cancel()
                self._headers_deadline = None

        def _headers_too_slow(self) -> None:
            self._headers_deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.logger.info("closing a connection whose request headers took over %s s", timeout_s)
                self.transport.close()

    return HeaderTimeoutH11Protocol


def server_config(app: Any, settings: ServiceSettings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration every service runs with (tests start servers with it too)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 15,
        "http": header_timeout_protocol(settings.http_header_timeout_s),
        "limit_concurrency": settings.http_limit_concurrency,
        "timeout_keep_alive": settings.http_timeout_keep_alive_s,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
    }
    return uvicorn.Config(app, **(options | overrides))


def serve(app_factory: Callable[[], FastAPI], settings: ServiceSettings) -> None:
    # uvicorn turns SIGTERM/SIGINT into a graceful lifespan shutdown.
    uvicorn.Server(server_config(app_factory(), settings)).run()

"""Run a service's app with uvicorn: ``python -m <service>`` calls ``serve``."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from govmesh_runtime.settings import ServiceSettings


def serve(app_factory: Callable[[], FastAPI], settings: ServiceSettings) -> None:
    # uvicorn turns SIGTERM/SIGINT into a graceful lifespan shutdown.
    uvicorn.run(
        app_factory(),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )

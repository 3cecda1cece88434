"""The service application: background jobs live and die with the service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from govmesh_runtime.app import Runtime, create_app
from govmesh_runtime.settings import ServiceSettings


async def test_background_jobs_run_restart_after_a_crash_and_stop_at_shutdown(tmp_path: Path) -> None:
    runs: list[str] = []
    stopped = asyncio.Event()

    async def sweeper(runtime: Runtime) -> None:
        runs.append(runtime.settings.service_name)
        if len(runs) == 1:
            raise RuntimeError("first run crashes")
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    settings = ServiceSettings(service_name="jobs", data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(settings=settings, title="t", description="t", version="0", routers=[], background=[sweeper])
    async with app.router.lifespan_context(app):
        for _ in range(50):
            if len(runs) == 2:
                break
            await asyncio.sleep(0.1)
        assert runs == ["jobs", "jobs"]  # restarted after the crash
        assert not stopped.is_set()
    assert stopped.is_set()  # cancelled at shutdown

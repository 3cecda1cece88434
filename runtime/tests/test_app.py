"""The service application: background jobs live and die with the service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError, OperationalError

from govmesh_runtime.app import Runtime, create_app
from govmesh_runtime.auth import Keyring
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
        for _ in range(300):  # up to 30 s: a generous bound, not a timing assertion
            if len(runs) == 2:
                break
            await asyncio.sleep(0.1)
        assert runs == ["jobs", "jobs"]  # restarted after the crash
        assert not stopped.is_set()
    assert stopped.is_set()  # cancelled at shutdown


async def test_a_database_outage_is_a_503_to_retry_and_other_database_errors_stay_500(tmp_path: Path) -> None:
    router = APIRouter()

    @router.post("/down")
    async def down() -> None:
        raise OperationalError("INSERT …", {}, Exception("the database system is shutting down"))

    @router.post("/bug")
    async def bug() -> None:
        raise IntegrityError("INSERT …", {}, Exception("duplicate key"))

    settings = ServiceSettings(
        service_name="db", data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1", keyring=tmp_path / "k.json"
    )
    app = create_app(settings=settings, title="t", description="t", version="0", routers=[router])
    async with app.router.lifespan_context(app):
        token = Keyring.load(settings.keyring_path(), development=True).issue_token("t", [], [])
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
            down_answer = await client.post("/down")
            bug_answer = await client.post("/bug")
    assert down_answer.status_code == 503
    assert down_answer.headers["retry-after"] == "2"
    problem = down_answer.json()  # an RFC 9457 problem, in Chinese by default
    assert down_answer.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "urn:govmesh:problem:database-unavailable" and "未写入任何内容" in problem["detail"]
    assert bug_answer.status_code == 500

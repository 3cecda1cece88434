"""Photos of a task (issue 18): the assignee adds them from the site, bounded in size and number,
recognised by their bytes; the completion's event carries their references; whoever may see the
case lists and views them, nobody else. On SQLite and PostgreSQL (the migration's table)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from support import ADMIN, auth_headers

from dispatch import sample_city
from dispatch.bootstrap import create_app
from dispatch.handlers import dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import EVENT_TYPES, CaseReceived, Location, TaskCompleted
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import OutboxMessage

GRID_A1, GRID_A2 = "620702001001001", "620702001001002"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
MAX_BYTES, PER_TASK = 1000, 3


@dataclass
class Mesh:
    http: httpx.AsyncClient
    runtime: Runtime
    case_id: uuid.UUID
    task: dict[str, Any]  # the case's task in GRID_A1
    worker: dict[str, str]  # the task's assignee's headers


async def _case(runtime: Runtime, app: Any, grid: str) -> uuid.UUID:
    lat, lon = sample_city.centre_point(grid)
    event = CaseReceived(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261203-{uuid.uuid4().int % 10**6:06d}",
        matter_code="grid.report",
        channel="api",
        description="A broken street light.",
        received_at=datetime.now(UTC),
        location=Location(lat=lat, lon=lon),
    )
    async with runtime.uow() as uow:
        await dispatch_case_on_received(event, uow, dispatcher=app.state.dispatcher)
        await uow.commit()
    return event.case_id


@pytest.fixture
async def mesh(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> AsyncIterator[Mesh]:
    settings = DispatchSettings(
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,
        rate_limit_per_s=0,
        photo_max_bytes=MAX_BYTES,
        photos_per_task=PER_TASK,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        runtime: Runtime = app.state.runtime
        case_id = await _case(runtime, app, GRID_A1)
        [task] = (await http.get(f"/v1/cases/{case_id}", headers=ADMIN)).json()["tasks"]
        worker = auth_headers(["cases:read", "tasks:work"], [GRID_A1], subject=task["assignee"])
        yield Mesh(http, runtime, case_id, task, worker)


async def _upload(mesh: Mesh, body: bytes, headers: dict[str, str] | None = None, task_id: str = "") -> httpx.Response:
    path = f"/v1/tasks/{task_id or mesh.task['task_id']}/photos"
    return await mesh.http.post(path, content=body, headers={**(headers or mesh.worker), "Content-Type": "image/jpeg"})


async def _completions(mesh: Mesh) -> list[TaskCompleted]:
    async with mesh.runtime.db.sessions() as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.event_type) == TaskCompleted.event_type)
                .order_by(col(OutboxMessage.id))
            )
        ).all()
    return [EVENT_TYPES[row.event_type].model_validate_json(row.payload) for row in rows]  # type: ignore[misc]


async def test_the_assignee_adds_photos_and_the_completion_carries_them(mesh: Mesh) -> None:
    first = await _upload(mesh, JPEG)
    assert first.status_code == 201, first.text
    assert first.json()["media_type"] == "image/jpeg" and first.json()["size"] == len(JPEG)
    assert first.json()["uploaded_by"] == mesh.task["assignee"]
    second = await _upload(mesh, PNG)  # declared image/jpeg: the bytes decide
    assert second.json()["media_type"] == "image/png"
    done = {"outcome": "done", "summary": "Light replaced."}
    completed = await mesh.http.post(f"/v1/tasks/{mesh.task['task_id']}/complete", json=done, headers=mesh.worker)
    assert completed.status_code == 200, completed.text
    [event] = await _completions(mesh)
    assert event.task_id == uuid.UUID(mesh.task["task_id"]) and event.case_id == mesh.case_id
    assert event.photo_ids == [uuid.UUID(first.json()["photo_id"]), uuid.UUID(second.json()["photo_id"])]
    assert event.completed_by == mesh.task["assignee"] and event.summary == "Light replaced."

    # the case's readers list them and get the very bytes back
    listed = (await mesh.http.get(f"/v1/cases/{mesh.case_id}/photos", headers=mesh.worker)).json()
    assert [p["photo_id"] for p in listed] == [first.json()["photo_id"], second.json()["photo_id"]]
    photo = await mesh.http.get(listed[0]["url"], headers=mesh.worker)
    assert photo.status_code == 200 and photo.content == JPEG and photo.headers["content-type"] == "image/jpeg"

    # a finished task takes no more photos
    late = await _upload(mesh, WEBP)
    assert late.status_code == 409 and "photos are added before completing" in late.text


async def test_a_completion_without_photos_says_so(mesh: Mesh) -> None:
    done = {"outcome": "done", "summary": "Nothing to photograph."}
    await mesh.http.post(f"/v1/tasks/{mesh.task['task_id']}/complete", json=done, headers=mesh.worker)
    [event] = await _completions(mesh)
    assert event.photo_ids == []


async def test_every_refusal_names_the_reason(mesh: Mesh) -> None:
    too_large = await _upload(mesh, JPEG + b"\x00" * MAX_BYTES)
    assert too_large.status_code == 413 and f"photo: larger than {MAX_BYTES:,} bytes" in too_large.text
    not_an_image = await _upload(mesh, b"%PDF-1.7 a document named photo.jpg")
    assert not_an_image.status_code == 415 and "photo" in not_an_image.text and "JPEG, PNG or WebP" in not_an_image.text
    empty = await _upload(mesh, b"")
    assert empty.status_code == 422 and "photo" in empty.text
    for body in (JPEG, PNG, WEBP):
        assert (await _upload(mesh, body)).status_code == 201
    over = await _upload(mesh, JPEG)
    assert over.status_code == 409 and f"at most {PER_TASK} photos" in over.text
    # nothing refused was kept
    listed = (await mesh.http.get(f"/v1/cases/{mesh.case_id}/photos", headers=ADMIN)).json()
    assert [p["media_type"] for p in listed] == ["image/jpeg", "image/png", "image/webp"]


async def test_only_the_assignee_uploads(mesh: Mesh) -> None:
    colleague = auth_headers(["cases:read", "tasks:work"], [GRID_A1], subject="W-colleague")
    refused = await _upload(mesh, JPEG, colleague)
    assert refused.status_code == 403 and f"added by its assignee ({mesh.task['assignee']})" in refused.text
    # a centre may complete the task, but the photos are the site's: not its to add
    centre = auth_headers(["cases:read", "tasks:work", "tasks:manage"], ["620702"], subject="county-centre")
    assert (await _upload(mesh, JPEG, centre)).status_code == 403
    reader = auth_headers(["cases:read"], [GRID_A1], subject=mesh.task["assignee"])
    assert (await _upload(mesh, JPEG, reader)).status_code == 403  # no tasks:work
    assert (await _upload(mesh, JPEG, task_id=str(uuid.uuid4()))).status_code == 403  # place-bound: no hint
    assert (await _upload(mesh, JPEG, ADMIN, task_id=str(uuid.uuid4()))).status_code == 404


async def test_photos_are_seen_only_within_the_case_readers_places(mesh: Mesh) -> None:
    uploaded = (await _upload(mesh, JPEG)).json()
    elsewhere = auth_headers(["cases:read"], [GRID_A2], subject="worker-a2")
    county = auth_headers(["cases:read"], ["620702"], subject="county-centre")
    assert (await mesh.http.get(f"/v1/cases/{mesh.case_id}/photos", headers=elsewhere)).status_code == 403
    assert (await mesh.http.get(uploaded["url"], headers=elsewhere)).status_code == 403
    assert (await mesh.http.get(f"/v1/photos/{uuid.uuid4()}", headers=elsewhere)).status_code == 403
    assert (await mesh.http.get(uploaded["url"], headers=county)).content == JPEG
    assert len((await mesh.http.get(f"/v1/cases/{mesh.case_id}/photos", headers=county)).json()) == 1
    assert (await mesh.http.get(uploaded["url"])).status_code == 401

"""Who may do what where in dispatch (issue 9): scopes per endpoint group, places from the
grid code (a grid worker: their grid; a centre: its division prefix), personal fields of
elements and workers masked without personal-data and audited when shown or changed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, auth_headers

from dispatch import sample_city
from dispatch.bootstrap import create_app
from dispatch.handlers import dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import CaseReceived, Location
from govmesh_runtime.app import Runtime

GRID_A1, GRID_A2 = "620702001001001", "620702001001002"  # county 620702 (the sample city)
GRID_X = "620721001001001"  # a grid of another county, imported by the fixture
# Place tests: every scope of dispatch's registry and tasks, so that only the places decide
# (which role holds which scope is walked by tests/access/test_scope_matrix.py).
REGISTRY = ["grid:read", "grid:write", "grid:import"]
CASES = ["cases:read", "cases:create", "tasks:work", "tasks:manage"]
WORKER_A1 = auth_headers([*REGISTRY, *CASES], [GRID_A1], subject="worker-a1")
COUNTY = auth_headers([*REGISTRY, *CASES], ["620702"], subject="county-centre-620702")
OTHER_COUNTY = auth_headers([*REGISTRY, *CASES], ["620721"], subject="county-centre-620721")
AUDITOR = auth_headers(["audit:read"], subject="auditor")
NOT_PLACED = "this case is not within your places"


@dataclass
class Mesh:
    http: httpx.AsyncClient  # no credential of its own: every call names one
    runtime: Runtime
    cases: dict[str, uuid.UUID]  # grid code (or "unplaced") → a case dispatched there


def _feature_x() -> dict[str, Any]:
    west, south = 100.80, 38.90
    square = [[west, south], [west + 0.01, south], [west + 0.01, south + 0.01], [west, south + 0.01], [west, south]]
    properties = {
        "grid_code": GRID_X,
        "name": "Grid X",
        "community_code": GRID_X[:12],
        "township_code": GRID_X[:9],
        "county_code": GRID_X[:6],
        "function": "residential",
        "households": 10,
        "population": 20,
    }
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]}, "properties": properties}


def _at(grid_code: str) -> Location:
    lat, lon = sample_city.centre_point(grid_code)
    return Location(lat=lat, lon=lon)


async def _case(runtime: Runtime, app: Any, location: Location | None) -> uuid.UUID:
    event = CaseReceived(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261125-{uuid.uuid4().int % 10**6:06d}",
        matter_code="grid.report",
        channel="api",
        description="A broken street light.",
        received_at=datetime.now(UTC),
        location=location,
    )
    async with runtime.uow() as uow:
        await dispatch_case_on_received(event, uow, dispatcher=app.state.dispatcher)
        await uow.commit()
    return event.case_id


@pytest.fixture
async def mesh(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[Mesh]:
    settings = DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,
        rate_limit_per_s=0,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        collection = {"type": "FeatureCollection", "features": [_feature_x()]}
        assert (await http.post("/v1/grids/import", json=collection, headers=ADMIN)).status_code == 200
        runtime: Runtime = app.state.runtime
        cases = {
            GRID_A1: await _case(runtime, app, _at(GRID_A1)),
            GRID_A2: await _case(runtime, app, _at(GRID_A2)),
            GRID_X: await _case(runtime, app, Location(lat=38.905, lon=100.805)),
            "unplaced": await _case(runtime, app, None),  # held by the city centre, no grid
        }
        yield Mesh(http, runtime, cases)


async def _audit(mesh: Mesh, **params: Any) -> list[dict[str, Any]]:
    answer = await mesh.http.get("/v1/audit", params=params, headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_every_endpoint_group_needs_a_credential(mesh: Mesh) -> None:
    case = mesh.cases[GRID_A1]
    for method, path in [
        ("GET", f"/v1/cases/{case}"),
        ("GET", "/v1/tasks?assignee=W001"),
        ("GET", "/v1/board/cases"),
        ("GET", "/v1/grids"),
        ("GET", "/v1/workers?grid_code=620702001001001"),
        ("GET", "/v1/centres"),
        ("GET", "/v1/routing-rules"),
        ("GET", "/v1/elements?grid_code=620702001001001"),
        ("PUT", "/v1/routing-rules"),
    ]:
        assert (await mesh.http.request(method, path)).status_code == 401, path
    assert (await mesh.http.get("/healthz")).status_code == 200
    assert (await mesh.http.get(f"/v1/cases/{case}", headers=ADMIN)).status_code == 200


@pytest.mark.parametrize(
    ("scopes", "method", "path", "body", "missing"),
    [
        (["grid:read"], "GET", "/v1/cases/{case}", None, "cases:read"),
        (["cases:read"], "POST", "/v1/tasks/{task}/accept", {}, "tasks:work"),
        (["cases:read", "tasks:work"], "POST", "/v1/tasks/{task}/reassign", {}, "tasks:manage"),
        (["cases:read", "tasks:work"], "GET", "/v1/grids", None, "grid:read"),
        (["grid:read", "grid:write"], "PUT", "/v1/routing-rules", [], "grid:import"),
        (["grid:read", "grid:write"], "POST", "/v1/grids/import", {}, "grid:import"),
        (
            ["grid:read"],
            "PUT",
            "/v1/elements/E-1",
            {"grid_code": GRID_A1, "category": "places", "name": "x"},
            "grid:write",
        ),
        (["tasks:work", "cases:create"], "GET", "/v1/board/counts?by=grid", None, "cases:read"),
    ],
)
async def test_a_missing_scope_is_a_403_naming_it(
    mesh: Mesh, scopes: list[str], method: str, path: str, body: Any, missing: str
) -> None:
    case = mesh.cases[GRID_A1]
    task = (await mesh.http.get(f"/v1/cases/{case}", headers=ADMIN)).json()["tasks"][0]["task_id"]
    answer = await mesh.http.request(
        method, path.format(case=case, task=task), json=body, headers=auth_headers(scopes, subject="narrow")
    )
    assert answer.status_code == 403
    assert answer.json()["detail"] == f"scope '{missing}' is required"
    [refused] = await _audit(mesh, subject="narrow", action="refused")
    assert refused["reason"] == f"scope '{missing}' is required"


async def test_a_grid_worker_sees_and_handles_only_cases_and_tasks_of_their_grid(mesh: Mesh) -> None:
    own = await mesh.http.get(f"/v1/cases/{mesh.cases[GRID_A1]}", headers=WORKER_A1)
    assert own.status_code == 200
    outside = await mesh.http.get(f"/v1/cases/{mesh.cases[GRID_A2]}", headers=WORKER_A1)
    missing = await mesh.http.get(f"/v1/cases/{uuid.uuid4()}", headers=WORKER_A1)
    unplaced = await mesh.http.get(f"/v1/cases/{mesh.cases['unplaced']}", headers=WORKER_A1)
    assert outside.status_code == missing.status_code == unplaced.status_code == 403
    # word for word the same: a refusal never tells whether the case exists
    assert outside.json()["detail"] == missing.json()["detail"] == unplaced.json()["detail"] == NOT_PLACED

    [own_task] = own.json()["tasks"]
    other_task = (await mesh.http.get(f"/v1/cases/{mesh.cases[GRID_A2]}", headers=ADMIN)).json()["tasks"][0]
    assert (await mesh.http.post(f"/v1/tasks/{own_task['task_id']}/accept", json={}, headers=WORKER_A1)).json()[
        "state"
    ] == "accepted"
    done = {"outcome": "done", "summary": "Light replaced."}
    completed = await mesh.http.post(f"/v1/tasks/{own_task['task_id']}/complete", json=done, headers=WORKER_A1)
    assert completed.status_code == 200, completed.text
    for path, body in [("accept", {}), ("complete", done)]:
        elsewhere = await mesh.http.post(f"/v1/tasks/{other_task['task_id']}/{path}", json=body, headers=WORKER_A1)
        nowhere = await mesh.http.post(f"/v1/tasks/{uuid.uuid4()}/{path}", json=body, headers=WORKER_A1)
        assert elsewhere.status_code == nowhere.status_code == 403
        assert elsewhere.json()["detail"] == nowhere.json()["detail"] == "this task is not within your places"
    other = await mesh.http.get(f"/v1/tasks/{other_task['task_id']}", headers=ADMIN)
    assert other.json()["state"] == "assigned"  # untouched

    board = (await mesh.http.get("/v1/board/cases", headers=WORKER_A1)).json()
    assert [c["case_id"] for c in board] == [str(mesh.cases[GRID_A1])]
    counts = (await mesh.http.get("/v1/board/counts", params={"by": "grid"}, headers=WORKER_A1)).json()
    assert counts == [{"key": GRID_A1, "cases": 1}]
    listed = (await mesh.http.get("/v1/tasks", params={"assignee": other_task["assignee"]}, headers=WORKER_A1)).json()
    assert listed == []


async def test_a_county_centre_sees_its_townships_cases_not_another_countys(mesh: Mesh) -> None:
    board = (await mesh.http.get("/v1/board/cases", headers=COUNTY)).json()
    assert {c["case_id"] for c in board} == {str(mesh.cases[GRID_A1]), str(mesh.cases[GRID_A2])}
    assert (await mesh.http.get(f"/v1/cases/{mesh.cases[GRID_A2]}", headers=COUNTY)).status_code == 200
    refused = await mesh.http.get(f"/v1/cases/{mesh.cases[GRID_X]}", headers=COUNTY)
    assert (refused.status_code, refused.json()["detail"]) == (403, NOT_PLACED)
    theirs = (await mesh.http.get("/v1/board/cases", headers=OTHER_COUNTY)).json()
    assert [c["case_id"] for c in theirs] == [str(mesh.cases[GRID_X])]
    # the unplaced case: only for callers bound to no place (the city)
    everything = (await mesh.http.get("/v1/board/cases", headers=ADMIN)).json()
    assert str(mesh.cases["unplaced"]) in {c["case_id"] for c in everything}


async def test_reference_data_is_the_callers_part_of_the_tree(mesh: Mesh) -> None:
    grids = (await mesh.http.get("/v1/grids", headers=WORKER_A1)).json()
    assert [g["grid_code"] for g in grids] == [GRID_A1]
    county = (await mesh.http.get("/v1/grids", headers=COUNTY)).json()
    assert len(county) == 4 and GRID_X not in {g["grid_code"] for g in county}
    exported = (await mesh.http.get("/v1/grids/grids.geojson", headers=OTHER_COUNTY)).json()
    assert [f["properties"]["grid_code"] for f in exported["features"]] == [GRID_X]
    elsewhere = await mesh.http.get(f"/v1/grids/{GRID_A2}", headers=WORKER_A1)
    nowhere = await mesh.http.get("/v1/grids/620702001001999", headers=WORKER_A1)
    assert elsewhere.status_code == nowhere.status_code == 403
    assert elsewhere.json()["detail"] == nowhere.json()["detail"]
    lat, lon = sample_city.centre_point(GRID_A2)
    located = (await mesh.http.get("/v1/grids/locate", params={"lat": lat, "lon": lon}, headers=WORKER_A1)).json()
    assert located == {"grid_code": None, "found_by": None}
    centres = (await mesh.http.get("/v1/centres", headers=COUNTY)).json()
    assert {c["admin_code"] for c in centres} == {"620702", "620702001", "620702001001"}  # not the city's

    # changes only within: the worker's own grid, never the city-wide rules
    plan = {"cadre_ref": "C-1", "every_days": 7, "first_visit_on": "2026-12-01T09:00:00Z"}
    assert (
        await mesh.http.post("/v1/visit-plans", json={**plan, "grid_code": GRID_A1}, headers=WORKER_A1)
    ).status_code == 201
    refused = await mesh.http.post("/v1/visit-plans", json={**plan, "grid_code": GRID_A2}, headers=WORKER_A1)
    assert (refused.status_code, refused.json()["detail"]) == (403, f"'{GRID_A2}' is not within your places")
    worker = {"grid_code": GRID_A1, "name": "Zhou Qi", "phone": "13900000009"}
    assert (await mesh.http.put("/v1/workers/W009", json=worker, headers=WORKER_A1)).status_code == 200
    moved = await mesh.http.put("/v1/workers/W002", json=worker, headers=WORKER_A1)  # W002 works in A2
    assert moved.status_code == 403
    rules = await mesh.http.put("/v1/routing-rules", json=[], headers=COUNTY)
    assert rules.status_code == 403
    assert "city-wide" in rules.json()["detail"]
    x = {"type": "FeatureCollection", "features": [_feature_x()]}
    # grid boundaries are the city administrator's (grid:import); even then only within their places
    centre = auth_headers(["grid:read", "grid:write"], ["620721"], subject="county-centre-620721")  # as roles.py
    assert (await mesh.http.post("/v1/grids/import", json=x, headers=centre)).status_code == 403
    importer = auth_headers(["grid:import"], ["620702"], subject="importer-620702")
    assert (await mesh.http.post("/v1/grids/import", json=x, headers=importer)).status_code == 403
    importer = auth_headers(["grid:import"], ["620721"], subject="importer-620721")
    assert (await mesh.http.post("/v1/grids/import", json=x, headers=importer)).status_code == 200


async def test_elements_personal_fields_are_masked_unmasked_with_personal_data_and_audited(mesh: Mesh) -> None:
    person = {
        "grid_code": GRID_A1,
        "category": "people",
        "name": "Zhao Liu",
        "attributes": {"phone": "13912345678", "residence": "registered"},
    }
    written = await mesh.http.put("/v1/elements/P-1", json=person, headers=WORKER_A1)
    assert written.status_code == 200, written.text
    assert written.json()["name"] == "Z*******"  # no personal-data: even the writer gets it masked
    [change] = await _audit(mesh, action="change", resource_id="P-1")
    assert (change["subject"], change["resource"], change["fields"]) == (
        "worker-a1",
        "element",
        "attributes.phone,name",
    )
    outside = await mesh.http.put("/v1/elements/P-2", json={**person, "grid_code": GRID_A2}, headers=WORKER_A1)
    assert (outside.status_code, outside.json()["detail"]) == (403, f"'{GRID_A2}' is not within your places")
    assert (await mesh.http.get("/v1/elements/P-2", headers=ADMIN)).status_code == 404  # nothing written

    masked = (await mesh.http.get("/v1/elements/P-1", headers=WORKER_A1)).json()
    assert (masked["name"], masked["attributes"]["phone"]) == ("Z*******", "139****5678")
    assert await _audit(mesh, action="read") == []  # masked: no personal data shown

    reader = auth_headers(["grid:read", "personal-data"], [GRID_A1], subject="case-officer")
    purpose = {"X-Purpose": "case 620702-20261125-000001: call the resident back"}
    shown = (await mesh.http.get("/v1/elements/P-1", headers={**reader, **purpose})).json()
    assert (shown["name"], shown["attributes"]["phone"]) == ("Zhao Liu", "13912345678")
    page = (await mesh.http.get("/v1/elements", params={"grid_code": GRID_A1}, headers={**reader, **purpose})).json()
    assert page["items"][0]["name"] == "Zhao Liu"
    reads = await _audit(mesh, action="read", resource_id="P-1")
    assert [(r["subject"], r["resource"], r["fields"], r["purpose"]) for r in reads] == [
        ("case-officer", "element", "attributes.phone,name", purpose["X-Purpose"])
    ] * 2

    elsewhere = await mesh.http.get("/v1/elements/P-1", headers=auth_headers(["grid:read"], [GRID_A2]))
    nowhere = await mesh.http.get("/v1/elements/P-404", headers=auth_headers(["grid:read"], [GRID_A2]))
    assert elsewhere.status_code == nowhere.status_code == 403
    assert elsewhere.json()["detail"] == nowhere.json()["detail"] == "this element is not within your places"

    bulk = [{**person, "element_id": "P-3"}, {**person, "element_id": "P-4", "grid_code": GRID_A2}]
    refused = await mesh.http.post("/v1/elements/bulk", json=bulk, headers=WORKER_A1)
    assert refused.status_code == 403
    assert (await mesh.http.post("/v1/elements/bulk", json=bulk, headers=COUNTY)).json() == {"elements": 2}
    assert {r["resource_id"] for r in await _audit(mesh, action="change", subject="county-centre-620702")} == {
        "P-3",
        "P-4",
    }


async def test_workers_names_and_phones_only_with_personal_data(mesh: Mesh) -> None:
    masked = (await mesh.http.get("/v1/workers", params={"grid_code": GRID_A1}, headers=WORKER_A1)).json()
    assert [(w["worker_id"], w["name"]) for w in masked] == [("W001", "Z********")]
    reader = auth_headers(["grid:read", "personal-data"], ["620702001001"], subject="community-centre")
    shown = (await mesh.http.get("/v1/workers", params={"community_code": "620702001001"}, headers=reader)).json()
    assert [(w["worker_id"], w["name"]) for w in shown] == [("W001", "Zhang San"), ("W002", "Li Si")]
    reads = await _audit(mesh, action="read", resource="worker")
    assert [(r["resource_id"], r["fields"], r["subject"]) for r in reads] == [
        ("W001", "name,phone", "community-centre"),
        ("W002", "name,phone", "community-centre"),
    ]


async def test_a_centre_reassigns_only_in_its_own_name_and_a_worker_not_at_all(mesh: Mesh) -> None:
    task = (await mesh.http.get(f"/v1/cases/{mesh.cases[GRID_A1]}", headers=ADMIN)).json()["tasks"][0]["task_id"]
    url = f"/v1/tasks/{task}/reassign"
    as_city = await mesh.http.post(url, json={"centre_code": "C620700", "reason": "x"}, headers=COUNTY)
    assert (as_city.status_code, as_city.json()["detail"]) == (403, "'620700' is not within your places")
    worker = auth_headers(["cases:read", "tasks:work"], [GRID_A1], subject="W001")
    refused = await mesh.http.post(url, json={"centre_code": "C620702", "reason": "x"}, headers=worker)
    assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'tasks:manage' is required")
    done = await mesh.http.post(url, json={"centre_code": "C620702", "reason": "on leave"}, headers=COUNTY)
    assert done.status_code == 200, done.text

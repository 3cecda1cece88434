"""End to end: a city adds matters through the matter registry file alone.

A copy of the shipped registry plus a department and two matters, named by
GOVMESH_MATTERS_FILE in every process: intake (accepts them, checks their attributes,
sets their deadline), dispatch (routes them to their targets) and mediation (files the
dispute under its category), on the real broker. No code names the new matters."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, Service, eventually, read_topic

from dispatch import sample_city
from govmesh_contracts import TaskAssigned, decode
from govmesh_contracts.matters import DEFAULT_FILE

pytestmark = pytest.mark.e2e

GRID = "620702001001001"
SEED = Path(__file__).resolve().parents[2] / "services/mediation/src/mediation/data/seed-small.json"

WATER_LEAK = {
    "code": "water.leak",
    "name_zh": "供水管网漏损",
    "name_en": "Water main leak",
    "group": "水务 water",
    "description": "A burst or leaking water main in the street.",
    "sla_hours": 6,
    "anonymous_allowed": True,
    "attributes": [
        {
            "code": "pipe",
            "datatype": "singlevaluelist",
            "description": "Which pipe leaks.",
            "required": True,
            "values": [{"key": "main", "name": "主管 main"}, {"key": "branch", "name": "支管 branch"}],
        },
        {"code": "flow_lps", "datatype": "number", "description": "Litres a second.", "minimum": 0, "maximum": 1000},
    ],
    "routing": {"targets": ["department:water_board"]},
}
PASTURE = {
    "code": "dispute.pasture",
    "name_zh": "草场纠纷",
    "name_en": "Pasture dispute",
    "group": "人民调解 people's mediation",
    "description": "Grazing rights and pasture boundaries between herders.",
    "sla_hours": 480,
    "anonymous_allowed": True,
    "attributes": [{"code": "parties_count", "datatype": "number", "description": "How many parties."}],
    "mediation_category": "land",  # no routing of its own: the dispute.* family's (mediation, grid worker)
}


def _city_registry(path: Path) -> Path:
    raw = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    raw["departments"].append({"code": "water_board", "name_zh": "水务局", "name_en": "Water board"})
    raw["matters"] += [WATER_LEAK, PASTURE]
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def mesh(kafka_bootstrap: str, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(tmp_path),
        "GOVMESH_MATTERS_FILE": str(_city_registry(tmp_path / "city-matters.json")),
        "DISPATCH_CITY_DATA_DIR": str(sample_city.write(tmp_path / "city")),
        "MEDIATION_SEED_FILE": str(SEED),
    }
    services = {name: Service(name, env, tmp_path / f"{name}.log") for name in ("intake", "dispatch", "mediation")}
    try:
        for service in services.values():
            service.wait_ready()
        yield services
    finally:
        codes = {name: s.terminate() for name, s in services.items()}
    assert set(codes.values()) == {-15}, codes


async def _post_case(
    http: httpx.AsyncClient, intake: Service, matter: str, attributes: dict[str, Any]
) -> httpx.Response:
    lat, lon = sample_city.centre_point(GRID)
    body = {"matter_code": matter, "description": "Reported at the window.", "lat": lat, "lon": lon}
    return await http.post(intake.url + "/v1/cases", json={**body, "attributes": attributes})


def _items(body: Any) -> list[dict[str, Any]]:
    return list(body if isinstance(body, list) else body["items"])


async def test_a_matter_added_to_the_registry_file_is_accepted_routed_and_given_its_deadline(
    mesh: dict[str, Service], kafka_bootstrap: str
) -> None:
    intake, dispatch, mediation = mesh["intake"], mesh["dispatch"], mesh["mediation"]
    async with httpx.AsyncClient(headers=ADMIN, timeout=10) as http:
        await _scenario(http, intake, dispatch, mediation, kafka_bootstrap)


async def _scenario(
    http: httpx.AsyncClient, intake: Service, dispatch: Service, mediation: Service, kafka_bootstrap: str
) -> None:
    # intake serves the new matter in its catalogue and in Open311's service list
    served = await http.get(intake.url + "/v1/matters/water.leak")
    assert served.status_code == 200, served.text
    assert served.json()["name_zh"] == "供水管网漏损" and served.json()["sla_hours"] == 6
    services = (await http.get(intake.url + "/open311/v2/services.json")).json()
    assert {"water.leak", "dispute.pasture"} <= {s["service_code"] for s in services}

    # its attributes are checked as the file states them
    refused = await _post_case(http, intake, "water.leak", {"flow_lps": 2000})
    assert refused.status_code == 422, refused.text
    assert "pipe" in refused.text and "at most 1000" in refused.text

    accepted = await _post_case(http, intake, "water.leak", {"pipe": "main", "flow_lps": 12})
    assert accepted.status_code == 201, accepted.text
    case = accepted.json()
    due = datetime.fromisoformat(case["due_at"])
    assert due - datetime.fromisoformat(case["received_at"]) == timedelta(hours=6)

    # dispatch routes it to its department with the case's deadline
    seen: dict[str, Any] = {}

    async def routed() -> bool:
        response = await http.get(f"{dispatch.url}/v1/cases/{case['id']}")
        seen.update(response.json() if response.status_code == 200 else {})
        return bool(seen.get("tasks"))

    await eventually(routed)
    assert [(t["target"], t["department"]) for t in seen["tasks"]] == [("department", "water_board")]
    assert datetime.fromisoformat(seen["due_at"]) == due
    mine: list[TaskAssigned] = []

    async def published() -> bool:  # the outbox relay publishes just after dispatch's commit
        records = await read_topic(kafka_bootstrap, "dispatch.tasks.v1")
        events = [decode(list(r.headers), r.value)[1] for r in records if r.key == case["id"].encode()]
        mine[:] = [e for e in events if isinstance(e, TaskAssigned)]
        return bool(mine)

    await eventually(published)
    assert [(e.target.value, e.assignee, e.due_at) for e in mine] == [("department", "water_board", due)]

    # a new dispute matter takes its family's routing and mediation files it under its category
    pasture = await _post_case(http, intake, "dispute.pasture", {"parties_count": 2})
    assert pasture.status_code == 201, pasture.text
    pasture_id = uuid.UUID(pasture.json()["id"])
    disputes: list[dict[str, Any]] = []

    async def filed() -> bool:
        board = await http.get(mediation.url + "/v1/disputes", params={"limit": 500})
        disputes[:] = [d for d in _items(board.json()) if uuid.UUID(d["case_id"]) == pasture_id]
        return bool(disputes)

    await eventually(filed)
    assert [d["category"] for d in disputes] == ["land"]
    routed_to = (await http.get(f"{dispatch.url}/v1/cases/{pasture_id}")).json()
    assert sorted(t["target"] for t in routed_to["tasks"]) == ["grid_worker", "mediation"]

"""End to end: hand-offs between holders of a case — reassignment into and out of mediation and
policing, and cancellation of a task or a whole case — on the real broker.

Intake, dispatch, mediation and policing run as processes on the small generated city
(dispatch on PostgreSQL, the others on SQLite). The test drives them only through their REST
APIs; every effect checked here crossed Kafka: dispatch's TaskReassigned and TaskCancelled
reach mediation, policing and intake; intake's CaseCancelled reaches dispatch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from support import ADMIN, ROOT, Service, api_key, auth_headers

import citygen

pytestmark = pytest.mark.e2e

get = partial(httpx.get, headers=ADMIN, timeout=10)
post = partial(httpx.post, headers=ADMIN, timeout=10)

GRID = "620702001001001"  # industrial grid of the small city, room JW620702001
ROOM = "JW620702001"
CENTRE = "C620702001001"
SERVICES = ("intake", "dispatch", "mediation", "policing")
# A centre's clerk: may cancel cases and tasks; the actor of a cancellation is this subject.
CLERK_SUBJECT = f"centre-clerk-{uuid.uuid4().hex[:6]}"
CLERK = auth_headers(["cases:read", "cases:create", "cases:manage", "tasks:manage"], subject=CLERK_SUBJECT)
# Allowed everything else, but not to cancel.
NO_MANAGE = auth_headers(["cases:read", "cases:create", "grid:read", "policing"], subject="window-clerk")
OPEN311_KEY = api_key(["cases:read"], subject="e2e-handoff-open311-app")
INCIDENT = {"in_progress": "no"}
DISPUTE_STATUSES = ("open", "assigned", "in_mediation", "agreed", "closed")


def _database(server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(scope="module")
def mesh(kafka_bootstrap: str, postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base = tmp_path_factory.mktemp("handoffs")
    city = base / "city"
    citygen.write(citygen.generate("small", 1), city)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base / "data"),
        "DISPATCH_DATABASE_URL": _database(postgres_server),
        "DISPATCH_CITY_DATA_DIR": str(city),
        "MEDIATION_SEED_FILE": str(ROOT / "services/mediation/src/mediation/data/seed-small.json"),
        # every test reports at the same point: each report must be a case of its own, not a duplicate
        "INTAKE_DUPLICATE_WINDOW_S": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "policing.cli", "import-city", str(city)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    services: dict[str, Service] = {}
    try:
        for name in SERVICES:
            services[name] = Service(name, env, base / f"{name}.log")
        for service in services.values():
            service.wait_ready(timeout=120)
        yield Mesh(services, city)
    finally:
        codes = {name: service.terminate() for name, service in services.items()}
    assert codes == dict.fromkeys(SERVICES, -15), "services must exit on SIGTERM"


class Mesh:
    def __init__(self, services: dict[str, Service], city: Path) -> None:
        self.services = services
        self.city = city

    def url(self, name: str) -> str:
        return str(self.services[name].url)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    """probe() until it returns something truthy; fail naming ``what`` after the bound."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.5)


def ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in (codes or (200,)), f"{response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def grid_point(city: Path) -> tuple[float, float]:
    features = json.loads((city / "grids.geojson").read_text())["features"]
    (ring,) = [f["geometry"]["coordinates"][0] for f in features if f["properties"]["grid_code"] == GRID]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2


def new_case(mesh: Mesh, matter: str, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    lat, lon = grid_point(mesh.city)
    body = {
        "matter_code": matter,
        "description": f"A {matter} matter for the hand-off tests ({uuid.uuid4().hex[:6]}).",
        "lat": lat,
        "lon": lon,
        "attributes": attributes or {},
    }
    created: dict[str, Any] = ok(post(mesh.url("intake") + "/v1/cases", json=body), 201)
    return created


def dispatch_tasks(mesh: Mesh, case_id: str, count: int) -> dict[str, dict[str, Any]]:
    def tasks() -> dict[str, dict[str, Any]] | None:
        response = get(f"{mesh.url('dispatch')}/v1/cases/{case_id}")
        found = response.json().get("tasks", []) if response.status_code == 200 else []
        return {t["target"]: t for t in found} if len(found) >= count else None

    found: dict[str, dict[str, Any]] = wait_for(f"{count} dispatch tasks of case {case_id}", tasks)
    return found


def police_task(mesh: Mesh, dispatch_task_id: str) -> dict[str, Any] | None:
    for task in ok(get(mesh.url("policing") + "/v1/tasks", params={"limit": 1000})):
        if task["source"] == "dispatch" and task["source_ref"] == dispatch_task_id:
            found: dict[str, Any] = task
            return found
    return None


def dispute(mesh: Mesh, dispatch_task_id: str) -> dict[str, Any] | None:
    for status in DISPUTE_STATUSES:
        for item in ok(get(mesh.url("mediation") + "/v1/disputes", params={"status": status, "limit": 500})):
            if item["task_id"] == dispatch_task_id:
                found: dict[str, Any] = item
                return found
    return None


def case(mesh: Mesh, case_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(get(f"{mesh.url('intake')}/v1/cases/{case_id}"))
    return found


def steps(mesh: Mesh, case_id: str) -> list[tuple[str, str, str]]:
    return [(s["kind"], s["actor"], s["note"] or "") for s in case(mesh, case_id)["timeline"]]


def kinds(mesh: Mesh, case_id: str) -> list[str]:
    return [kind for kind, _, _ in steps(mesh, case_id)]


def reassign(mesh: Mesh, task_id: str, target: str) -> dict[str, Any]:
    body = {"centre_code": CENTRE, "reason": f"the matter is one for {target}", "target": target}
    answer: dict[str, Any] = ok(post(f"{mesh.url('dispatch')}/v1/tasks/{task_id}/reassign", json=body))
    return answer


def open311_request(mesh: Mesh, case_number: str) -> dict[str, Any]:
    url = f"{mesh.url('intake')}/open311/v2/requests/{case_number}.json"
    response = httpx.get(url, params={"api_key": OPEN311_KEY}, timeout=10)
    assert response.status_code == 200, response.text
    (request,) = response.json()
    found: dict[str, Any] = request
    return found


# ------------------------------------------------------------------------------ reassignment


@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "mediation")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "policing")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "intake")
def test_a_police_task_reassigned_to_mediation_opens_a_dispute_and_the_police_task_closes(mesh: Mesh) -> None:
    created = new_case(mesh, "security.incident", INCIDENT)
    tasks = dispatch_tasks(mesh, created["id"], 2)
    task_id = tasks["policing"]["task_id"]
    wait_for("the police task of the dispatch task", lambda: police_task(mesh, task_id))

    moved = reassign(mesh, task_id, "mediation")
    assert (moved["target"], moved["state"]) == ("mediation", "assigned")

    opened = wait_for("mediation's dispute file for the reassigned task", lambda: dispute(mesh, task_id))
    assert (opened["case_id"], opened["case_number"], opened["grid_code"]) == (
        created["id"],
        created["case_number"],
        GRID,
    )
    assert opened["status"] in ("open", "assigned")

    def police_closed() -> dict[str, Any] | None:
        found = police_task(mesh, task_id)
        return found if found and found["status"] == "closed" else None

    closed = wait_for("the police task closed", police_closed)
    assert closed["outcome"] == "withdrawn"
    assert "reassigned by dispatch to mediation" in closed["summary"]

    def timeline_shows_both() -> bool:
        return {"task_reassigned", "dispute_opened", "police_task_closed"} <= set(kinds(mesh, created["id"]))

    wait_for("intake's timeline: reassigned, dispute opened, police task closed", timeline_shows_both)
    (note,) = [n for k, _, n in steps(mesh, created["id"]) if k == "task_reassigned"]
    assert "reassigned from policing to mediation" in note
    assert case(mesh, created["id"])["status"] == "in_progress"


@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "mediation")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "policing")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "intake")
def test_a_dispute_reassigned_to_policing_opens_a_police_task_and_back_again_reopens_the_dispute(
    mesh: Mesh,
) -> None:
    created = new_case(mesh, "dispute.neighbour", {"parties_count": 2})
    tasks = dispatch_tasks(mesh, created["id"], 2)
    task_id = tasks["mediation"]["task_id"]
    first = wait_for("the dispute of the mediation task", lambda: dispute(mesh, task_id))

    reassign(mesh, task_id, "policing")

    def police_open() -> dict[str, Any] | None:
        found = police_task(mesh, task_id)
        return found if found and found["status"] != "closed" else None

    opened = wait_for("policing's task for the reassigned task", police_open)
    assert (opened["case_id"], opened["case_number"], opened["grid_code"], opened["room_code"]) == (
        created["id"],
        created["case_number"],
        GRID,
        ROOM,
    )

    def dispute_closed() -> dict[str, Any] | None:
        found = dispute(mesh, task_id)
        return found if found and found["status"] == "closed" else None

    assert wait_for("the dispute closed", dispute_closed)["outcome"] == "withdrawn"

    def timeline_shows_both() -> bool:
        return {"task_reassigned", "police_task_opened", "dispute_closed"} <= set(kinds(mesh, created["id"]))

    wait_for("intake's timeline: reassigned, police task opened, dispute closed", timeline_shows_both)

    # and back to mediation: the same dispute file opens again, the police task closes
    reassign(mesh, task_id, "mediation")

    def dispute_reopened() -> dict[str, Any] | None:
        found = dispute(mesh, task_id)
        return found if found and found["status"] != "closed" else None

    again = wait_for("the dispute reopened", dispute_reopened)
    assert again["dispute_id"] == first["dispute_id"]
    wait_for("the police task closed again", lambda: (police_task(mesh, task_id) or {}).get("status") == "closed")

    def reopened_on_the_timeline() -> bool:
        return kinds(mesh, created["id"]).count("dispute_opened") == 2

    wait_for("intake's timeline: the dispute opened a second time", reopened_on_the_timeline)


# ------------------------------------------------------------------------------ cancellation


@pytest.mark.exercises("intake.cases.v1", "CaseCancelled", "dispatch")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskCancelled", "mediation")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskCancelled", "policing")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskCancelled", "intake")
def test_a_case_withdrawn_by_the_resident_closes_every_holders_file(mesh: Mesh) -> None:
    created = new_case(mesh, "dispute.neighbour", {"parties_count": 2})
    tasks = dispatch_tasks(mesh, created["id"], 2)
    mediation_task, worker_task = tasks["mediation"]["task_id"], tasks["grid_worker"]["task_id"]
    wait_for("the dispute of the mediation task", lambda: dispute(mesh, mediation_task))
    # the grid worker's part goes to the police: the case now has a dispute and a police task
    reassign(mesh, worker_task, "policing")
    wait_for("the police task", lambda: police_task(mesh, worker_task))

    url = f"{mesh.url('intake')}/v1/cases/{created['id']}/cancel"
    body = {"reason": "withdrawn", "note": "the neighbours settled it themselves"}
    refused = httpx.post(url, json=body, headers=NO_MANAGE, timeout=10)
    assert refused.status_code == 403, refused.text
    assert "cases:manage" in refused.json()["detail"]
    cancelled = ok(httpx.post(url, json=body, headers=CLERK, timeout=10))
    assert cancelled["status"] == "cancelled"
    assert (cancelled["timeline"][-1]["kind"], cancelled["timeline"][-1]["actor"]) == ("cancelled", CLERK_SUBJECT)

    def dispatch_cancelled() -> dict[str, Any] | None:
        view = get(f"{mesh.url('dispatch')}/v1/cases/{created['id']}").json()
        return view if view["status"] == "cancelled" else None

    view = wait_for("dispatch's case cancelled", dispatch_cancelled)
    assert sorted(t["state"] for t in view["tasks"]) == ["cancelled", "cancelled"]

    def dispute_closed() -> dict[str, Any] | None:
        found = dispute(mesh, mediation_task)
        return found if found and found["status"] == "closed" else None

    assert wait_for("the dispute closed", dispute_closed)["outcome"] == "withdrawn"

    def police_closed() -> dict[str, Any] | None:
        found = police_task(mesh, worker_task)
        return found if found and found["status"] == "closed" else None

    closed = wait_for("the police task closed", police_closed)
    assert closed["outcome"] == "withdrawn"
    assert "withdrawn by the resident" in closed["summary"]

    def timeline_done() -> bool:
        found = kinds(mesh, created["id"])
        return found.count("task_cancelled") == 2 and {"dispute_closed", "police_task_closed"} <= set(found)

    wait_for("intake's timeline: both tasks cancelled, both files closed", timeline_done)
    cancels = [(actor, note) for kind, actor, note in steps(mesh, created["id"]) if kind == "task_cancelled"]
    assert all(actor == CLERK_SUBJECT and "case cancelled: withdrawn by the resident" in n for actor, n in cancels)
    assert case(mesh, created["id"])["status"] == "cancelled", "late events of the holders never move it back"

    request = open311_request(mesh, created["case_number"])
    assert request["status"] == "closed"
    assert "case cancelled: withdrawn by the resident (the neighbours settled it themselves)" in request["status_notes"]
    again = httpx.post(url, json=body, headers=CLERK, timeout=10)
    assert again.status_code == 409, again.text


@pytest.mark.exercises("dispatch.tasks.v1", "TaskCancelled", "policing")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskCancelled", "intake")
def test_a_centre_cancels_one_task_its_holder_closes_and_the_case_resolves_on_the_others(mesh: Mesh) -> None:
    created = new_case(mesh, "security.incident", INCIDENT)
    tasks = dispatch_tasks(mesh, created["id"], 2)
    police_id, worker = tasks["policing"]["task_id"], tasks["grid_worker"]
    wait_for("the police task", lambda: police_task(mesh, police_id))

    url = f"{mesh.url('dispatch')}/v1/tasks/{police_id}/cancel"
    refused = httpx.post(url, json={"reason": "no police matter"}, headers=NO_MANAGE, timeout=10)
    assert refused.status_code == 403, refused.text
    assert "tasks:manage" in refused.json()["detail"]
    missing = httpx.post(url, json={}, headers=CLERK, timeout=10)
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "reason"]
    done = ok(httpx.post(url, json={"reason": "no police matter", "by": "someone-else"}, headers=CLERK, timeout=10))
    assert done["state"] == "cancelled"

    def police_closed() -> dict[str, Any] | None:
        found = police_task(mesh, police_id)
        return found if found and found["status"] == "closed" else None

    assert wait_for("the police task closed", police_closed)["outcome"] == "withdrawn"

    def cancelled_on_the_timeline() -> list[tuple[str, str]]:
        return [(a, n) for k, a, n in steps(mesh, created["id"]) if k == "task_cancelled"]

    ((actor, note),) = wait_for("intake's timeline: the task cancelled", cancelled_on_the_timeline)
    assert actor == CLERK_SUBJECT, "the actor is the credential's subject, not a body field"
    assert "(policing) cancelled: no police matter" in note
    assert case(mesh, created["id"])["status"] == "in_progress"
    again = httpx.post(url, json={"reason": "twice"}, headers=CLERK, timeout=10)
    assert again.status_code == 409, again.text

    # the grid worker ends hers: the cancelled task needs nothing more, the case resolves
    task_url = f"{mesh.url('dispatch')}/v1/tasks/{worker['task_id']}"
    ok(post(task_url + "/accept", json={"by": worker["assignee"]}))
    ok(post(task_url + "/complete", json={"by": worker["assignee"], "outcome": "done", "summary": "Checked."}))
    wait_for("the case resolved", lambda: case(mesh, created["id"])["status"] == "resolved")
    (resolved,) = [n for k, _, n in steps(mesh, created["id"]) if k == "resolved"]
    assert "policing cancelled" in resolved and "grid_worker done" in resolved


@pytest.mark.exercises("intake.cases.v1", "CaseCancelled", "dispatch")
def test_a_case_merged_into_another_names_it_and_the_other_case_shows_the_merge(mesh: Mesh) -> None:
    kept = new_case(mesh, "security.incident", INCIDENT)
    merged = new_case(mesh, "security.incident", INCIDENT)
    url = f"{mesh.url('intake')}/v1/cases/{merged['id']}/cancel"

    no_target = httpx.post(url, json={"reason": "merged"}, headers=CLERK, timeout=10)
    assert no_target.status_code == 422, no_target.text
    assert no_target.json()["errors"][0]["loc"] == ["body", "merged_into"]
    itself = httpx.post(url, json={"reason": "merged", "merged_into": merged["id"]}, headers=CLERK, timeout=10)
    assert itself.status_code == 422, itself.text
    assert itself.json()["errors"][0] == {
        "loc": ["body", "merged_into"],
        "msg": "a case cannot be merged into itself",
        "type": "value_error",
        "pointer": "#/merged_into",
    }
    unknown = httpx.post(url, json={"reason": "merged", "merged_into": str(uuid.uuid4())}, headers=CLERK, timeout=10)
    assert unknown.status_code == 404, unknown.text
    stray = httpx.post(url, json={"reason": "withdrawn", "merged_into": kept["id"]}, headers=CLERK, timeout=10)
    assert stray.status_code == 422 and stray.json()["errors"][0]["loc"] == ["body", "merged_into"]
    assert case(mesh, merged["id"])["status"] != "cancelled", "a refused cancellation writes nothing"

    done = ok(httpx.post(url, json={"reason": "merged", "merged_into": kept["id"]}, headers=CLERK, timeout=10))
    assert done["status"] == "cancelled"
    assert f"case cancelled: merged into case {kept['case_number']}" in done["timeline"][-1]["note"]
    merges = [n for k, _, n in steps(mesh, kept["id"]) if k == "case_merged"]
    assert merges == [f"case {merged['case_number']} merged into this case"]
    assert case(mesh, kept["id"])["status"] != "cancelled"

    def dispatch_cancelled() -> dict[str, Any] | None:
        view = get(f"{mesh.url('dispatch')}/v1/cases/{merged['id']}").json()
        return view if view.get("status") == "cancelled" and view["tasks"] else None

    view = wait_for("dispatch's case cancelled", dispatch_cancelled)
    assert [(t["state"], t["summary"]) for t in view["tasks"]] == [
        ("cancelled", f"case cancelled: merged into case {kept['id']}")
    ] * 2
    notes = open311_request(mesh, merged["case_number"])
    assert notes["status"] == "closed"
    # Open311's reads need no key and carry no language: the resident's Chinese (zh-CN by default)
    assert f"合并到案件 {kept['case_number']}" in notes["status_notes"]


# ------------------------------------------------------------------------------ erasure

ERASED = "[erased at the resident's request]"


@pytest.mark.exercises("intake.cases.v1", "CasePersonalDataErased", "mediation")
@pytest.mark.exercises("intake.cases.v1", "CasePersonalDataErased", "policing")
def test_an_erasure_at_intake_reaches_the_dispute_file_and_the_police_task(mesh: Mesh) -> None:
    """Issue 14 item 9: a resident's personal data erased at intake is erased from every copy —
    mediation's dispute facts and parties, policing's police task — through the real broker."""
    phone, id_number = "13812345678", "620702199001011234"
    lat, lon = grid_point(mesh.city)
    tag = uuid.uuid4().hex[:6]
    dispute_case = ok(
        post(
            mesh.url("intake") + "/v1/cases",
            json={
                "matter_code": "dispute.neighbour",
                "description": f"邻居噪音纠纷，申请人李四 {phone} ({tag})",
                "lat": lat,
                "lon": lon,
                "attributes": {"parties_count": 2},
            },
        ),
        201,
    )
    police_case = ok(
        post(
            mesh.url("intake") + "/v1/cases",
            json={
                "matter_code": "security.incident",
                "description": f"楼道有人滋事，报警人王五 {phone} ({tag})",
                "address": "县府街12号3单元",
                "lat": lat,
                "lon": lon,
                "attributes": INCIDENT,
            },
        ),
        201,
    )
    mediation_task = dispatch_tasks(mesh, dispute_case["id"], 2)["mediation"]["task_id"]
    policing_task = dispatch_tasks(mesh, police_case["id"], 2)["policing"]["task_id"]
    file = wait_for("the dispute file", lambda: dispute(mesh, mediation_task))
    party = ok(
        post(
            f"{mesh.url('mediation')}/v1/disputes/{file['dispute_id']}/parties",
            json={"role": "applicant", "name": "李四", "phone": phone, "id_number": id_number},
        ),
        201,
    )
    task = wait_for("the police task", lambda: police_task(mesh, policing_task))
    assert phone in task["description"] and task["address"] == "县府街12号3单元"

    for created in (dispute_case, police_case):
        url = f"{mesh.url('intake')}/v1/cases/{created['id']}/erasure"
        ok(post(url, json={"reason": "resident's request at the window"}))

    def police_copy_erased() -> dict[str, Any] | None:
        found = police_task(mesh, policing_task)
        return found if found and found["description"] == ERASED else None

    erased_task = wait_for("policing's copy erased", police_copy_erased)
    assert erased_task["address"] is None and erased_task["case_id"] == police_case["id"]

    detail_url = f"{mesh.url('mediation')}/v1/disputes/{file['dispute_id']}"

    def dispute_erased() -> dict[str, Any] | None:
        found = ok(get(detail_url))
        return found if found["facts"] == ERASED else None

    erased_file = wait_for("mediation's copy erased", dispute_erased)
    assert phone not in json.dumps(erased_file, ensure_ascii=False)
    contact = ok(get(f"{detail_url}/parties/{party['id']}/contact", headers={**ADMIN, "X-Purpose": "erasure check"}))
    assert (contact["name"], contact["phone"], contact["id_number"]) == (ERASED, None, None)
    assert erased_file["status"] != "closed", "the file stays (a tombstone), only the personal data goes"

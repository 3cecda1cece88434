"""The whole mesh on real parts: Kafka, PostgreSQL, the five services as processes, a
GB/T 28181 device over SIP, and Prometheus (the OS package) scraping them all.

Real traffic goes through REST and SIP: a neighbour dispute (→ mediation, withdrawn there),
a security incident (→ policing: accepted, on scene, closed over policing's REST; the grid
worker's task done over dispatch's REST; the resident's feedback closes it), a camera that
registers, keeps alive and raises an alarm, and one undecodable record (→ a dead letter).
Then every panel query of every Grafana dashboard and every recording rule must return
data from Prometheus, the alert rules must be loaded with none firing but the dead-letter
alert, and each case's trace id must be in the log of every service it passed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from support import ADMIN, ROOT, Service, auth_headers, free_port, produce

import citygen
from govmesh_runtime.roles import Role, scopes_for

sys.path.insert(0, str(ROOT / "services/video-bridge/tests"))
from vb_sip_client import SipDevice, catalog_item, xml

pytestmark = pytest.mark.e2e

# Every service call carries the tests' all-scopes token (calls to Prometheus ignore it).
get = partial(httpx.get, headers=ADMIN)
post = partial(httpx.post, headers=ADMIN)

PROMETHEUS = ROOT / "infra/prometheus"
GRID = "620702001001001"  # industrial grid of the small city, room JW620702001
ROOM = "JW620702001"
SERVICES = ("intake", "dispatch", "mediation", "policing", "video_bridge")
JOBS = {name: name.replace("_", "-") for name in SERVICES}  # Prometheus job = service name
TRACE_DISPUTE = uuid.uuid4().hex
TRACE_INCIDENT = uuid.uuid4().hex
# Prometheus needs two scrapes (5 s apart) in a window for rate(); the bound only limits a failure.
DATA_TIMEOUT_S = 90.0
# Loaded and evaluated; allowed to be firing in this run, each for a reason (GovmeshChannelsOffline
# is pending: 300 channels imported, one camera online, but it fires only after 10 minutes):
EXPECTED_FIRING = {
    "GovmeshDeadLettersGrowing": "the test sends one undecodable record to intake.cases.v1 on purpose",
}


def load_dashboards() -> Any:
    spec = importlib.util.spec_from_file_location("govmesh_dashboards", ROOT / "infra/grafana/dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@dataclass
class Mesh:
    services: dict[str, Service]
    prometheus: str
    kafka: str
    city: Path
    logs: Path

    def url(self, name: str) -> str:
        return self.services[name].url


def _database(server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def _cli(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def mesh(kafka_bootstrap: str, postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    base = tmp_path_factory.mktemp("full-mesh")
    city = base / "city"
    citygen.write(citygen.generate("small", 1), city)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base / "data"),
        # dispatch and video-bridge on PostgreSQL (their gauges are counted by SQL), the others on SQLite
        "DISPATCH_DATABASE_URL": _database(postgres_server),
        "DISPATCH_CITY_DATA_DIR": str(city),
        "VIDEO_BRIDGE_DATABASE_URL": _database(postgres_server),
        "VIDEO_BRIDGE_SIP_PORT": str(free_port()),
        "VIDEO_BRIDGE_KEEPALIVE_INTERVAL_S": "60",
        "MEDIATION_SEED_FILE": str(ROOT / "services/mediation/src/mediation/data/seed-small.json"),
    }
    _cli(["policing.cli", "import-city", str(city)], env)
    _cli(["video_bridge.cli", "import-grids", str(city / "grids.geojson")], env)
    _cli(["video_bridge.cli", "import-channels", str(city / "channels.json")], env)

    services: dict[str, Service] = {}
    prom_env = {
        **os.environ,
        "PROM_PORT": str(free_port()),
        "PROM_DATA_DIR": str(base / "prometheus"),
    }
    try:
        for name in SERVICES:
            services[name] = Service(name, env, base / f"{name}.log")
        for service in services.values():
            service.wait_ready(timeout=120)
        prom_env["PROM_TARGETS"] = " ".join(f"{JOBS[n]}=127.0.0.1:{s.port}" for n, s in services.items())
        started = subprocess.run(
            [str(PROMETHEUS / "prometheus.sh"), "start"], env=prom_env, capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stdout + started.stderr
        yield Mesh(services, f"http://127.0.0.1:{prom_env['PROM_PORT']}", kafka_bootstrap, city, base)
    finally:
        subprocess.run([str(PROMETHEUS / "prometheus.sh"), "stop"], env=prom_env, capture_output=True, timeout=60)
        codes = {name: service.terminate() for name, service in services.items()}
    assert codes == dict.fromkeys(SERVICES, -15), "services must exit on SIGTERM, not be killed"


# ------------------------------------------------------------------------------------- helpers


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


def grid_point(city: Path, grid_code: str) -> tuple[float, float]:
    """A point well inside the grid (the middle of its bounding box; the generated grids are rectangles)."""
    features = json.loads((city / "grids.geojson").read_text())["features"]
    (ring,) = [f["geometry"]["coordinates"][0] for f in features if f["properties"]["grid_code"] == grid_code]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2


def post_case(mesh: Mesh, matter: str, description: str, trace: str, attributes: dict[str, Any]) -> dict[str, Any]:
    lat, lon = grid_point(mesh.city, GRID)
    body = {"matter_code": matter, "description": description, "lat": lat, "lon": lon, "attributes": attributes}
    headers = {
        **ADMIN,
        "traceparent": f"00-{trace}-{uuid.uuid4().hex[:16]}-01",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    created: dict[str, Any] = ok(post(mesh.url("intake") + "/v1/cases", json=body, headers=headers, timeout=10), 201)
    return created


def dispatch_tasks(mesh: Mesh, case_id: str, count: int) -> dict[str, dict[str, Any]]:
    def tasks() -> dict[str, dict[str, Any]] | None:
        response = get(f"{mesh.url('dispatch')}/v1/cases/{case_id}", timeout=10)
        found = response.json().get("tasks", []) if response.status_code == 200 else []
        return {t["target"]: t for t in found} if len(found) >= count else None

    found: dict[str, dict[str, Any]] = wait_for(f"{count} dispatch tasks of case {case_id}", tasks)
    return found


def timeline(mesh: Mesh, case_id: str) -> list[str]:
    case = ok(get(f"{mesh.url('intake')}/v1/cases/{case_id}", timeout=10))
    return [step["kind"] for step in case["timeline"]]


def complete_grid_task(mesh: Mesh, task: dict[str, Any]) -> None:
    url = f"{mesh.url('dispatch')}/v1/tasks/{task['task_id']}"
    # the assignee's own terminal: the actor is the token's subject
    worker = auth_headers(scopes_for([Role.GRID_WORKER]), subject=task["assignee"])
    ok(httpx.post(url + "/accept", headers=worker, timeout=10))
    done = {"outcome": "done", "summary": "Visited the site, reported to the centre."}
    ok(httpx.post(url + "/complete", json=done, headers=worker, timeout=10))


async def camera_session(sip_port: int, device_id: str, channels: list[dict[str, Any]]) -> None:
    """A GB/T 28181 device: REGISTER (digest), answers the catalog query, keeps alive, raises an alarm."""
    async with SipDevice(device_id, sip_port) as device:
        _, final = await device.register()
        assert final.status == 200
        query = await device.next_request()
        sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
        items = "".join(catalog_item(c["channel_id"], device_id, c["lat"], c["lon"]) for c in channels)
        body = xml(
            "Response",
            "Catalog",
            sn,
            device_id,
            f'<SumNum>{len(channels)}</SumNum><DeviceList Num="{len(channels)}">{items}</DeviceList>',
        )
        assert (await device.request("MESSAGE", body)).status == 200
        assert (await device.keepalive()).status == 200
        alarm = xml(
            "Notify",
            "Alarm",
            str(uuid.uuid4().int % 10_000),
            channels[0]["channel_id"],
            "<AlarmPriority>2</AlarmPriority><AlarmMethod>5</AlarmMethod>"
            "<AlarmDescription>intrusion</AlarmDescription><Info><AlarmType>2</AlarmType></Info>",
        )
        assert (await device.request("MESSAGE", alarm)).status == 200


def prom_query(mesh: Mesh, expr: str) -> list[dict[str, Any]]:
    answer = get(f"{mesh.prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def equals(mesh: Mesh, expr: str, expected: float) -> bool:
    return sum(float(r["value"][1]) for r in prom_query(mesh, expr)) == expected


def in_log(service: Service, text: str) -> bool:
    return text in service.log.read_text()


# --------------------------------------------------------------------------------------- test


@pytest.mark.exercises("policing.task-results.v1", "PolicingTaskCompleted", "dispatch")
@pytest.mark.exercises("intake.cases.v1", "CaseReceived", "dispatch")
@pytest.mark.exercises("intake.cases.v1", "CaseFeedbackGiven", "dispatch")
@pytest.mark.exercises("dispatch.cases.v1", "CaseDispatched", "intake")
def test_traffic_through_the_whole_mesh_fills_every_dashboard_and_can_be_traced(mesh: Mesh) -> None:
    started = time.monotonic()
    # 1. A neighbour dispute: mediation opens a dispute from dispatch's task, then it is withdrawn.
    dispute_case = post_case(
        mesh, "dispute.neighbour", "Water leaks from the flat above.", TRACE_DISPUTE, {"parties_count": 2}
    )
    tasks = dispatch_tasks(mesh, dispute_case["id"], 2)
    assert set(tasks) == {"mediation", "grid_worker"}

    def dispute() -> dict[str, Any] | None:
        board = ok(get(mesh.url("mediation") + "/v1/disputes", params={"limit": 500}, timeout=10))
        return next((d for d in board if d["task_id"] == tasks["mediation"]["task_id"]), None)

    opened = wait_for("the dispute in mediation", dispute)
    ok(
        post(
            f"{mesh.url('mediation')}/v1/disputes/{opened['dispute_id']}/withdrawal",
            json={"reason": "The parties settled it between themselves."},
            timeout=10,
        ),
        200,
        201,
        204,
    )

    # 2. A security incident: policing takes it over its REST; the grid worker ends hers on dispatch's.
    incident = post_case(
        mesh, "security.incident", "A fight at the market gate.", TRACE_INCIDENT, {"in_progress": "no"}
    )
    tasks = dispatch_tasks(mesh, incident["id"], 2)
    assert set(tasks) == {"policing", "grid_worker"}

    def police_task() -> dict[str, Any] | None:
        room = ok(get(f"{mesh.url('policing')}/v1/rooms/{ROOM}/tasks", timeout=10))
        return next((t for t in room if t["source_ref"] == tasks["policing"]["task_id"]), None)

    police = wait_for("the police task in its room", police_task)
    for step, body in (
        ("accept", {}),
        ("on-scene", None),
        ("close", {"outcome": "done", "summary": "Separated the parties; nobody hurt."}),
    ):
        ok(post(f"{mesh.url('policing')}/v1/tasks/{police['id']}/{step}", json=body, timeout=10))
    complete_grid_task(mesh, tasks["grid_worker"])
    wait_for("the incident resolved", lambda: "resolved" in timeline(mesh, incident["id"]))
    ok(
        post(
            f"{mesh.url('intake')}/v1/cases/{incident['id']}/feedback",
            json={"satisfaction": 5, "solved": True, "comment": "Quick."},
            timeout=10,
        ),
        200,
        201,
        202,
    )
    wait_for("the incident closed", lambda: "closed" in timeline(mesh, incident["id"]))

    # 3. A camera of the city registers, keeps alive and raises an alarm.
    channels = json.loads((mesh.city / "channels.json").read_text())
    device_id = channels[0]["device_id"]
    own = [c for c in channels if c["device_id"] == device_id]
    sip_port = int(ok(get(mesh.url("video_bridge") + "/v1/sip", timeout=10))["udp_port"])
    asyncio.run(camera_session(sip_port, device_id, own))

    # 4. One undecodable record: dispatch dead-letters it (the DLQ panels and rules need one).
    asyncio.run(produce(mesh.kafka, "intake.cases.v1", [(b"garbage", b"not an event", [])]))

    # The functional outcome, as a user checks it.
    kinds = timeline(mesh, incident["id"])
    for kind in ("received", "dispatched", "task_assigned", "task_completed", "resolved", "feedback", "closed"):
        assert kind in kinds, (kind, kinds)
    hand_offs = {"received", "dispatched", "task_assigned", "dispute_opened", "task_completed"}
    wait_for("the dispute's hand-offs in intake", lambda: hand_offs <= set(timeline(mesh, dispute_case["id"])))
    alarms = ok(get(mesh.url("video_bridge") + "/v1/alarms", params={"channel_id": own[0]["channel_id"]}, timeout=10))
    assert len(alarms["items"]) == 1

    # (c) each case's trace id is in the log of every service it passed
    for trace, passed in (
        (TRACE_DISPUTE, ("intake", "dispatch", "mediation")),
        (TRACE_INCIDENT, ("intake", "dispatch", "policing")),
    ):
        for name in passed:
            wait_for(f"trace {trace} in {name}'s log", partial(in_log, mesh.services[name], trace))

    # (a) every dashboard panel query and every recording rule returns data from Prometheus
    dashboards = load_dashboards()
    queries: list[tuple[str, str]] = []
    for board in dashboards.DASHBOARDS:
        jobs = JOBS.values() if board.job_variable else [""]
        for job in jobs:
            for _, panels in board.rows:
                for panel in panels:
                    for query in panel.queries:
                        where = f"{board.uid} / {panel.title}" + (f" (job={job})" if job else "")
                        queries.append((where, query.expr.replace("$job", job)))
    rules = yaml.safe_load((PROMETHEUS / "rules/recording.yml").read_text())
    queries += [(f"recording rule {r['record']}", r["record"]) for g in rules["groups"] for r in g["rules"]]
    deadline = time.monotonic() + DATA_TIMEOUT_S
    missing = list(queries)
    while missing and time.monotonic() < deadline:
        missing = [(where, expr) for where, expr in missing if not prom_query(mesh, expr)]
        if missing:
            time.sleep(2)
    assert not missing, "no data from Prometheus for:\n" + "\n".join(f"{w}: {e}" for w, e in missing)
    assert len(queries) > 40

    # the domain figures are those of the traffic above, not only present
    # Exact where only this test can move the figure (its own REST and SIP calls on fresh databases);
    # "at least" where records of other tests on the shared broker may add to it.
    figures = {  # the last scrape may be up to 5 s old: wait (bounded) for it
        'sum(govmesh_cases_received_total{matter="security.incident", channel="api"})': 1,
        'sum(govmesh_cases_received_total{matter="dispute.neighbour", channel="api"})': 1,
        'sum(govmesh_cases_received_total{channel="video"}) >= bool 1': 1,  # intake's case for the alarm
        "sum(govmesh_case_dispatch_seconds_count) >= bool 3": 1,  # the dispute, the incident, the alarm's case
        'sum(govmesh_mediation_outcomes_total{outcome="withdrawn", kind="dispute"})': 1,
        'sum(govmesh_tasks_completed_total{target="grid_worker", within_sla="true"})': 1,
        'sum(govmesh_tasks_completed_total{target="policing", within_sla="true"}) >= bool 1': 1,
        "sum(govmesh_policing_response_seconds_count)": 1,
        f'sum(govmesh_video_channels{{status="online"}}) >= bool {len(own)}': 1,
        'sum(govmesh_video_alarms_total{source="sip", priority="2"})': 1,
        'sum(govmesh_sip_messages_total{method="REGISTER"}) >= bool 1': 1,
        "sum(govmesh_dlq_messages_total) >= bool 1": 1,
    }
    for expr, expected in figures.items():
        wait_for(f"{expr} == {expected}", partial(equals, mesh, expr, expected), timeout=120)

    # (b) the alert rules are loaded, and none fires but the one the test provoked
    groups = ok(get(mesh.prometheus + "/api/v1/rules", params={"type": "alert"}, timeout=10))["data"]["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(loaded) == {
        "GovmeshServiceDown",
        "GovmeshConsumerLagGrowing",
        "GovmeshDeadLettersGrowing",
        "GovmeshOutboxStuck",
        "GovmeshOutboxRowParked",
        "GovmeshWebhookDeliveriesParked",
        "GovmeshCasesOverdue",
        "GovmeshChannelsOffline",
    }
    assert all(r["health"] == "ok" for r in loaded.values()), loaded

    def dead_letter_alert() -> bool:
        alerts = ok(get(mesh.prometheus + "/api/v1/alerts", timeout=10))["data"]["alerts"]
        return any(
            (a["labels"]["alertname"], a["labels"].get("topic"), a["state"])
            == ("GovmeshDeadLettersGrowing", "intake.cases.v1", "firing")
            for a in alerts
        )

    wait_for("the dead-letter alert on intake.cases.v1", dead_letter_alert, timeout=120)
    alerts = ok(get(mesh.prometheus + "/api/v1/alerts", timeout=10))["data"]["alerts"]
    firing = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
    print("alerts:", sorted((a["labels"]["alertname"], a["labels"].get("topic", ""), a["state"]) for a in alerts))
    assert firing <= set(EXPECTED_FIRING), firing
    up = prom_query(mesh, "up")
    assert {r["metric"]["job"]: r["value"][1] for r in up} == dict.fromkeys(JOBS.values(), "1")
    print(f"full mesh: {len(queries)} queries with data, {time.monotonic() - started:.0f} s of traffic and checks")

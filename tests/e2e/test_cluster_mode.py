"""Cluster mode (issue 16 item 3): ``infra/mesh.py`` with ``INSTANCES=2`` runs intake and dispatch
as two processes each on PostgreSQL and the real broker, behind HAProxy health-checked on
/readyz. Requests are shared by both intakes; with one intake SIGKILLed every request is still
answered; the dispatch instances share their consumer group, so each case is dispatched once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
from support import ADMIN, free_port, header, read_topic

from govmesh_runtime.kafka import ensure_topics

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CASE = {
    "matter_code": "dispute.neighbour",
    "description": "Water leaks.",
    "lat": 38.93,
    "lon": 100.45,
    "attributes": {"parties_count": 2},
}


def _database(server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def _posted_requests(base: str) -> float:
    text = httpx.get(base + "/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("govmesh_http_requests_total{") and 'route="/v1/cases"' in line and 'method="POST"' in line
    )


def test_two_instances_behind_haproxy_share_the_work_and_survive_one_killed(
    kafka_bootstrap: str, postgres_server: str, tmp_path: Path
) -> None:
    asyncio.run(ensure_topics(kafka_bootstrap))
    ports = {name: [free_port() for _ in range(3)] for name in ("INTAKE", "DISPATCH")}
    env = {
        **os.environ,
        "INSTANCES": "2",
        "GOVMESH_DATA_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INTAKE_DUPLICATE_WINDOW_S": "0",
        "DISPATCH_RETURN_VISIT_SHARE": "0",
        "INTAKE_DATABASE_URL": _database(postgres_server),
        "DISPATCH_DATABASE_URL": _database(postgres_server),
    }
    for name, (front, *instances) in ports.items():
        env[f"{name}_PORT"] = str(front)
        env[f"{name}_INSTANCE_PORTS"] = ",".join(map(str, instances))
    mesh = [sys.executable, str(ROOT / "infra/mesh.py")]
    intake = f"http://127.0.0.1:{ports['INTAKE'][0]}"
    intake_instances = [f"http://127.0.0.1:{p}" for p in ports["INTAKE"][1:]]
    dispatch = f"http://127.0.0.1:{ports['DISPATCH'][0]}"
    try:
        started = subprocess.run([*mesh, "start", "intake", "dispatch"], env=env, capture_output=True, text=True)
        assert started.returncode == 0, started.stdout + started.stderr
        with httpx.Client(headers=ADMIN, timeout=10) as http:
            cases = []
            for _ in range(10):
                answer = http.post(intake + "/v1/cases", json=CASE, headers={"Idempotency-Key": str(uuid.uuid4())})
                assert answer.status_code == 201, answer.text
                cases.append(answer.json()["id"])
            assert all(_posted_requests(base) > 0 for base in intake_instances)  # both intakes took requests

            pid = int((tmp_path / "run" / "intake-1.pid").read_text())
            os.kill(pid, signal.SIGKILL)
            for _ in range(10):  # HAProxy retries a refused connection on the other instance
                answer = http.post(intake + "/v1/cases", json=CASE, headers={"Idempotency-Key": str(uuid.uuid4())})
                assert answer.status_code == 201, answer.text
                cases.append(answer.json()["id"])

            deadline = time.monotonic() + 90
            waiting = set(cases)
            while waiting and time.monotonic() < deadline:
                for case_id in list(waiting):
                    shown = http.get(f"{dispatch}/v1/cases/{case_id}")
                    if shown.status_code == 200:
                        waiting.discard(case_id)
                time.sleep(0.3)
            assert not waiting, f"not dispatched: {sorted(waiting)}"
        records = asyncio.run(read_topic(kafka_bootstrap, "dispatch.cases.v1"))
        dispatched = Counter(
            r.key.decode()
            for r in records
            if header(r, "ce_type") == "gov.dispatch.case.dispatched" and r.key.decode() in set(cases)
        )
        assert dispatched == Counter({case_id: 1 for case_id in cases})  # each once, by one of the two
    finally:
        subprocess.run([*mesh, "stop", "intake", "dispatch"], env=env, capture_output=True, check=False)

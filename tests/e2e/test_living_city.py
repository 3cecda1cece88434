"""A living city on ``make run``: every service seeded from the generated city by its own CLI
(``make seed``, idempotent), the README's own example dispute reaching a mediator, and
``make demo``'s day of cases arriving at the one door with the reporters' own tokens.

Intake, dispatch and mediation run as processes on the real broker, on the databases
``make seed`` wrote (SQLite under a fresh data directory)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, ROOT, Service

pytestmark = pytest.mark.e2e

# The body `make run` prints and the README shows (infra/mesh.py info()).
README_EXAMPLE = {
    "matter_code": "dispute.neighbour",
    "description": "Water leaks from the flat above.",
    "lat": 38.9326,
    "lon": 100.4498,
    "channel": "api",
    "attributes": {"parties_count": 2},
}


@dataclass
class City:
    data: Path
    env: dict[str, str]
    seeded: str  # output of the first `make seed`
    again: str  # output of the second
    services: dict[str, Service]


def _seed(data: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "seed", f"DATA={data}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def city(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    data = tmp_path_factory.mktemp("living-city")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "GOVMESH_DATA_DIR": str(data)}
    env.pop("MAKEFLAGS", None)
    seeded = _seed(data, env)
    again = _seed(data, env)
    services: dict[str, Service] = {}
    try:
        for name in ("intake", "dispatch", "mediation"):
            services[name] = Service(name, env, data / f"{name}.log")
        for service in services.values():
            service.wait_ready(timeout=120)
        yield City(data, env, seeded, again, services)
    finally:
        for service in services.values():
            service.terminate()


def _get(url: str, **params: Any) -> Any:
    response = httpx.get(url, headers=ADMIN, params=params, timeout=10)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
    return response.json()


def test_every_service_is_seeded_from_the_city_once(city: City) -> None:
    lines = city.seeded.splitlines()
    assert "mediation: loaded 12 studios and 29 mediators" in lines
    assert "imported 60 grids, 4 police rooms, 6 officers and 8 auxiliaries" in lines
    assert any(line.startswith("channels: 300 created") for line in lines), city.seeded
    assert any(line.startswith("elements=10000") for line in lines), city.seeded
    # a second `make run` seeds nothing again
    assert city.again.splitlines() == [
        "dispatch: 60 grids already there, nothing imported",
        "dispatch: 10000 elements already there, nothing imported",
        "policing: 4 police rooms already there, nothing imported",
        "video-bridge: 60 grids already there, nothing imported",
        "video-bridge: 300 channels already there, nothing imported",
        "mediation: 12 studios already there, nothing loaded",
    ]
    mediation = city.services["mediation"].url
    assert len(_get(mediation + "/v1/studios", limit=1000)) == 12
    assert len(_get(mediation + "/v1/mediators", limit=1000)) == 29


def test_the_readme_example_dispute_gets_a_mediator(city: City) -> None:
    headers = {**ADMIN, "Idempotency-Key": str(uuid.uuid4())}
    answer = httpx.post(city.services["intake"].url + "/v1/cases", json=README_EXAMPLE, headers=headers, timeout=10)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["id"]
    mediation = city.services["mediation"].url
    deadline = 60.0
    until = time.monotonic() + deadline
    dispute = None
    while time.monotonic() < until:
        found = [d for d in _get(mediation + "/v1/disputes", limit=500) if d["case_id"] == case_id]
        if found and found[0]["mediator_id"]:
            dispute = found[0]
            break
        time.sleep(0.5)
    assert dispute is not None, f"no dispute with a mediator for case {case_id} within {deadline} s"
    # the point is in 梁家墩镇 (620702100): its township studio, a mediator skilled in neighbour disputes
    assert dispute["studio_id"] == "ST620702100"
    mediators = {m["mediator_id"]: m for m in _get(mediation + "/v1/mediators", limit=1000)}
    assert "neighbour" in mediators[dispute["mediator_id"]]["skills"]


def _demo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "infra/demo.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_demo_plays_a_day_through_the_one_door_with_the_reporters_tokens(city: City) -> None:
    intake = city.services["intake"].url
    before = _get(intake + "/v1/cases", limit=1)["total"]
    # a whole day at 86,400x real time: one second of wall time, then it stops by itself
    done = _demo(
        "--speed", "86400", "--cases", "40", "--intake", intake, "--city", str(city.data / "city-small"), env=city.env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo: 40 cases of a 24 h day in 60 grids" in done.stdout
    cases = _get(intake + "/v1/cases", limit=200)
    assert cases["total"] >= before + 35  # a few may link to an open case nearby (duplicates)
    played = [c for c in cases["items"] if c["channel"] != "api"]
    channels = {c["channel"] for c in played}
    assert {"terminal", "window", "hotline"} <= channels, channels
    # every report was accepted with its reporter's token, each bound to its place (the demo
    # exits non-zero on any refusal): a grid worker's terminal on their own grid
    terminal = _get(intake + f"/v1/cases/{next(c['id'] for c in played if c['channel'] == 'terminal')}")
    assert terminal["timeline"][0]["note"].startswith("accepted via terminal"), terminal["timeline"][0]


def test_the_demo_refuses_to_send_traffic_anywhere_but_loopback(city: City) -> None:
    done = _demo("--intake", "http://10.1.2.3:8001", "--city", str(city.data / "city-small"), env=city.env)
    assert done.returncode != 0
    assert "traffic goes to 127.0.0.1 only" in done.stderr

"""End to end: intake and dispatch as real processes on the real broker.

A request created over Open311 (form-encoded POST, XML answer) is followed with a
third-party Open311 client (``georeport``, unchanged) until its dispatch shows in the
Open311 GET; a burst of camera alarms on video.alarms.v1 becomes one case.

The Open311 client is used exactly as published: it sends no key on reads, and GeoReport v2
asks for none (keys are for POST). The POST carries an API key from the tests' keyring (as
`govmesh-auth api-key` issues), the native API calls a bearer token.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from georeport import GeoReport
from support import ADMIN, Service, api_key, auth_headers, produce

from govmesh_contracts import Location, VideoAlarmRaised, encode, envelope_for

pytestmark = pytest.mark.e2e
API_KEY = api_key(["cases:write"], subject="e2e-open311-app")  # posts; reads need no key
STAFF = auth_headers(["cases:read"], subject="e2e-hotline-desk")  # no personal-data scope


@pytest.fixture(params=["sqlite", "postgres"])
def mesh(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(tmp_path),
    }
    if request.param == "postgres":
        env["INTAKE_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")
        env["DISPATCH_DATABASE_URL"] = _another_database(request)
    services = {name: Service(name, env, tmp_path / f"{name}.log") for name in ("intake", "dispatch")}
    try:
        for service in services.values():
            service.wait_ready()
        yield services
    finally:
        codes = {name: s.terminate() for name, s in services.items()}
    assert codes == {"intake": -15, "dispatch": -15}, "services must exit on SIGTERM, not be killed"


def _another_database(request: pytest.FixtureRequest) -> str:
    import psycopg

    server: str = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def _wait_for(check: Any, timeout: float = 30) -> Any:
    """Poll until check() returns something truthy (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_a_request_created_over_open311_xml_shows_its_dispatch_in_the_open311_get(mesh: dict[str, Service]) -> None:
    intake = mesh["intake"]
    open311 = intake.url + "/open311/v2"
    form = {
        "api_key": API_KEY,
        "service_code": "dispute.neighbour",
        "lat": "38.9326",
        "long": "100.4498",
        "description": "楼上漏水 Water leaks from the flat above.",
        "attribute[parties_count]": "2",
        "last_name": "张",
        "first_name": "三",
        "phone": "13812345678",
    }
    response = httpx.post(open311 + "/requests.xml", data=form, timeout=10)
    assert response.status_code == 201, response.text
    root = ET.fromstring(response.content)  # noqa: S314  (our own service's answer)
    request_id = root.findtext("request/service_request_id")
    assert request_id and request_id.startswith("620702-")

    client = GeoReport(open311, output_format="xml")  # a third-party client as published: no key on reads
    services = client.get_service_list()
    assert "dispute.neighbour" in [s["service_code"] for s in services]
    definition = client.get_service_definition("dispute.neighbour")
    assert definition["service_code"] == "dispute.neighbour"

    def dispatched() -> dict[str, Any] | None:
        got: dict[str, Any] = client.get_service_request(request_id)
        return got if " dispatched " in (got.get("status_notes") or "") else None

    got = _wait_for(dispatched)
    assert got, client.get_service_request(request_id)
    assert got["service_request_id"] == request_id
    assert got["status"] == "open"
    assert got["agency_responsible"] != "centre:620702"  # dispatch holds it now
    assert got["expected_datetime"]
    assert "13812345678" not in str(got) and "张" not in str(got)  # a public read: no reporter
    listed = client.get_service_requests(service_request_id=request_id)
    listed = listed if isinstance(listed, list) else [listed]
    assert [r["service_request_id"] for r in listed] == [request_id]

    as_json = GeoReport(open311, output_format="json").get_service_request(request_id)
    steps = [line.split()[1] for line in as_json["status_notes"].splitlines()]
    assert steps[0] == "received" and "dispatched" in steps, steps

    # personal data stayed in intake: masked in the native API, absent from the logs
    case = httpx.get(intake.url + "/v1/cases", params={"q": request_id}, headers=STAFF, timeout=5).json()["items"][0]
    full = httpx.get(f"{intake.url}/v1/cases/{case['id']}", headers=STAFF, timeout=5).json()
    assert full["reporter"]["phone"] == "138****5678"
    for service in mesh.values():
        assert "13812345678" not in service.log.read_text()


@pytest.mark.exercises("video.alarms.v1", "VideoAlarmRaised", "intake")
def test_a_burst_of_camera_alarms_becomes_one_dispatched_case(mesh: dict[str, Service], kafka_bootstrap: str) -> None:
    intake = mesh["intake"]
    channel = "62070200001320" + f"{uuid.uuid4().int % 10**6:06d}"
    t0 = datetime.now(UTC)
    records = []
    for seconds in (0, 15, 40):
        alarm = VideoAlarmRaised(
            alarm_id=uuid.uuid4(),
            channel_id=channel,
            device_id="62070200001180000001",
            grid_code="620702001001",
            location=Location(lat=38.931, lon=100.451),
            priority=2,
            method="5",
            alarm_type="loitering",
            alarm_time=t0 + timedelta(seconds=seconds),
        )
        record = encode(alarm, envelope_for(alarm, source="/govmesh/video-bridge"))
        records.append((record.key, record.value, record.headers))
    asyncio.run(produce(kafka_bootstrap, "video.alarms.v1", records))

    def the_case() -> dict[str, Any] | None:
        params = {"channel": "video", "q": channel}
        page = httpx.get(intake.url + "/v1/cases", params=params, headers=ADMIN, timeout=5).json()
        if not page["items"]:
            return None
        case_url = f"{intake.url}/v1/cases/{page['items'][0]['id']}"
        case: dict[str, Any] = httpx.get(case_url, headers=ADMIN, timeout=5).json()
        kinds = [s["kind"] for s in case["timeline"]]
        return case if kinds.count("alarm_repeated") == 2 and "dispatched" in kinds else None

    case = _wait_for(the_case)
    assert case, httpx.get(intake.url + "/v1/cases", params={"channel": "video"}, headers=ADMIN, timeout=5).json()
    assert case["matter_code"] == "video.alarm"
    params = {"channel": "video", "q": channel}
    page = httpx.get(intake.url + "/v1/cases", params=params, headers=ADMIN, timeout=5).json()
    assert page["total"] == 1

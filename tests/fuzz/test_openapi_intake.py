"""Schemathesis against intake's OpenAPI: the native API and Open311 GeoReport v2 (JSON and XML)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fuzz.openapi_fuzz import BACKENDS, database, fuzz, load, operations, stop
from schemathesis.specs.openapi.schemas import OpenApiSchema
from support import ADMIN

from intake.bootstrap import create_app
from intake.settings import IntakeSettings

CASE = {"matter_code": "dispute.neighbour", "description": "Water leaks from above.", "lat": 38.93, "lon": 100.45}


def settings(**values: object) -> IntakeSettings:
    return IntakeSettings(consumers_enabled=False, **values)  # type: ignore[arg-type]


def seed(session: Any) -> dict[str, str]:
    """A case by the native API and one by Open311, so the fuzzing also reaches real ones."""
    case = session.post("/v1/cases", json=CASE, headers=ADMIN)
    assert case.status_code == 201, case.text
    service_code = CASE["matter_code"]  # Open311 services are intake's matters
    form = {"service_code": service_code, "lat": "38.93", "long": "100.45", "description": "漏水"}
    request = session.post("/open311/v2/requests.json", data=form, headers=ADMIN)
    assert request.status_code in (200, 201), request.text
    answer = request.json()[0]
    return {
        "case_id": case.json()["id"],
        "code": CASE["matter_code"],
        "fmt": "json",
        "service_code": service_code,
        "service_request_id": str(answer.get("service_request_id") or ""),
        "token": str(answer.get("token") or ""),
    }


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OpenApiSchema, dict[str, str]]]:
    """The service on one backend (SQLite, PostgreSQL), seeded."""
    data = tmp_path_factory.mktemp("intake")
    with database(request.param, request, data) as url:
        app = create_app(settings(data_dir=data, database_url=url, kafka_bootstrap_servers=kafka_bootstrap))
        yield load(app, seed=seed)
        stop()


@pytest.mark.parametrize("operation", operations(create_app(settings())))
def test_no_input_makes_intake_fail_or_answer_off_its_schema(
    api: tuple[OpenApiSchema, dict[str, str]], operation: str
) -> None:
    schema, known = api
    fuzz(schema, operation, headers=ADMIN, known={k: v for k, v in known.items() if v})

"""HTTP conventions every service keeps (issue 17 item 5): refusals documented as RFC 9457
problems (application/problem+json); stable operation ids — the endpoint
function's name, unique within the service — and Swagger UI served from the service's own files
(a government network has no internet, so no CDN)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

SERVICES = ("intake", "dispatch", "mediation", "policing", "video_bridge")


def _app(service: str, tmp_path: Path) -> FastAPI:
    settings_module = importlib.import_module(f"{service}.settings")
    cls = next(
        value
        for name, value in vars(settings_module).items()
        if name.endswith("Settings") and isinstance(value, type) and value.__module__ == settings_module.__name__
    )
    create_app: Callable[..., FastAPI] = importlib.import_module(f"{service}.bootstrap").create_app
    return create_app(cls(data_dir=tmp_path / service))


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_the_endpoint_names_and_unique(service: str, tmp_path: Path) -> None:
    operations = _operations(_app(service, tmp_path))
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    # FastAPI's default (name + path + method, e.g. create_case_v1_cases_post) changes with the path.
    odd = [
        f"{m} {p}: {o['operationId']}"
        for m, p, o in operations
        if not re.fullmatch(r"[a-z][a-z0-9_]*", o["operationId"])
    ]
    assert odd == []
    assert not any(i.endswith(("_get", "_post", "_put", "_patch", "_delete")) for i in ids), ids


@pytest.mark.parametrize("service", SERVICES)
def test_swagger_ui_is_served_without_a_cdn(service: str, tmp_path: Path) -> None:
    client = TestClient(_app(service, tmp_path))  # no `with`: the lifespan (Kafka, database) is not started
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page.text)
    assert external == [], f"/docs loads from outside the service: {external}"
    for asset in re.findall(r"""(?:src|href)=["'](/docs/assets/[^"']+)""", page.text):
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 500, asset
    assert client.get("/docs/assets/../settings.py").status_code == 404
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered


@pytest.mark.parametrize("service", SERVICES)
def test_every_refusal_is_documented_as_an_rfc_9457_problem(service: str, tmp_path: Path) -> None:
    app = _app(service, tmp_path)
    document = app.openapi()
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's own 422 is gone
    wrong = [
        f"{method} {path} {code}"
        for method, path, operation in _operations(app)
        if not path.startswith("/open311/")  # GeoReport v2 keeps its own error format
        for code, response in operation["responses"].items()
        if code[0] in "45"
        and response.get("content")
        != {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        and list(response.get("content", {})) != ["application/problem+json"]
    ]
    assert wrong == []


# The services whose lists are converted to the one envelope (issue 17 item 5); the others still
# answer their lists in their former styles (bare arrays, offset pages) and join this as converted.
PAGED_SERVICES = ("video_bridge",)


@pytest.mark.parametrize("service", PAGED_SERVICES)
def test_every_list_is_a_cursor_page(service: str, tmp_path: Path) -> None:
    """Every GET answering a list answers ``{"items": [...], "next_cursor": ...}`` and takes
    ``?limit=`` (bounded) and ``?cursor=``; none answers a bare array (Open311 excepted)."""
    app = _app(service, tmp_path)
    schemas = app.openapi()["components"]["schemas"]
    wrong = []
    for method, path, operation in _operations(app):
        if method != "GET" or path.startswith("/open311/"):
            continue
        schema = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        properties = schema.get("properties", {})
        if schema.get("type") == "array":
            wrong.append(f"{path}: a bare array")
        elif properties.get("items", {}).get("type") == "array":
            params = {p["name"]: p for p in operation.get("parameters", [])}
            limit = params.get("limit", {}).get("schema", {})
            if set(properties) != {"items", "next_cursor"} or "cursor" not in params or "maximum" not in limit:
                wrong.append(f"{path}: {sorted(properties)}, parameters {sorted(params)}")
    assert wrong == []

"""Numbers that are not numbers, on every service (issue 13, item 9).

For every service, hypothesis draws an operation of its OpenAPI document and a place in
the operation's JSON body (from the body's schema: properties, additional keys, array
items, at any depth) and puts there a non-finite number as a JSON literal (``NaN``,
``Infinity``, ``1e400`` …); every field the documents type as a number, in a body or the
query, also gets one as text (``"NaN"``, ``"-inf"``, ``"1e999"``). Each answer must be a
422 whose ``detail`` names that very field with "must be a finite number" — never a 500
(``"lon": 1e400`` was one) and never a value taken (``"NaN"`` was stored as null).

The services run in-process with their real lifespan (SQLite, producer on the test broker).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ADMIN

from govmesh_runtime.finite import MESSAGE

EXAMPLES = 60
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-2.5E+999", "1" + "0" * 400 + ".5"]
TEXTS = ["NaN", "nan", "inf", "-Infinity", "1e999"]
MARK = "__not_a_number__"
Path_ = tuple[str | int, ...]


def _intake(data: Path, kafka: str) -> FastAPI:
    from intake.bootstrap import create_app
    from intake.settings import IntakeSettings

    return create_app(IntakeSettings(consumers_enabled=False, data_dir=data, kafka_bootstrap_servers=kafka))


def _dispatch(data: Path, kafka: str) -> FastAPI:
    from dispatch import sample_city
    from dispatch.bootstrap import create_app
    from dispatch.settings import DispatchSettings

    city = sample_city.write(data / "city")
    return create_app(
        DispatchSettings(
            consumers_enabled=False,
            timer_scan_interval_s=3600,
            webhook_scan_interval_s=3600,
            data_dir=data,
            kafka_bootstrap_servers=kafka,
            city_data_dir=str(city),
        )
    )


def _mediation(data: Path, kafka: str) -> FastAPI:
    from mediation.bootstrap import create_app
    from mediation.settings import MediationSettings

    return create_app(MediationSettings(consumers_enabled=False, data_dir=data, kafka_bootstrap_servers=kafka))


def _policing(data: Path, kafka: str) -> FastAPI:
    from policing.bootstrap import create_app
    from policing.settings import PolicingSettings

    return create_app(PolicingSettings(consumers_enabled=False, data_dir=data, kafka_bootstrap_servers=kafka))


def _video_bridge(data: Path, kafka: str) -> FastAPI:
    from video_bridge.bootstrap import create_app
    from video_bridge.settings import VideoBridgeSettings

    return create_app(
        VideoBridgeSettings(consumers_enabled=False, sip_port=0, data_dir=data, kafka_bootstrap_servers=kafka)
    )


SERVICES: dict[str, Callable[[Path, str], FastAPI]] = {
    "intake": _intake,
    "dispatch": _dispatch,
    "mediation": _mediation,
    "policing": _policing,
    "video-bridge": _video_bridge,
}


NO_NUMBER_FIELDS = {"mediation"}  # its documents type no field as a number (its bodies get the literals)


@pytest.fixture(params=list(SERVICES))
def service(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    app = SERVICES[request.param](tmp_path, kafka_bootstrap)
    with TestClient(app, headers=ADMIN, raise_server_exceptions=False) as client:
        client.service_name = request.param  # type: ignore[attr-defined]
        yield client, app.openapi()


# --- the documents' shapes -----------------------------------------------------------------------


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _variants(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, document)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [v for option in options for v in _variants(option, document)]
    return [schema]


def _places(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Path_]:
    """A place in a document of this schema: here, or inside (a property, an extra key, an item)."""
    inner: list[st.SearchStrategy[Path_]] = []
    if depth < 4:
        for variant in _variants(schema, document):
            for name, sub in (variant.get("properties") or {}).items():
                inner.append(_places(sub, document, depth + 1).map(lambda p, n=name: (n, *p)))
            extra = variant.get("additionalProperties")
            if isinstance(extra, dict) or variant.get("type") == "object":
                sub = extra if isinstance(extra, dict) else {}
                inner.append(_places(sub, document, depth + 1).map(lambda p: ("extra_key", *p)))
            if variant.get("type") == "array":
                inner.append(_places(variant.get("items") or {}, document, depth + 1).map(lambda p: (0, *p)))
    here: st.SearchStrategy[Path_] = st.just(())
    return st.one_of(here, *inner) if inner and depth > 0 else st.one_of(*inner) if inner else here


def _number_fields(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> list[Path_]:
    """Every place the schema types as a number (not a union with text, where "NaN" is text)."""
    variants = _variants(schema, document)
    types = {v.get("type") for v in variants}
    if types & {"number"} and not types & {"string"}:
        return [()]
    found: list[Path_] = []
    if depth < 4:
        for variant in variants:
            for name, sub in (variant.get("properties") or {}).items():
                found += [(name, *p) for p in _number_fields(sub, document, depth + 1)]
            if variant.get("type") == "array":
                found += [(0, *p) for p in _number_fields(variant.get("items") or {}, document, depth + 1)]
    return found


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "put", "post", "patch", "delete"):
                out.append((method.upper(), _fill(path), operation))
    return out


def _fill(path: str) -> str:
    """Path parameters filled with an id of the right shape (the refusal comes before any lookup)."""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


def _json_body(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    schema: dict[str, Any] | None = (content.get("application/json") or {}).get("schema")
    return schema


def _document_with(path: Path_, value: object) -> object:
    """A JSON document with ``value`` at ``path`` (objects and one-item arrays on the way)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return [_document_with(rest, value)]
    return {head: _document_with(rest, value)}


def _names(answer: Any, loc: list[str | int]) -> bool:
    detail = answer.json().get("errors") if answer.status_code == 422 else None
    return isinstance(detail, list) and any(
        e.get("loc") == loc and str(e.get("msg")) == MESSAGE for e in detail if isinstance(e, dict)
    )


# --- the tests -------------------------------------------------------------------------------------


def test_a_non_finite_literal_anywhere_in_any_json_body_is_a_422_naming_it(
    service: tuple[TestClient, dict[str, Any]],
) -> None:
    client, document = service
    bodies = [(m, p, s) for m, p, op in _operations(document) if (s := _json_body(op)) is not None]
    assert bodies, "every service takes JSON bodies"
    cases = st.sampled_from(bodies).flatmap(
        lambda op: st.tuples(st.just(op), _places(op[2], document), st.sampled_from(LITERALS))
    )

    @FUZZ
    @given(case=cases)
    def run(case: tuple[tuple[str, str, dict[str, Any]], Path_, str]) -> None:
        (method, url, _), place, literal = case
        text = json.dumps(_document_with(place, MARK)).replace(f'"{MARK}"', literal)
        answer = client.request(method, url, content=text, headers={"content-type": "application/json"})
        assert _names(answer, ["body", *place]), (method, url, text[:200], answer.status_code, answer.text[:500])

    run()


def test_every_number_field_refuses_non_finite_text_naming_it(service: tuple[TestClient, dict[str, Any]]) -> None:
    client, document = service
    fields: list[tuple[str, str, str, Path_]] = []
    for method, url, operation in _operations(document):
        if (schema := _json_body(operation)) is not None:
            fields += [(method, url, "body", p) for p in _number_fields(schema, document) if p]
        for parameter in operation.get("parameters") or []:
            if parameter.get("in") == "query" and _number_fields(parameter.get("schema") or {}, document) == [()]:
                fields.append((method, url, "query", (parameter["name"],)))
    assert bool(fields) is (client.service_name not in NO_NUMBER_FIELDS), fields  # type: ignore[attr-defined]
    if not fields:
        return

    @FUZZ
    @given(field=st.sampled_from(fields), text=st.sampled_from(TEXTS))
    def run(field: tuple[str, str, str, Path_], text: str) -> None:
        method, url, where, place = field
        if where == "body":
            answer = client.request(method, url, json=_document_with(place, text))
        else:
            answer = client.request(method, url, params={str(place[0]): text})
        assert _names(answer, [where, *place]), (method, url, where, place, text, answer.status_code, answer.text[:500])

    run()

"""The committed AsyncAPI document is valid by the official AsyncAPI 3.0.0 JSON Schema, and
every committed event schema declares its dialect and is a valid schema of it — what an
integrator's tooling (generators, brokers' schema registries) checks first."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI = ROOT / "contracts" / "asyncapi.json"
SCHEMAS = ROOT / "contracts" / "schemas"
OFFICIAL = Path(__file__).resolve().parent / "data" / "asyncapi-3.0.0.schema.json"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _errors(document: Any) -> list[str]:
    validator = jsonschema_rs.Draft7Validator(_load(OFFICIAL))
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_the_committed_asyncapi_document_is_valid_by_the_official_schema() -> None:
    document = _load(ASYNCAPI)
    assert document["asyncapi"] == "3.0.0"
    assert _errors(document) == []


def test_the_official_schema_catches_a_broken_document() -> None:
    # The validation above can fail: the same document with a channel that points nowhere
    # useful and without its info object is refused.
    document = copy.deepcopy(_load(ASYNCAPI))
    del document["info"]
    channel = next(iter(document["channels"].values()))
    channel["address"] = 42
    errors = _errors(document)
    assert any("info" in e for e in errors), errors
    assert any("address" in e or "42" in e for e in errors), errors


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_every_event_schema_declares_its_dialect_and_is_valid_by_it(path: Path) -> None:
    schema = _load(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema_rs.meta.validate(schema)  # raises with the reason when the schema is not valid 2020-12

"""The topic registry, the contracts package's dependencies and the AsyncAPI document."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from govmesh_contracts import EVENT_TYPES, TOPICS, Event, all_topic_names, topic, topic_for
from govmesh_contracts import asyncapi as asyncapi_module
from govmesh_contracts.topics import DLQ_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
TOPIC_NAME = re.compile(r"^[a-z][a-z-]*\.[a-z][a-z-]*\.v\d+$")
EVENT_TYPE = re.compile(r"^gov\.([a-z][a-z-]*)(\.[a-z][a-z-]*)+$")


@pytest.mark.parametrize("t", TOPICS, ids=[t.name for t in TOPICS])
def test_topic_names_follow_service_aggregate_version(t: Any) -> None:
    assert TOPIC_NAME.match(t.name), t.name
    # <namespace>.<aggregate>.v<N>; the namespace is the producing service's name or its first word
    assert t.namespace == t.producer.split("-")[0]
    assert t.partitions >= 1
    assert t.events, f"{t.name} carries no event"


def test_topic_names_are_unique() -> None:
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))


def test_each_event_type_maps_to_exactly_one_topic() -> None:
    by_class = Counter(cls for t in TOPICS for cls in t.events)
    by_type = Counter(cls.event_type for t in TOPICS for cls in t.events)
    assert [cls for cls, n in by_class.items() if n > 1] == []
    assert [name for name, n in by_type.items() if n > 1] == []
    assert set(EVENT_TYPES) == set(by_type)
    for event_type, cls in EVENT_TYPES.items():
        assert cls.event_type == event_type
        assert cls in topic_for(cls).events


def test_every_event_model_is_registered() -> None:
    def subclasses(cls: type[Event]) -> set[type[Event]]:
        return {s for c in cls.__subclasses__() for s in {c, *subclasses(c)}}

    # A class that sets its own event_type is a concrete event; bases such as TaskResult are not.
    concrete = {cls for cls in subclasses(Event) if "event_type" in cls.__dict__}
    assert {cls for cls in concrete if cls.__module__.startswith("govmesh_contracts.")} <= set(EVENT_TYPES.values())


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_types_are_namespaced_by_their_producer(event_type: str) -> None:
    match = EVENT_TYPE.match(event_type)
    assert match, event_type
    assert match.group(1) == topic_for(EVENT_TYPES[event_type]).namespace


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_key_field_is_a_required_field_of_the_event(event_type: str) -> None:
    cls = EVENT_TYPES[event_type]
    assert cls.key_field in cls.model_fields
    assert cls.model_fields[cls.key_field].is_required()


def test_dlq_names() -> None:
    for t in TOPICS:
        assert t.dlq == f"{t.name}.dlq"
        assert t.dlq.endswith(DLQ_SUFFIX)
        assert topic(t.name) is t
    assert all_topic_names(with_dlq=False) == [t.name for t in TOPICS]
    assert all_topic_names() == [t.name for t in TOPICS] + [f"{t.name}.dlq" for t in TOPICS]


# --- the package stands alone ---------------------------------------------------------------

FORBIDDEN = {"aiokafka", "fastapi", "starlette", "sqlmodel", "sqlalchemy", "govmesh_runtime", "intake", "dispatch"}


def test_contracts_import_no_kafka_client_web_framework_orm_or_service() -> None:
    services = {p.name for p in ROOT.glob("services/*/src/*") if (p / "__init__.py").is_file()}
    forbidden = sorted(FORBIDDEN | services)
    code = (
        "import json, sys\n"
        "import govmesh_contracts, govmesh_contracts.schemas, govmesh_contracts.asyncapi, govmesh_contracts.compat\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    loaded = set(json.loads(out))
    assert "govmesh_contracts" in loaded  # the check would be vacuous otherwise
    assert sorted(loaded & set(forbidden)) == []


def test_contracts_depend_only_on_pydantic() -> None:
    project = tomllib.loads((CONTRACTS / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0].lower() for dep in project.get("dependencies", [])]
    assert names == ["pydantic"]
    assert not project.get("optional-dependencies")


# --- AsyncAPI -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads((CONTRACTS / "asyncapi.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _deref(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_document_is_up_to_date() -> None:
    assert asyncapi_module.check(CONTRACTS / "asyncapi.json") == []
    assert asyncapi_module.main(["check"]) == 0


def test_asyncapi_check_reports_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert asyncapi_module.check(stale) != []
    assert asyncapi_module.main(["write", "--file", str(stale)]) == 0
    assert asyncapi_module.check(stale) == []
    assert stale.read_text(encoding="utf-8") == (CONTRACTS / "asyncapi.json").read_text(encoding="utf-8")


def test_asyncapi_root(document: dict[str, Any]) -> None:
    version = tomllib.loads((CONTRACTS / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "govmesh community-governance event mesh"
    assert document["info"]["version"] == version
    assert document["servers"]["local"]["host"] == "127.0.0.1:9092"
    assert document["servers"]["local"]["protocol"] == "kafka"


def test_asyncapi_has_a_channel_per_topic_and_dlq(document: dict[str, Any]) -> None:
    assert set(document["channels"]) == set(all_topic_names())
    for name, channel in document["channels"].items():
        assert channel["address"] == name


def test_asyncapi_has_a_message_per_event_type(document: dict[str, Any]) -> None:
    for t in TOPICS:
        channel = document["channels"][t.name]
        assert set(channel["messages"]) == {cls.event_type for cls in t.events}
        for cls in t.events:
            message = _deref(document, channel["messages"][cls.event_type]["$ref"])
            assert message["name"] == cls.__name__
            assert message["title"]
            assert message["contentType"] == "application/json"
            assert message["bindings"]["kafka"]["key"] == {"type": "string", "description": t.key}
            headers = message["headers"]
            assert headers["properties"]["ce_type"]["const"] == cls.event_type
            assert {"ce_id", "ce_source", "ce_type", "ce_specversion"} <= set(headers["required"])
            assert "ce_time" not in headers["required"]  # optional, as CloudEvents says
            assert {
                "ce_subject",
                "ce_dataschema",
                "ce_correlationid",
                "ce_causationid",
                "ce_traceparent",
            } <= set(headers["properties"])
            payload = message["payload"]
            assert set(payload["properties"]) == set(cls.model_fields)
            assert set(payload["required"]) == {n for n, f in cls.model_fields.items() if f.is_required()}
            assert "$defs" not in json.dumps(payload)


def test_asyncapi_send_operation_per_topic(document: dict[str, Any]) -> None:
    operations = document["operations"]
    assert len(operations) == len(TOPICS)
    for t in TOPICS:
        [operation] = [op for op in operations.values() if op["channel"]["$ref"] == f"#/channels/{t.name}"]
        assert operation["action"] == "send"
        assert operation["x-producer"] == t.producer
        assert _deref(document, operation["channel"]["$ref"])["address"] == t.name
        refs = [m["$ref"] for m in operation["messages"]]
        assert refs == [f"#/channels/{t.name}/messages/{cls.event_type}" for cls in t.events]


def test_asyncapi_references_all_resolve(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert any(r.startswith("#/components/schemas/") for r in refs)  # Location was hoisted
    for ref in refs:
        assert isinstance(_deref(document, ref), dict), ref

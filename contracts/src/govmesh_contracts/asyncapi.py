"""AsyncAPI 3.0.0 document of every topic of the registry (and its dead-letter topic).

    python -m govmesh_contracts.asyncapi write [--file FILE]
    python -m govmesh_contracts.asyncapi check [--file FILE]

The document is generated from ``TOPICS``, the event models and the ``Envelope``;
``contracts/asyncapi.json`` is committed and ``check`` exits 1 when it is stale.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import re
import tomllib
from pathlib import Path
from typing import Any

from govmesh_contracts.envelope import _TRACEPARENT, CONTENT_TYPE, HEADER_PREFIX, SPEC_VERSION, Envelope
from govmesh_contracts.events import Event
from govmesh_contracts.schemas import contracts_root, render
from govmesh_contracts.topics import TOPICS, Topic

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
TITLE = "govmesh community-governance event mesh"
DEAD_LETTER = "govmesh.dead-letter"

# Headers whose Envelope field has no description of its own.
_HEADER_DOCS = {
    "specversion": "CloudEvents spec version; a record without it is rejected.",
    "time": "When the occurrence happened, RFC 3339 with a UTC offset; a time without one is rejected.",
    "datacontenttype": "Media type of the value (the CloudEvents datacontenttype, mapped to content-type).",
    "dataschema": "URI of the event's JSON Schema.",
    "correlationid": "Id of the first event of the chain; the event's own id when it starts one.",
    "causationid": "Id of the event that caused this one.",
    "traceparent": "W3C trace context; an invalid value is dropped by consumers.",
}


def pointer(*parts: str) -> str:
    """A local JSON pointer reference; only ``~`` and ``/`` need escaping (dots are fine)."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def package_version() -> str:
    root = contracts_root()
    if root is not None:  # the source tree: its pyproject is the truth, even before a reinstall
        with (root / "pyproject.toml").open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    return importlib.metadata.version("govmesh-contracts")


def default_file() -> Path | None:
    root = contracts_root()
    return root / "asyncapi.json" if root else None


def _header_name(field: str) -> str:
    # The Kafka binding maps datacontenttype to the plain content-type header.
    return "content-type" if field == "datacontenttype" else HEADER_PREFIX + field


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` -> ``X``: an unset attribute is an absent header, never a null one."""
    members = schema.get("anyOf")
    if isinstance(members, list):
        rest = [m for m in members if m != {"type": "null"}]
        if len(rest) == 1:
            outer = {k: v for k, v in schema.items() if k != "anyOf"}
            return {**rest[0], **outer}
    return schema


def headers_schema(event_type: str | None) -> dict[str, Any]:
    """The Kafka headers of a record: the Envelope's attributes with their ``ce_`` names."""
    envelope = Envelope.model_json_schema()
    properties: dict[str, Any] = {}
    for field, prop in envelope["properties"].items():
        header = {k: v for k, v in _non_null(prop).items() if k not in ("title", "default")}
        header.setdefault("description", _HEADER_DOCS.get(field, ""))
        properties[_header_name(field)] = header
    properties["ce_specversion"]["const"] = SPEC_VERSION
    properties["content-type"]["const"] = CONTENT_TYPE
    properties["ce_traceparent"]["pattern"] = _TRACEPARENT.pattern
    if event_type is not None:
        properties["ce_type"]["const"] = event_type
    required = [_header_name(f) for f in envelope.get("required", [])] + ["ce_specversion"]
    return {"type": "object", "properties": properties, "required": sorted(required)}


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = pointer("components", "schemas", ref.removeprefix("#/$defs/"))
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _payload(cls: type[Event], shared: dict[str, Any]) -> dict[str, Any]:
    schema = cls.json_schema()
    # $id would rebase the payload's refs onto the schema's own URI: drop it here.
    schema.pop("$id", None)
    for name, definition in schema.pop("$defs", {}).items():
        definition = _rewrite_refs(definition)
        if shared.setdefault(name, definition) != definition:
            raise ValueError(f"two different nested models are both named {name!r}: rename one")
    return dict(_rewrite_refs(schema))


def _title(cls: type[Event]) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).split()
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def _message(cls: type[Event], t: Topic, shared: dict[str, Any]) -> dict[str, Any]:
    doc = inspect.cleandoc(cls.__doc__ or "")
    return {
        "name": cls.__name__,
        "title": _title(cls),
        "summary": doc.split("\n\n")[0].replace("\n", " "),
        "description": f"CloudEvents type `{cls.event_type}` on topic `{t.name}`, keyed by {t.key}.\n\n{doc}",
        "contentType": CONTENT_TYPE,
        "headers": headers_schema(cls.event_type),
        "payload": _payload(cls, shared),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": t.key},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-cloudevents-type": cls.event_type,
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record its consumer could not parse or kept failing on, set aside so the partition moves on.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "description": "The original record's headers (its ce_* headers when it had them) "
            "plus the headers the runtime adds to say why and where it failed.",
            "additionalProperties": {"type": "string"},
        },
        "payload": {"description": "The original record's value, byte for byte (it may not be valid JSON)."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record's key."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def build() -> dict[str, Any]:
    shared_schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {DEAD_LETTER: _dead_letter_message()}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for t in TOPICS:
        for cls in t.events:
            messages[cls.event_type] = _message(cls, t, shared_schemas)
        channels[t.name] = {
            "address": t.name,
            "description": f"{t.description}\n\nProducer: {t.producer}. Key: {t.key}.",
            "messages": {
                cls.event_type: {"$ref": pointer("components", "messages", cls.event_type)} for cls in t.events
            },
            "bindings": {
                "kafka": {
                    "partitions": t.partitions,
                    "topicConfiguration": {"max.message.bytes": t.max_message_bytes},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "x-producer": t.producer,
            "x-consumers": list(t.consumers),
        }
        channels[t.dlq] = {
            "address": t.dlq,
            "description": f"Dead letters of `{t.name}`: the original record with its headers and the reason.",
            "messages": {DEAD_LETTER: {"$ref": pointer("components", "messages", DEAD_LETTER)}},
            # One partition: the runtime creates every DLQ with one (govmesh_runtime.kafka).
            "bindings": {
                "kafka": {
                    "partitions": 1,
                    "topicConfiguration": {"max.message.bytes": t.dlq_max_message_bytes},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operations[f"{t.name}.send"] = {
            "action": "send",
            "channel": {"$ref": pointer("channels", t.name)},
            "messages": [{"$ref": pointer("channels", t.name, "messages", cls.event_type)} for cls in t.events],
            "summary": f"{t.producer} publishes to {t.name}.",
            "x-producer": t.producer,
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": package_version(),
            "description": (
                "Every topic of the mesh. Each record's value is the JSON event; its CloudEvents 1.0 "
                "attributes travel as Kafka headers (binary mode, `ce_` prefix). Within a major version "
                "(the `.vN` of a topic) events change only by additive, optional fields."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "Local single-node Kafka."}
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": shared_schemas, "messages": messages},
    }


def check(path: Path) -> list[str]:
    hint = "run `python -m govmesh_contracts.asyncapi write`"
    if not path.is_file():
        return [f"{path}: missing; {hint}"]
    if path.read_text(encoding="utf-8") != render(build()):
        return [f"{path}: out of date; {hint}"]
    return []


def write(path: Path) -> bool:
    """Write the document; True when the file changed."""
    text = render(build())
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m govmesh_contracts.asyncapi", description="Write or check the mesh's AsyncAPI document."
    )
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("--file", type=Path, default=None, help="document path (default: contracts/asyncapi.json)")
    args = parser.parse_args(argv)
    path: Path | None = args.file or default_file()
    if path is None:
        parser.error("not running from the contracts source tree: pass --file")
    if args.command == "check":
        problems = check(path)
        for problem in problems:
            print(problem)
        if problems:
            return 1
        print(f"ok: {path} is up to date")
        return 0
    print(f"wrote {path}" if write(path) else f"{path} already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

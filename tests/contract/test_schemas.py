"""The committed JSON Schemas match the models, and the compatibility rules hold."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from govmesh_contracts import EVENT_TYPES
from govmesh_contracts import schemas as schemas_module
from govmesh_contracts.compat import breaking_changes

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "contracts" / "schemas"


def test_committed_schemas_are_what_the_models_generate() -> None:
    assert schemas_module.check(SCHEMA_DIR) == []
    assert schemas_module.main(["check", "--dir", str(SCHEMA_DIR)]) == 0


def test_every_event_type_has_a_committed_schema() -> None:
    committed = {p.name.removesuffix(".json") for p in SCHEMA_DIR.glob("*.json")}
    assert set(EVENT_TYPES) <= committed
    for event_type, cls in EVENT_TYPES.items():
        schema = json.loads((SCHEMA_DIR / f"{event_type}.json").read_text(encoding="utf-8"))
        assert schema["x-cloudevents-type"] == event_type
        assert schema["title"] == cls.__name__


def test_every_committed_schema_belongs_to_a_registered_event_type() -> None:
    # Deleting an event type is a breaking change: its committed schema must stay and fail this.
    committed = {p.name.removesuffix(".json") for p in SCHEMA_DIR.glob("*.json")}
    assert committed <= set(EVENT_TYPES)


def test_default_dir_is_the_committed_one() -> None:
    assert schemas_module.default_dir() == SCHEMA_DIR


# --- the check and write commands on a scratch directory ---------------------------------


def _copy_committed(tmp_path: Path) -> Path:
    for path in SCHEMA_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_check_reports_a_stale_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _copy_committed(tmp_path)
    path = directory / "gov.intake.case.received.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["description"] = "an older description"
    path.write_text(schemas_module.render(schema), encoding="utf-8")
    assert schemas_module.main(["check", "--dir", str(directory)]) == 1
    assert "gov.intake.case.received.json: out of date" in capsys.readouterr().out


def test_check_reports_a_missing_schema(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    (directory / "gov.dispatch.case.dispatched.json").unlink()
    assert any(p.startswith("gov.dispatch.case.dispatched.json: missing") for p in schemas_module.check(directory))


def test_check_reports_a_breaking_change_against_the_committed_schema(tmp_path: Path) -> None:
    # The committed schema had a property the model no longer has: the model dropped a field.
    directory = _copy_committed(tmp_path)
    path = directory / "gov.dispatch.case.dispatched.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["priority"] = {"type": "integer"}
    path.write_text(schemas_module.render(schema), encoding="utf-8")
    problems = schemas_module.check(directory)
    assert "gov.dispatch.case.dispatched.json: breaking: properties.priority: property removed" in problems


def test_check_reports_a_schema_of_a_removed_event_type(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    (directory / "gov.intake.case.withdrawn.json").write_text('{"type": "object"}\n', encoding="utf-8")
    problems = schemas_module.check(directory)
    assert any("gov.intake.case.withdrawn is no longer a registered event type" in p for p in problems)


def test_write_refuses_breaking_changes_unless_allowed(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    path = directory / "gov.dispatch.case.dispatched.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["priority"] = {"type": "integer"}
    stale = schemas_module.render(schema)
    path.write_text(stale, encoding="utf-8")

    assert schemas_module.main(["write", "--dir", str(directory)]) == 1
    assert path.read_text(encoding="utf-8") == stale
    assert schemas_module.main(["write", "--dir", str(directory), "--allow-breaking"]) == 0
    assert schemas_module.check(directory) == []


def test_write_is_deterministic(tmp_path: Path) -> None:
    assert schemas_module.main(["write", "--dir", str(tmp_path)]) == 0
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert schemas_module.write(tmp_path) == []  # nothing to change the second time
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    for content in first.values():
        text = content.decode()
        assert text.endswith("}\n")
        assert not text.endswith("\n\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- compatibility rules ---------------------------------------------------------------------

BASE: dict[str, Any] = {
    "type": "object",
    "title": "CaseThing",
    "description": "A case thing.",
    "properties": {
        "case_id": {"type": "string", "format": "uuid"},
        "code": {"type": "string", "minLength": 2, "maxLength": 20, "pattern": "^[A-Z0-9]+$"},
        "count": {"type": "integer", "minimum": 0, "maximum": 100},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "kind": {"const": "case", "type": "string"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "location": {"anyOf": [{"$ref": "#/$defs/Location"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
    },
    "required": ["case_id", "code"],
    "$defs": {
        "Location": {
            "type": "object",
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
            "required": ["lat", "lon"],
        }
    },
}


def _changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def _props(s: dict[str, Any]) -> dict[str, Any]:
    return s["properties"]  # type: ignore[no-any-return]


BREAKING: list[tuple[str, Any, str]] = [
    ("property removed", lambda s: _props(s).pop("note"), "properties.note: property removed"),
    (
        "type changed",
        lambda s: _props(s)["count"].update(type="string"),
        "properties.count: type changed from integer to string",
    ),
    (
        "type narrowed (number to integer)",
        lambda s: s["$defs"]["Location"]["properties"]["lat"].update(type="integer"),
        "properties.location.lat: type changed from number to integer",
    ),
    (
        "format changed",
        lambda s: _props(s)["case_id"].update(format="email"),
        "properties.case_id: format changed from uuid to email",
    ),
    ("format added", lambda s: _props(s)["code"].update(format="uuid"), "properties.code: format added (uuid)"),
    (
        "nullable made non-null (anyOf member removed)",
        lambda s: _props(s).update(note={"type": "string"}),
        "properties.note: null no longer allowed (was string | null, now string)",
    ),
    (
        "$ref target changed to an incompatible model",
        lambda s: (
            s["$defs"].update(Point=copy.deepcopy(s["$defs"]["Location"])),
            s["$defs"]["Point"]["properties"]["lat"].update(maximum=80),
            _props(s)["location"].update(anyOf=[{"$ref": "#/$defs/Point"}, {"type": "null"}]),
        ),
        "properties.location.lat: maximum lowered from 90 to 80",
    ),
    (
        "$ref replaced by another type",
        lambda s: _props(s)["location"].update(anyOf=[{"type": "string"}, {"type": "null"}]),
        "properties.location: Location no longer allowed (was Location | null, now string | null)",
    ),
    (
        "enum value removed",
        lambda s: _props(s)["status"].update(enum=["open"]),
        'properties.status: enum values removed: ["closed"]',
    ),
    ("enum added", lambda s: _props(s)["code"].update(enum=["A1"]), 'properties.code: enum added (["A1"])'),
    (
        "const changed",
        lambda s: _props(s)["kind"].update(const="task"),
        'properties.kind: const changed from "case" to "task"',
    ),
    (
        "new required property",
        lambda s: (_props(s).update(priority={"type": "integer"}), s["required"].append("priority")),
        "properties.priority: new required property",
    ),
    (
        "optional became required",
        lambda s: s["required"].append("count"),
        "properties.count: changed from optional to required",
    ),
    (
        "nested optional became required",
        lambda s: s["$defs"]["Location"].update(
            properties={**s["$defs"]["Location"]["properties"], "alt": {"type": "number"}},
            required=["lat", "lon", "alt"],
        ),
        "properties.location.alt: new required property",
    ),
    (
        "additionalProperties tightened to false",
        lambda s: s.update(additionalProperties=False),
        "additionalProperties: tightened from true to false",
    ),
    (
        "additionalProperties tightened to a schema",
        lambda s: s.update(additionalProperties={"type": "string"}),
        "additionalProperties: tightened from true to a schema",
    ),
    (
        "maxLength lowered",
        lambda s: _props(s)["code"].update(maxLength=10),
        "properties.code: maxLength lowered from 20 to 10",
    ),
    (
        "minLength raised",
        lambda s: _props(s)["code"].update(minLength=3),
        "properties.code: minLength raised from 2 to 3",
    ),
    (
        "maximum lowered",
        lambda s: _props(s)["count"].update(maximum=50),
        "properties.count: maximum lowered from 100 to 50",
    ),
    ("minimum raised", lambda s: _props(s)["count"].update(minimum=1), "properties.count: minimum raised from 0 to 1"),
    (
        "nested maximum lowered",
        lambda s: s["$defs"]["Location"]["properties"]["lat"].update(maximum=80),
        "properties.location.lat: maximum lowered from 90 to 80",
    ),
    (
        "inclusive bound made exclusive",
        lambda s: (_props(s)["count"].pop("maximum"), _props(s)["count"].update(exclusiveMaximum=100)),
        "properties.count: exclusiveMaximum tightened from maximum 100 to exclusiveMaximum 100",
    ),
    (
        "maxLength added",
        lambda s: _props(s)["note"]["anyOf"][0].update(maxLength=500),
        "properties.note: maxLength added (500)",
    ),
    (
        "maxItems lowered",
        lambda s: _props(s)["tags"].update(maxItems=5),
        "properties.tags: maxItems lowered from 10 to 5",
    ),
    (
        "array item type changed",
        lambda s: _props(s)["tags"].update(items={"type": "integer"}),
        "properties.tags[]: type changed from string to integer",
    ),
    (
        "pattern changed",
        lambda s: _props(s)["code"].update(pattern="^[A-Z]+$"),
        'properties.code: pattern changed from "^[A-Z0-9]+$" to "^[A-Z]+$"',
    ),
    (
        "pattern added",
        lambda s: _props(s)["case_id"].update(pattern="^[0-9a-f-]+$"),
        'properties.case_id: pattern added ("^[0-9a-f-]+$")',
    ),
    (
        "nested property removed",
        lambda s: s["$defs"]["Location"]["properties"].pop("lon"),
        "properties.location.lon: property removed",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), [(e, m) for _, e, m in BREAKING], ids=[n for n, _, _ in BREAKING])
def test_breaking_change_is_flagged(edit: Any, expected: str) -> None:
    assert breaking_changes(BASE, _changed(edit)) == [expected]


NON_BREAKING: list[tuple[str, Any]] = [
    ("nothing changed", lambda s: None),
    ("new optional property", lambda s: _props(s).update(priority={"type": "integer", "default": 0})),
    (
        "new optional nested property",
        lambda s: s["$defs"]["Location"]["properties"].update(alt={"anyOf": [{"type": "number"}, {"type": "null"}]}),
    ),
    ("description changed", lambda s: (s.update(description="Other."), _props(s)["code"].update(description="Code."))),
    ("title changed", lambda s: (s.update(title="Renamed"), _props(s)["count"].update(title="How many"))),
    ("examples added", lambda s: _props(s)["code"].update(examples=["AB12"], example="AB12")),
    ("default changed", lambda s: _props(s)["note"].update(default="n/a")),
    ("enum value added", lambda s: _props(s)["status"].update(enum=["open", "closed", "escalated"])),
    ("enum removed entirely", lambda s: _props(s)["status"].pop("enum")),
    (
        "const widened to enum",
        lambda s: (_props(s)["kind"].pop("const"), _props(s)["kind"].update(enum=["case", "task"])),
    ),
    ("maxLength raised", lambda s: _props(s)["code"].update(maxLength=40)),
    ("minLength lowered", lambda s: _props(s)["code"].update(minLength=1)),
    ("maximum removed", lambda s: _props(s)["count"].pop("maximum")),
    ("minimum lowered", lambda s: _props(s)["count"].update(minimum=-1)),
    ("nested bound loosened", lambda s: s["$defs"]["Location"]["properties"]["lat"].update(minimum=-91)),
    ("pattern removed", lambda s: _props(s)["code"].pop("pattern")),
    ("format removed", lambda s: _props(s)["case_id"].pop("format")),
    ("required became optional", lambda s: s["required"].remove("code")),
    ("made nullable", lambda s: _props(s).update(count={"anyOf": [_props(s)["count"], {"type": "null"}]})),
    ("integer widened to number", lambda s: _props(s)["count"].update(type="number")),
    (
        "nested model renamed, same shape",
        lambda s: (
            s["$defs"].update(Point=s["$defs"].pop("Location")),
            _props(s)["location"].update(anyOf=[{"$ref": "#/$defs/Point"}, {"type": "null"}]),
        ),
    ),
]


@pytest.mark.parametrize("edit", [e for _, e in NON_BREAKING], ids=[n for n, _ in NON_BREAKING])
def test_non_breaking_change_is_accepted(edit: Any) -> None:
    assert breaking_changes(BASE, _changed(edit)) == []


def test_loosening_an_exclusive_bound_is_accepted_and_the_reverse_is_not() -> None:
    exclusive = {"type": "object", "properties": {"n": {"type": "integer", "exclusiveMaximum": 10}}}
    inclusive = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}}
    assert breaking_changes(exclusive, inclusive) == []
    assert breaking_changes(inclusive, exclusive) != []


def test_additional_properties_schema_is_compared_recursively() -> None:
    old = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 10}}
    assert breaking_changes(old, {"type": "object", "additionalProperties": {"type": "string"}}) == []
    assert breaking_changes(old, {"type": "object", "additionalProperties": {"type": "string", "maxLength": 5}}) == [
        "additionalProperties: maxLength lowered from 10 to 5"
    ]
    # Closed to start with: any change to it is a loosening.
    assert breaking_changes({"type": "object", "additionalProperties": False}, {"type": "object"}) == []


def test_recursive_models_terminate() -> None:
    tree: dict[str, Any] = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
    }
    narrowed = copy.deepcopy(tree)
    narrowed["$defs"]["Node"]["properties"]["name"]["maxLength"] = 3
    assert breaking_changes(tree, tree) == []
    assert breaking_changes(tree, narrowed) == ["properties.name: maxLength added (3)"]


def test_several_problems_are_all_reported() -> None:
    new = copy.deepcopy(BASE)
    _props(new).pop("note")
    new["required"].append("count")
    new["$defs"]["Location"]["properties"]["lat"]["maximum"] = 80
    assert sorted(breaking_changes(BASE, new)) == [
        "properties.count: changed from optional to required",
        "properties.location.lat: maximum lowered from 90 to 80",
        "properties.note: property removed",
    ]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_real_schemas_are_compatible_with_themselves_and_catch_a_removed_field(event_type: str) -> None:
    schema = EVENT_TYPES[event_type].json_schema()
    assert breaking_changes(schema, schema) == []
    first_required = schema["required"][0]
    narrowed = copy.deepcopy(schema)
    del narrowed["properties"][first_required]
    narrowed["required"].remove(first_required)
    assert breaking_changes(schema, narrowed) == [f"properties.{first_required}: property removed"]


def test_cli_needs_an_explicit_dir_outside_the_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas_module, "default_dir", lambda: None)
    with pytest.raises(SystemExit) as excinfo:
        schemas_module.main(["check"])
    assert excinfo.value.code == 2

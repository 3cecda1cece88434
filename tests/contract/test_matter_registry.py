"""The matter registry (govmesh_contracts/data/matters.json): the shipped file is valid, and a
bad file is refused at load with the file, the matter and the field named (no I/O beyond files)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from govmesh_contracts.matters import DEFAULT_FILE, MatterRegistryError, load_registry, parse_registry


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    return data


def _index(raw: dict[str, Any], code: str) -> int:
    return next(i for i, m in enumerate(raw["matters"]) if m["code"] == code)


def test_the_shipped_registry_loads_with_every_matter_of_the_one_door() -> None:
    registry = load_registry()
    assert len(registry.matters) == 19
    hazard = registry.matter("safety.hazard")
    assert hazard is not None and hazard.sla_hours == 24
    assert hazard.routing is not None and hazard.routing.by_grid_function["industrial"] == (
        "grid_worker",
        "department:emergency_management",
    )
    family = registry.matter("dispute.family")
    assert family is not None and family.mediation_category == "family" and family.routing is None


def _refused(raw: dict[str, Any]) -> str:
    with pytest.raises(MatterRegistryError) as caught:
        parse_registry(raw, "city.json")
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda raw: raw["matters"][_index(raw, "dispute.family")]["attributes"][1].update(values=[]),
            "city.json: matters[3] (dispute.family).attributes[1] (violence_suspected): "
            "Value error, a singlevaluelist attribute needs values",
        ),
        (
            lambda raw: raw["matters"][_index(raw, "dispute.labour")].update(sla_hours=0),
            "matters[5] (dispute.labour).sla_hours: Input should be greater than 0",
        ),
        (
            lambda raw: raw["matters"][0].pop("name_zh"),
            "matters[0] (public_order).name_zh: Field required",
        ),
        (
            lambda raw: raw["matters"][0].update(sla_hour=3),
            "matters[0] (public_order).sla_hour: Extra inputs are not permitted",
        ),
        (
            lambda raw: raw["matters"][0].update(code="Public Order"),
            "matters[0] (Public Order).code: String should match pattern",
        ),
        (
            lambda raw: raw["matters"][0]["attributes"][0].update(datatype="integer"),
            "matters[0] (public_order).attributes[0] (people_involved).datatype: Input should be 'string'",
        ),
        (
            lambda raw: raw["matters"][0]["attributes"][0].update(max_length=10),
            "max_length is for string and text attributes only",
        ),
        (
            lambda raw: raw["matters"][0].update(routing={"targets": ["fire_brigade"]}),
            "matters[0] (public_order).routing.targets: Value error, unknown target 'fire_brigade'",
        ),
        (
            lambda raw: raw["matters"][0].update(routing={"targets": ["department:water_board"]}),
            "matter public_order routing.targets: unknown department 'water_board' in 'department:water_board'",
        ),
        (
            lambda raw: raw["matters"][0].update(mediation_category="divorce"),
            "matters[0] (public_order).mediation_category: Input should be 'neighbour'",
        ),
        (
            lambda raw: raw["matters"].append(copy.deepcopy(raw["matters"][0])),
            "matter listed twice: public_order",
        ),
        (
            lambda raw: raw["alarm_types"].append({"word": "flood", "matter": "water.flood"}),
            "alarm_types: word 'flood' names unknown matter 'water.flood'",
        ),
    ],
)
def test_a_bad_registry_is_refused_naming_the_matter_and_the_field(change: Any, expected: str) -> None:
    raw = _raw()
    change(raw)
    assert expected in _refused(raw)


def test_every_problem_of_a_file_is_named_at_once() -> None:
    raw = _raw()
    raw["matters"][0].pop("name_en")
    raw["matters"][1].update(sla_hours=-1)
    message = _refused(raw)
    assert "matters[0] (public_order).name_en" in message and "matters[1] (community_correction).sla_hours" in message


def test_a_file_that_is_missing_or_not_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(MatterRegistryError, match=r"matter registry .*nowhere\.json: cannot be read"):
        load_registry(tmp_path / "nowhere.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"matters": [', encoding="utf-8")
    with pytest.raises(MatterRegistryError, match=r"broken\.json: not JSON"):
        load_registry(broken)


def test_a_city_file_with_one_more_matter_loads_it() -> None:
    raw = _raw()
    raw["departments"].append({"code": "water_board", "name_zh": "水务局", "name_en": "Water board"})
    raw["matters"].append(
        {
            "code": "water.leak",
            "name_zh": "供水漏损",
            "name_en": "Water leak",
            "group": "水务 water",
            "description": "A burst or leaking main.",
            "sla_hours": 6,
            "attributes": [{"code": "note", "datatype": "string", "description": "Where.", "max_length": 20}],
            "routing": {"targets": ["department:water_board"]},
        }
    )
    leak = parse_registry(raw).matter("water.leak")
    assert leak is not None and leak.attributes[0].text_limit == 20 and leak.dispatch_sla_hours is None

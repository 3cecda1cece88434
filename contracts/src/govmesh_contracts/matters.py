"""The matter registry (一门受理事项目录): every per-matter fact of the mesh in one data file.

A matter's names, the attributes a report carries (Open311 datatypes, required, limits,
choices), its deadline, who must act on it (routing targets, departments), its mediation
category and window service live in ``data/matters.json``. Intake, dispatch and mediation
each read it through :func:`registry` and keep their own view; integrators read the same
list. A city with its own list points ``GOVMESH_MATTERS_FILE`` at its file (the same value
for every service). The file is validated when it is loaded: a bad one stops the process
with the file, the matter and the field named, never a half-read list.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from govmesh_contracts.events.common import TaskTarget

#: The registry shipped with the contracts (Zhangye's one door).
DEFAULT_FILE = Path(__file__).parent / "data" / "matters.json"
#: The setting (environment variable) naming another registry file; every service reads the same one.
FILE_SETTING = "GOVMESH_MATTERS_FILE"

#: Grid functions a routing target may depend on (dispatch's grid data uses the same words).
GridFunction = Literal["residential", "commercial", "rural", "industrial", "mixed"]
#: Mediation's dispute categories (纠纷类别); "other" when a matter names none.
MediationCategory = Literal["neighbour", "family", "property", "labour", "land", "consumer", "public_order", "other"]
#: Mediation's window services (窗口服务), lighter than a dispute.
WindowService = Literal["legal_consultation", "legal_aid", "psychological_counselling"]

_CODE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
#: Text limits of the free-text datatypes when an attribute states none.
DEFAULT_MAX_LENGTH = {"string": 200, "text": 4000}


class MatterRegistryError(ValueError):
    """A registry file that cannot be used; the message names the file, the matter and the field."""


class Datatype(StrEnum):
    """Open311 GeoReport v2 attribute datatypes."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


class _Strict(BaseModel):
    # a misspelt key is an error, not a silently ignored fact
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200, description="Shown to people: Chinese, then English.")


class AttributeSpec(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    datatype: Datatype
    description: str = Field(min_length=1, max_length=500)
    required: bool = False
    values: tuple[Choice, ...] = Field(default=(), description="The choices of the list datatypes.")
    max_length: int | None = Field(default=None, gt=0, description="string/text only; default 200/4000.")
    minimum: float | None = Field(default=None, description="number only.")
    maximum: float | None = Field(default=None, description="number only.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        is_list = self.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)
        if is_list and not self.values:
            raise ValueError(f"a {self.datatype.value} attribute needs values")
        if not is_list and self.values:
            raise ValueError(f"values are for list datatypes only, not {self.datatype.value}")
        keys = [v.key for v in self.values]
        if len(set(keys)) != len(keys):
            raise ValueError("a value key is listed twice")
        if self.max_length is not None and self.datatype not in (Datatype.STRING, Datatype.TEXT):
            raise ValueError("max_length is for string and text attributes only")
        if (self.minimum is not None or self.maximum is not None) and self.datatype is not Datatype.NUMBER:
            raise ValueError("minimum and maximum are for number attributes only")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is above maximum")
        return self

    @property
    def text_limit(self) -> int:
        return self.max_length or DEFAULT_MAX_LENGTH.get(self.datatype.value, 0)


def _check_target(text: str) -> str:
    kind, _, department = text.partition(":")
    try:
        target = TaskTarget(kind)
    except ValueError:
        raise ValueError(f"unknown target {text!r}: use grid_worker, mediation, policing, department:<code>") from None
    if (target is TaskTarget.DEPARTMENT) != bool(department):
        raise ValueError(f"target {text!r}: department targets (and only they) take a code, department:<code>")
    return text


Targets = tuple[str, ...]


class RoutingSpec(_Strict):
    """Who must act on the matter; by_grid_function overrides targets on grids of that function.
    Without targets, grids of the other functions use the routing fallbacks."""

    targets: Targets | None = None
    by_grid_function: dict[GridFunction, Targets] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: Targets | None) -> Targets | None:
        return None if value is None else _valid_targets(value)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.targets is None and not self.by_grid_function:
            raise ValueError("give targets, by_grid_function or both (or leave routing out)")
        return self

    @field_validator("by_grid_function")
    @classmethod
    def _by_function(cls, value: dict[str, Targets]) -> dict[str, Targets]:
        return {function: _valid_targets(targets) for function, targets in value.items()}


def _valid_targets(targets: Targets) -> Targets:
    if not targets:
        raise ValueError("at least one target is required")
    for target in targets:
        _check_target(target)
    if len(set(targets)) != len(targets):
        raise ValueError("a target is listed twice")
    return targets


class MatterSpec(_Strict):
    code: str = Field(pattern=_CODE, max_length=64, description="Stable; dispatch routes by it.")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=200)
    group: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=1000)
    sla_hours: int = Field(gt=0, description="The case's deadline after receipt (intake sets it on the case).")
    dispatch_sla_hours: int | None = Field(
        default=None,
        gt=0,
        description="The time dispatch gives when it sets a deadline itself (a reopened case, a referral's"
        " follow-up task, a case received without one); sla_hours when absent.",
    )
    anonymous_allowed: bool = False
    keywords: tuple[str, ...] = ()
    attributes: tuple[AttributeSpec, ...] = ()
    routing: RoutingSpec | None = Field(
        default=None, description="Who acts; absent: the registry's routing fallbacks (family, then '*')."
    )
    mediation_category: MediationCategory | None = Field(
        default=None, description="The dispute category mediation files it under (other when absent)."
    )
    window_service: WindowService | None = Field(
        default=None, description="Mediation serves it as a window service rather than a dispute."
    )
    police_mediation: bool = Field(default=False, description="Police may settle it by mediation on scene.")

    @field_validator("attributes")
    @classmethod
    def _unique_attributes(cls, value: tuple[AttributeSpec, ...]) -> tuple[AttributeSpec, ...]:
        codes = [a.code for a in value]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"attribute listed twice: {', '.join(twice)}")
        return value

    @property
    def family(self) -> str:
        return self.code.split(".", 1)[0]

    def attribute(self, code: str) -> AttributeSpec | None:
        return next((a for a in self.attributes if a.code == code), None)


class Department(_Strict):
    """A department that acts on tasks without a service of its own (topic + optional webhook)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=200)


class FallbackRoute(_Strict):
    """Routing for matters without their own: a family (``dispute.*``) or everything (``*``)."""

    matter_code: str = Field(pattern=r"^(\*|[a-z][a-z0-9_]*\.\*)$")
    targets: Targets = Field(min_length=1)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: Targets) -> Targets:
        return _valid_targets(value)


class AlarmType(_Strict):
    """A word in a video alarm's type and the matter of the case it opens (first match wins)."""

    word: str = Field(min_length=1, max_length=64)
    matter: str


class MatterRegistry(_Strict):
    version: Literal[1] = 1
    _by_code: dict[str, MatterSpec] = PrivateAttr(default_factory=dict)
    departments: tuple[Department, ...]
    matters: tuple[MatterSpec, ...] = Field(min_length=1)
    routing_fallbacks: tuple[FallbackRoute, ...] = ()
    default_dispatch_sla_hours: int = Field(default=72, gt=0, description="For a matter code not in the registry.")
    alarm_types: tuple[AlarmType, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Self:
        codes = [m.code for m in self.matters]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"matter listed twice: {', '.join(twice)}")
        departments = [d.code for d in self.departments]
        if len(set(departments)) != len(departments):
            raise ValueError("a department is listed twice")
        known = set(departments)
        for where, targets in self._all_targets():
            for target in targets:
                kind, _, department = target.partition(":")
                if kind == TaskTarget.DEPARTMENT.value and department not in known:
                    raise ValueError(
                        f"{where}: unknown department {department!r} in {target!r};"
                        f" known: {', '.join(departments)} (add it to departments)"
                    )
        fallbacks = [f.matter_code for f in self.routing_fallbacks]
        if len(set(fallbacks)) != len(fallbacks):
            raise ValueError("routing_fallbacks: a matter_code is listed twice")
        for alarm in self.alarm_types:
            if alarm.matter not in codes:
                raise ValueError(f"alarm_types: word {alarm.word!r} names unknown matter {alarm.matter!r}")
        return self

    def _all_targets(self) -> list[tuple[str, Targets]]:
        found: list[tuple[str, Targets]] = []
        for matter in self.matters:
            if matter.routing is not None and matter.routing.targets is not None:
                found.append((f"matter {matter.code} routing.targets", matter.routing.targets))
            if matter.routing is not None:
                for function, targets in matter.routing.by_grid_function.items():
                    found.append((f"matter {matter.code} routing.by_grid_function.{function}", targets))
        found.extend((f"routing_fallbacks {f.matter_code}", f.targets) for f in self.routing_fallbacks)
        return found

    def model_post_init(self, context: Any, /) -> None:
        self._by_code = {m.code: m for m in self.matters}

    def matter(self, code: str) -> MatterSpec | None:
        return self._by_code.get(code)


def _where(loc: tuple[int | str, ...], raw: Any) -> str:
    """``matters[3] (dispute.family).attributes[1].values`` from a pydantic error location."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("code"), str):
                out += f" ({node['code']})"
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def parse_registry(raw: Any, source: str = "<data>") -> MatterRegistry:
    """The registry from its data form; every problem of the file in one error."""
    try:
        return MatterRegistry.model_validate(raw)
    except ValidationError as exc:
        reasons = [f"{_where(tuple(e['loc']), raw)}: {e['msg']}" for e in exc.errors()]
        raise MatterRegistryError(f"matter registry {source}: " + "; ".join(reasons)) from None


def load_registry(path: Path | str | None = None) -> MatterRegistry:
    """Read and validate a registry file (the shipped one when ``path`` is None)."""
    file = Path(path) if path else DEFAULT_FILE
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MatterRegistryError(f"matter registry {file}: cannot be read ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MatterRegistryError(f"matter registry {file}: not JSON ({exc})") from None
    return parse_registry(raw, str(file))


@cache
def registry() -> MatterRegistry:
    """The process's registry: ``GOVMESH_MATTERS_FILE`` when set, else the shipped one; read once."""
    return load_registry(os.environ.get(FILE_SETTING) or None)

"""The one-door matter taxonomy (一门受理事项): intake's view of the mesh's matter registry.

The matters themselves are data in the contracts' registry (``govmesh_contracts/data/matters.json``,
or the file ``GOVMESH_MATTERS_FILE`` names): each has a code (dispatch routes by it), names in
Chinese and English, the attributes a report must or may carry (typed as Open311
service-definition attributes, with their limits), a default SLA (the case deadline) and
whether a reporter may stay anonymous. This module keeps what intake needs of it, read once
at import; unknown matters and attributes are rejected by ``validate_attributes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from govmesh_contracts.matters import Datatype, MatterRegistry, MatterRegistryError, registry

__all__ = ["Datatype"]


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: Datatype
    description: str
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()  # (key, name) for the list datatypes
    datatype_description: str = ""
    max_length: int = 0  # string and text
    minimum: float | None = None  # number
    maximum: float | None = None


@dataclass(frozen=True)
class Matter:
    code: str
    name_zh: str
    name_en: str
    group: str
    description: str
    sla_hours: int
    anonymous_allowed: bool
    attributes: tuple[Attribute, ...] = ()
    keywords: tuple[str, ...] = field(default=())

    def attribute(self, code: str) -> Attribute | None:
        return next((a for a in self.attributes if a.code == code), None)


DEVICE_FAULT_MATTER = "video.device_fault"
VIDEO_ALARM_MATTER = "video.alarm"
#: Matters intake opens by itself (from the video bridge): a registry without them cannot serve.
OWN_MATTERS = (VIDEO_ALARM_MATTER, DEVICE_FAULT_MATTER)


def matters_of(source: MatterRegistry) -> tuple[Matter, ...]:
    """Intake's view of a registry."""
    missing = [code for code in OWN_MATTERS if source.matter(code) is None]
    if missing:
        raise MatterRegistryError(f"matter registry: intake needs the matters {', '.join(missing)} (video cases)")
    return tuple(
        Matter(
            code=m.code,
            name_zh=m.name_zh,
            name_en=m.name_en,
            group=m.group,
            description=m.description,
            sla_hours=m.sla_hours,
            anonymous_allowed=m.anonymous_allowed,
            attributes=tuple(
                Attribute(
                    code=a.code,
                    datatype=a.datatype,
                    description=a.description,
                    required=a.required,
                    values=tuple((v.key, v.name) for v in a.values),
                    max_length=a.text_limit,
                    minimum=a.minimum,
                    maximum=a.maximum,
                )
                for a in m.attributes
            ),
            keywords=m.keywords,
        )
        for m in source.matters
    )


MATTERS: tuple[Matter, ...] = matters_of(registry())

BY_CODE: dict[str, Matter] = {m.code: m for m in MATTERS}


def matter(code: str) -> Matter | None:
    return BY_CODE.get(code)


AttributeValue = str | float | int | list[str]


def validate_attributes(matter: Matter, values: dict[str, AttributeValue]) -> dict[str, str]:
    """Errors by attribute code (empty when valid): unknown, missing required, wrong datatype, not in list."""
    errors: dict[str, str] = {}
    for code, value in values.items():
        definition = matter.attribute(code)
        if definition is None:
            known = ", ".join(a.code for a in matter.attributes) or "none"
            errors[code] = f"unknown attribute for matter {matter.code} (known: {known})"
            continue
        reason = _check(definition, value)
        if reason:
            errors[code] = reason
    for definition in matter.attributes:
        if definition.required and _empty(values.get(definition.code)):
            errors.setdefault(definition.code, f"required for matter {matter.code}")
    return errors


def _empty(value: AttributeValue | None) -> bool:
    return value is None or value == "" or value == []


def _check(definition: Attribute, value: AttributeValue) -> str | None:
    keys = [k for k, _ in definition.values]
    match definition.datatype:
        case Datatype.NUMBER:
            if isinstance(value, (bool, list)):
                return "must be a number"
            try:
                number = float(value)
            except (ValueError, OverflowError):
                return "must be a number"
            if not math.isfinite(number):  # "NaN", "inf", "1e400": not numbers (stored as null before)
                return "must be a finite number (not NaN, Infinity or beyond ±1.8e308)"
            if definition.minimum is not None and number < definition.minimum:
                return f"at least {definition.minimum:g}"
            if definition.maximum is not None and number > definition.maximum:
                return f"at most {definition.maximum:g}"
        case Datatype.DATETIME:
            if not isinstance(value, str):
                return "must be an ISO 8601 date-time"
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return "must be an ISO 8601 date-time"
        case Datatype.STRING | Datatype.TEXT:
            if not isinstance(value, str):
                return "must be text"
            if len(value) > definition.max_length:
                return f"at most {definition.max_length} characters"
        case Datatype.SINGLEVALUELIST:
            if not isinstance(value, str) or value not in keys:
                return f"must be one of: {', '.join(keys)}"
        case Datatype.MULTIVALUELIST:
            items = value if isinstance(value, list) else [str(value)]
            bad = [v for v in items if v not in keys]
            if bad or not items:
                return f"each value must be one of: {', '.join(keys)}"
    return None


def normalise_attributes(matter: Matter, values: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    """Valid values in their canonical type (numbers as float, multi-value lists as lists)."""
    out: dict[str, AttributeValue] = {}
    for code, value in values.items():
        definition = matter.attribute(code)
        if definition is None or _empty(value):
            continue
        if definition.datatype is Datatype.NUMBER and not isinstance(value, list):
            out[code] = float(value)
        elif definition.datatype is Datatype.MULTIVALUELIST:
            out[code] = value if isinstance(value, list) else [str(value)]
        else:
            out[code] = value
    return out


#: Words in a video alarm's type → the matter of its case, in the registry's order (first match wins).
ALARM_TYPE_MATTERS: dict[str, str] = {a.word: a.matter for a in registry().alarm_types}


def matter_for_alarm(alarm_type: str | None) -> str:
    """The matter of a case born from a video alarm: mapped from the alarm type, else ``video.alarm``."""
    if alarm_type:
        lowered = alarm_type.lower()
        for word, code in ALARM_TYPE_MATTERS.items():
            if word in lowered:
                return code
    return VIDEO_ALARM_MATTER

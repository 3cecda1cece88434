"""The six-category grid element registry (人、地、事、物、情、组织) and its masking."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ElementCategory(StrEnum):
    PEOPLE = "people"
    PLACES = "places"
    EVENTS = "events"
    THINGS = "things"
    SITUATIONS = "situations"
    ORGANISATIONS = "organisations"


# Personal in every category (a contact person of a shop too) …
PERSONAL_KEYS = frozenset({"phone", "mobile", "id_number", "id_card", "resident_id", "contact"})
# … and, for people, also where they live and who they are.
PEOPLE_KEYS = PERSONAL_KEYS | {"name", "address", "home_address"}


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_value(key: str, value: str) -> str:
    if key in ("phone", "mobile", "contact") and len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if key in ("id_number", "id_card", "resident_id") and len(value) >= 10:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    if key == "address":
        return value[:6] + "***" if len(value) > 6 else "***"
    return mask_name(value)


def mask_element(category: ElementCategory, name: str, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A person's name and every personal attribute masked; other categories' names kept."""
    people = category is ElementCategory.PEOPLE
    personal = PEOPLE_KEYS if people else PERSONAL_KEYS
    shown_name = mask_name(name) if people else name
    shown = {
        key: mask_value(key, str(value)) if key in personal and value not in (None, "") else value
        for key, value in attributes.items()
    }
    return shown_name, shown


def personal_values(category: ElementCategory, name: str, attributes: Mapping[str, Any]) -> dict[str, str]:
    """The personal fields of a record (exactly what masking hides), named as the audit log
    names them: ``name`` and ``attributes.<key>``."""
    people = category is ElementCategory.PEOPLE
    personal = PEOPLE_KEYS if people else PERSONAL_KEYS
    values = {f"attributes.{k}": str(v) for k, v in attributes.items() if k in personal and v not in (None, "")}
    return ({"name": name} if people and name else {}) | values


def changed_fields(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The personal fields a change writes, removes or alters."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))

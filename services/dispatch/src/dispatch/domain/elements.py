"""The six-category grid element registry (人、地、事、物、情、组织) and its masking."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from govmesh_kit.masking import mask_id_number, mask_name, mask_personal_data, mask_phone


class ElementCategory(StrEnum):
    PEOPLE = "people"
    PLACES = "places"
    EVENTS = "events"
    THINGS = "things"
    SITUATIONS = "situations"
    ORGANISATIONS = "organisations"


# Personal keys of element attributes, as grid terminals write them: in English and in
# Chinese, in any case, alone or inside a longer key ("owner_phone", "紧急联系人电话").
# Each kind is masked its own way. Keys are matched by word (English) or by substring
# (Chinese); a value under a key of no kind is still scanned for phone and ID numbers.
_KINDS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    # kind: (English words, Chinese substrings)
    "id_number": (
        frozenset({"idcard", "id_card", "id_number", "id_no", "idno", "resident_id", "passport", "sfz", "sfzh"}),
        ("身份证", "证件号", "护照"),
    ),
    "phone": (
        frozenset({"phone", "mobile", "tel", "telephone", "cellphone", "contact", "wechat", "email"}),
        ("电话", "手机", "联系方式", "微信", "邮箱"),
    ),
    "name": (
        frozenset(
            {"full_name", "real_name", "contact_name", "owner_name", "person_name", "legal_person", "householder"}
        ),
        ("姓名", "联系人", "户主", "法人", "负责人", "监护人", "业主"),
    ),
    "address": (
        frozenset({"home_address", "household_address", "home_addr"}),
        ("住址", "家庭地址", "户籍", "居住地"),
    ),
}
# For people (人) also their plain name and address; a shop's "name" or "address" is not personal.
_PEOPLE_ONLY = {"name": "name", "姓名": "name", "address": "address", "addr": "address", "地址": "address"}
# a "phone" kind value that is a number (not an e-mail or a WeChat id): masked by the phone rule
_NUMBER = re.compile(r"\+?[0-9][0-9 ()-]*")


def personal_kind(key: str, *, person: bool) -> str | None:
    """The kind of personal data an attribute key names (id_number, phone, name, address), or None."""
    normal = key.strip().lower().replace("-", "_").replace(" ", "_")
    words = set(normal.split("_"))
    for kind, (english, chinese) in _KINDS.items():
        if normal in english or words & english or any(part in normal for part in chinese):
            return kind
    return _PEOPLE_ONLY.get(normal) if person else None


def mask_value(kind: str, value: str) -> str:
    """One personal value by its kind: names, phones and ID numbers by the kit's one rule."""
    if kind == "phone":
        if _NUMBER.fullmatch(value.strip()):
            return mask_phone(value)
        # an e-mail or a messenger id under a contact key: its ends only
        return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) >= 8 else "*" * len(value)
    if kind == "id_number":
        return mask_id_number(value)
    if kind == "address":
        return value[:6] + "***" if len(value) > 6 else "***"
    return mask_name(value)


def _masked(value: Any, kind: str | None, person: bool) -> Any:
    """A value shown without personal-data: nested objects and lists are masked key by key."""
    if isinstance(value, Mapping):
        return {k: _masked(v, personal_kind(str(k), person=person) or kind, person) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item, kind, person) for item in value]
    if value is None or value == "":
        return value
    if kind is not None:
        return mask_value(kind, str(value))
    return mask_personal_data(value) if isinstance(value, str) else value


def mask_element(category: ElementCategory, name: str, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A person's name and every personal attribute masked (nested ones too); other
    categories' names kept."""
    people = category is ElementCategory.PEOPLE
    shown_name = mask_name(name) if people else name
    shown = {key: _masked(value, personal_kind(key, person=people), people) for key, value in attributes.items()}
    return shown_name, shown


def personal_values(category: ElementCategory, name: str, attributes: Mapping[str, Any]) -> dict[str, str]:
    """The personal fields of a record (what masking hides by key), named as the audit log
    names them: ``name`` and ``attributes.<key>``."""
    people = category is ElementCategory.PEOPLE
    values = {
        f"attributes.{k}": str(v)
        for k, v in attributes.items()
        if v not in (None, "") and (personal_kind(k, person=people) is not None or _holds_personal(v, people))
    }
    return ({"name": name} if people and name else {}) | values


def _holds_personal(value: Any, person: bool) -> bool:
    if isinstance(value, Mapping):
        return any(
            personal_kind(str(k), person=person) is not None or _holds_personal(v, person) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_holds_personal(item, person) for item in value)
    return False


def changed_fields(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The personal fields a change writes, removes or alters."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))

"""Keep personal data out of events: mask phone numbers and resident ID numbers in free text."""

from __future__ import annotations

import re

_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")  # 18-character resident identity number
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")  # mainland mobile number
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")


def mask_personal_data(text: str) -> str:
    text = _ID_NUMBER.sub("[id-number]", text)
    text = _MOBILE.sub("[phone]", text)
    return _LANDLINE.sub("[phone]", text)


def mask_name(name: str) -> str:
    """张三丰 → 张** (a key person's name without the personal-data scope)."""
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1) if name else ""

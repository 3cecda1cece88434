"""Personal data shown without the person: one rule for names, phones and ID numbers, in a
field or inside free text, whichever service shows it (staff without the personal-data
scope, the public Open311 pages, events, logs, DLQ reasons).

Where the services' copies disagreed, the rule that protects the person won:

- a name keeps its first character and hides the rest, and a name of ONE character is
  hidden whole (``张`` → ``*``): showing "the first character" of it would show the name;
- a phone keeps its first 3 and last 4 digits (``138****5678``);
- a resident ID number keeps its first 4 (province and city, not the county of birth) and
  last 4 characters (``6207**********1234``);
- phone and ID numbers found inside free text are replaced by a placeholder (``[phone]``,
  ``[id-number]``): free text travels furthest (events, logs, public pages), so nothing of
  the number stays; landlines (``0931-8123456``) count as phones.
"""

from __future__ import annotations

import re

PHONE_PLACEHOLDER = "[phone]"
ID_NUMBER_PLACEHOLDER = "[id-number]"

# 18-character resident identity number (17 digits + a digit or X); not inside a longer token
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# mainland mobile, with an optional +86 / 86 prefix
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9])")
# landline: 0 + 2–3 digit area code, optional dash, 7–8 digits (not a group of a UUID or another id)
_LANDLINE = re.compile(r"(?<![0-9A-Za-z-])0[0-9]{2,3}-?[0-9]{7,8}(?![0-9A-Za-z-])")


def mask_name(name: str) -> str:
    """张三丰 → 张**; 张三 → 张*; Smith → S****; 张 → * (a one-character name is hidden whole)."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """13812345678 and 138-1234-5678 → 138****5678: the digits, first 3 and last 4 shown;
    fewer than 8 digits are hidden whole."""
    digits = re.sub(r"[^0-9]", "", phone)
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(id_number: str) -> str:
    """620702199001011234 → 6207**********1234: first 4 and last 4 shown; 8 characters or
    fewer are hidden whole."""
    id_number = id_number.strip()
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_personal_data(text: str) -> str:
    """Free text with every resident ID, mobile and landline number in it replaced by a placeholder."""
    text = _ID_NUMBER.sub(ID_NUMBER_PLACEHOLDER, text)
    text = _MOBILE.sub(PHONE_PLACEHOLDER, text)
    return _LANDLINE.sub(PHONE_PLACEHOLDER, text)

"""Parties to a dispute and the protection of their contact data.

Names, phone numbers and ID numbers stay in mediation's database; APIs show them
masked (``govmesh_kit.masking``); events carry only an opaque party id and the role. ``party_key`` lets session
conflict detection recognise the same person across disputes without exposing them."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from mediation.domain.disputes import DisputeRuleError


class PartyRole(StrEnum):
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    THIRD_PARTY = "third_party"


def party_key(id_number: str | None, phone: str | None, name: str) -> str:
    """A stable pseudonymous key for one person: the ID number, else the phone, else the name."""
    basis = (id_number or "").strip().upper() or re.sub(r"\D", "", phone or "") or name.strip()
    return hashlib.sha256(basis.encode()).hexdigest()


_PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def check_no_personal_data(field: str, text: str, names: list[str]) -> None:
    """Text that goes into an event must not carry a phone number, an ID number or a party's name."""
    compact = re.sub(r"[\s-]", "", text)
    if _PHONE.search(compact):
        raise DisputeRuleError(field, "contains a phone number; events carry no personal data")
    if _ID_NUMBER.search(compact):
        raise DisputeRuleError(field, "contains an ID number; events carry no personal data")
    for name in names:
        if len(name.strip()) >= 2 and name.strip() in text:
            raise DisputeRuleError(field, "contains a party's name; events carry no personal data")

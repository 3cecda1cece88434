"""Window services (窗口服务): legal consultation, legal aid, psychological counselling.

Lighter than a dispute: a request, the service given, an outcome."""

from __future__ import annotations

from enum import StrEnum

from govmesh_contracts.matters import registry
from mediation.domain.disputes import DisputeRuleError


class WindowKind(StrEnum):
    LEGAL_CONSULTATION = "legal_consultation"
    LEGAL_AID = "legal_aid"
    PSYCHOLOGICAL_COUNSELLING = "psychological_counselling"


#: Matter codes that dispatch sends to mediation as window services (the matter registry's window_service).
MATTER_KINDS: dict[str, WindowKind] = {
    m.code: WindowKind(m.window_service) for m in registry().matters if m.window_service is not None
}

#: The outcomes each kind can end with, and the task outcome each means for dispatch.
OUTCOMES: dict[WindowKind, dict[str, str]] = {
    WindowKind.LEGAL_CONSULTATION: {"advised": "done", "referred": "referred", "declined": "withdrawn"},
    WindowKind.LEGAL_AID: {"granted": "done", "refused": "done", "referred": "referred", "declined": "withdrawn"},
    WindowKind.PSYCHOLOGICAL_COUNSELLING: {"counselled": "done", "referred": "referred", "declined": "withdrawn"},
}


def window_kind_for_matter(matter_code: str) -> WindowKind | None:
    return MATTER_KINDS.get(matter_code)


def task_outcome(kind: WindowKind, outcome: str, referral_to: str | None) -> str:
    """The task outcome for a window service's outcome; checks the pair is allowed."""
    allowed = OUTCOMES[kind]
    if outcome not in allowed:
        raise DisputeRuleError("outcome", f"a {kind.value} ends as one of: {', '.join(allowed)}")
    if allowed[outcome] == "referred" and not referral_to:
        raise DisputeRuleError("referral_to", "is required when the outcome is referred")
    return allowed[outcome]

"""Unit tests of mediation's rules: plain Python, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from govmesh_kit.masking import mask_id_number, mask_name, mask_phone
from mediation.domain import disputes as rules
from mediation.domain.assignment import Candidate, area_match, choose_mediator
from mediation.domain.deliberation import Vote, check_deliberation, decision_passed
from mediation.domain.disputes import Category, DisputeRuleError, DisputeStatus, RiskLevel, Term
from mediation.domain.parties import check_no_personal_data, party_key
from mediation.domain.sessions import SessionSlot, check_slot, find_conflicts
from mediation.domain.window_services import WindowKind, task_outcome, window_kind_for_matter

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


# --- categories and risk ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matter", "category"),
    [
        ("dispute.neighbour", Category.NEIGHBOUR),
        ("dispute.family", Category.FAMILY),
        ("dispute.property", Category.PROPERTY),
        ("dispute.labour", Category.LABOUR),
        ("dispute.land", Category.LAND),
        ("dispute.consumer", Category.CONSUMER),
        ("public_order", Category.PUBLIC_ORDER),
        ("grid.report", Category.OTHER),
    ],
)
def test_the_category_comes_from_the_matter_code(matter: str, category: Category) -> None:
    assert rules.category_for_matter(matter) is category


def test_urgent_tasks_start_at_medium_risk() -> None:
    assert rules.initial_risk("urgent") is RiskLevel.MEDIUM
    assert rules.initial_risk("normal") is RiskLevel.LOW


@pytest.mark.parametrize(
    ("previous", "new", "flag"),
    [
        (RiskLevel.LOW, RiskLevel.MEDIUM, False),
        (RiskLevel.LOW, RiskLevel.HIGH, True),
        (RiskLevel.MEDIUM, RiskLevel.CRITICAL, True),
        (RiskLevel.HIGH, RiskLevel.CRITICAL, True),
        (RiskLevel.HIGH, RiskLevel.HIGH, False),
        (RiskLevel.CRITICAL, RiskLevel.HIGH, False),
    ],
)
def test_police_are_flagged_when_the_risk_rises_to_high_or_critical(
    previous: RiskLevel, new: RiskLevel, flag: bool
) -> None:
    assert rules.needs_police_flag(previous, new) is flag


# --- referrals and outcomes -------------------------------------------------------------------


@pytest.mark.parametrize("to", ["court", "legal_aid", "department:620702-HOUSING"])
def test_any_dispute_may_go_to_court_legal_aid_or_a_department(to: str) -> None:
    rules.check_referral(to, Category.NEIGHBOUR, RiskLevel.LOW)


def test_police_take_public_order_or_at_risk_disputes_only() -> None:
    rules.check_referral("policing", Category.PUBLIC_ORDER, RiskLevel.LOW)
    rules.check_referral("policing", Category.FAMILY, RiskLevel.HIGH)
    with pytest.raises(DisputeRuleError, match="public-order"):
        rules.check_referral("policing", Category.FAMILY, RiskLevel.MEDIUM)


def test_an_unknown_referral_target_is_refused_by_name() -> None:
    with pytest.raises(DisputeRuleError) as excinfo:
        rules.check_referral("the moon", Category.LAND, RiskLevel.LOW)
    assert excinfo.value.field == "referral_to"


def test_an_agreement_needs_a_mediator_terms_and_dates_not_before_signing() -> None:
    term = Term("respondent", "repair the pipe", date(2026, 12, 1))
    rules.check_agreement(DisputeStatus.IN_MEDIATION, "M-1", [term], date(2026, 11, 26))
    with pytest.raises(DisputeRuleError, match="no mediator"):
        rules.check_agreement(DisputeStatus.OPEN, None, [term], date(2026, 11, 26))
    with pytest.raises(DisputeRuleError, match="at least one term"):
        rules.check_agreement(DisputeStatus.ASSIGNED, "M-1", [], date(2026, 11, 26))
    with pytest.raises(DisputeRuleError) as excinfo:
        rules.check_agreement(DisputeStatus.ASSIGNED, "M-1", [term], date(2026, 12, 2))
    assert excinfo.value.field == "terms[0].due_on"
    with pytest.raises(DisputeRuleError, match="closed"):
        rules.check_agreement(DisputeStatus.CLOSED, "M-1", [term], date(2026, 11, 26))


def test_follow_up_needs_an_agreement_and_outstanding_terms() -> None:
    rules.check_follow_up(DisputeStatus.AGREED, {1, 2}, [2])
    with pytest.raises(DisputeRuleError, match="not outstanding"):
        rules.check_follow_up(DisputeStatus.AGREED, {1}, [3])
    with pytest.raises(DisputeRuleError, match="has none open"):
        rules.check_follow_up(DisputeStatus.IN_MEDIATION, {1}, [1])


# --- the windows (time rules) -----------------------------------------------------------------


def test_judicial_confirmation_window_is_30_days_from_signing() -> None:
    deadline = rules.confirmation_deadline(T0)
    assert deadline == T0 + timedelta(days=30)
    rules.check_confirmation_application(deadline, "open", deadline)  # the last moment still counts
    with pytest.raises(DisputeRuleError, match="window closed"):
        rules.check_confirmation_application(deadline, "open", deadline + timedelta(seconds=1))
    with pytest.raises(DisputeRuleError, match="already applied"):
        rules.check_confirmation_application(deadline, "applied", T0)
    assert not rules.confirmation_lapsed(deadline, "open", deadline)
    assert rules.confirmation_lapsed(deadline, "open", deadline + timedelta(seconds=1))
    assert not rules.confirmation_lapsed(deadline, "applied", deadline + timedelta(days=5))


def test_a_dispute_is_late_after_one_month_open_or_when_closed_after_it() -> None:
    target = rules.target_close_at(T0)
    assert target == T0 + timedelta(days=30)
    assert not rules.is_late(target, target)
    assert rules.is_late(target, target + timedelta(minutes=1))
    assert not rules.is_late(target, target + timedelta(days=9), closed_at=target - timedelta(days=1))


# --- sessions ---------------------------------------------------------------------------------


def _slot(
    start_h: float, end_h: float, mediator: str = "M-1", room: str = "room 1", parties: set[str] | None = None
) -> SessionSlot:
    return SessionSlot(
        T0 + timedelta(hours=start_h),
        T0 + timedelta(hours=end_h),
        mediator,
        "ST-1",
        room,
        frozenset(parties or set()),
        uuid.uuid4(),
    )


def test_sessions_that_touch_but_do_not_overlap_do_not_conflict() -> None:
    assert find_conflicts(_slot(1, 2), [_slot(0, 1), _slot(2, 3)]) == []


def test_the_same_mediator_at_the_same_time_conflicts() -> None:
    [conflict] = find_conflicts(_slot(1, 2, room="room 1"), [_slot(1.5, 2.5, room="room 2")])
    assert conflict.kind == "mediator"
    assert "mediator is already in session" in conflict.describe()


def test_the_same_room_at_the_same_time_conflicts() -> None:
    [conflict] = find_conflicts(_slot(1, 2, mediator="M-1"), [_slot(0.5, 1.5, mediator="M-2")])
    assert conflict.kind == "room"


def test_the_same_party_at_the_same_time_conflicts_even_elsewhere() -> None:
    mine = _slot(1, 2, mediator="M-1", room="room 1", parties={"p-a", "p-b"})
    other = _slot(1, 3, mediator="M-2", room="room 2", parties={"p-b"})
    assert [c.kind for c in find_conflicts(mine, [other])] == ["party"]
    unrelated = _slot(1, 3, mediator="M-2", room="room 2", parties={"p-c"})
    assert find_conflicts(mine, [unrelated]) == []


def test_a_slot_must_end_after_it_starts_be_in_the_future_and_use_a_studio_room() -> None:
    check_slot(_slot(1, 2), T0, ["room 1"])
    with pytest.raises(DisputeRuleError, match="after starts_at"):
        check_slot(_slot(2, 1), T0, [])
    with pytest.raises(DisputeRuleError, match="in the past"):
        check_slot(_slot(-1, 1), T0, [])
    with pytest.raises(DisputeRuleError, match="at most 8 hours"):
        check_slot(_slot(1, 10), T0, [])
    with pytest.raises(DisputeRuleError, match="no room 'room 1'"):
        check_slot(_slot(1, 2), T0, ["hall"])


# --- assignment -------------------------------------------------------------------------------


def _cand(mid: str, area: str, skills: set[str], load: int = 0, capacity: int = 10, active: bool = True) -> Candidate:
    return Candidate(mid, "ST-" + area, (area,), frozenset(skills), load, capacity, active)


GRID = "620702001001003"


def test_area_match_prefers_the_most_specific_code() -> None:
    assert area_match(GRID, ("620702001001",)) == 12
    assert area_match(GRID, ("620702001",)) == 9
    assert area_match(GRID, ("620702002001",)) == 0
    assert area_match(None, ("620702",)) == 0


def test_assignment_prefers_area_then_skill_then_load() -> None:
    community_unskilled = _cand("M-1", "620702001001", {"labour"})
    community_skilled_busy = _cand("M-2", "620702001001", {"neighbour"}, load=5)
    community_skilled_free = _cand("M-3", "620702001001", {"neighbour"}, load=1)
    township_skilled = _cand("M-4", "620702001", {"neighbour"})
    elsewhere = _cand("M-5", "620702002001", {"neighbour"})
    pool = [community_unskilled, community_skilled_busy, community_skilled_free, township_skilled, elsewhere]
    choice = choose_mediator(pool, grid_code=GRID, category="neighbour")
    assert choice is not None
    assert choice.mediator_id == "M-3"
    assert "in area" in choice.reason and "skilled in neighbour" in choice.reason
    # without community mediators the township studio is next
    choice = choose_mediator([township_skilled, elsewhere], grid_code=GRID, category="neighbour")
    assert choice is not None and choice.mediator_id == "M-4"


def test_load_is_relative_to_capacity() -> None:
    small = _cand("M-1", "620702001001", {"family"}, load=3, capacity=4)
    large = _cand("M-2", "620702001001", {"family"}, load=5, capacity=20)
    choice = choose_mediator([small, large], grid_code=GRID, category="family")
    assert choice is not None and choice.mediator_id == "M-2"


def test_full_inactive_and_conflicted_mediators_are_never_chosen() -> None:
    full = _cand("M-1", "620702001001", {"family"}, load=4, capacity=4)
    inactive = _cand("M-2", "620702001001", {"family"}, active=False)
    conflicted = _cand("M-3", "620702001001", {"family"})
    assert (
        choose_mediator([full, inactive, conflicted], grid_code=GRID, category="family", excluded=frozenset({"M-3"}))
        is None
    )
    fallback = _cand("M-9", "620702002001", set())
    choice = choose_mediator(
        [full, inactive, conflicted, fallback], grid_code=GRID, category="family", excluded=frozenset({"M-3"})
    )
    assert choice is not None and choice.mediator_id == "M-9"
    assert "outside the grid's area" in choice.reason


# --- parties ----------------------------------------------------------------------------------


def test_contact_data_is_masked() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_id_number("620702199001011234") == "6207**********1234"


def test_the_party_key_recognises_a_person_without_revealing_them() -> None:
    a = party_key("620702199001011234", "13812345678", "张三")
    assert a == party_key("620702199001011234", None, "Zhang San")
    assert "620702" not in a and len(a) == 64
    assert party_key(None, "138 1234 5678", "x") == party_key(None, "13812345678", "y")


# --- window services and deliberation ---------------------------------------------------------


def test_window_services_map_to_task_outcomes() -> None:
    assert window_kind_for_matter("legal.aid") is WindowKind.LEGAL_AID
    assert window_kind_for_matter("dispute.land") is None
    assert task_outcome(WindowKind.LEGAL_AID, "granted", None) == "done"
    assert task_outcome(WindowKind.PSYCHOLOGICAL_COUNSELLING, "referred", "department:HOSPITAL") == "referred"
    with pytest.raises(DisputeRuleError, match="referral_to"):
        task_outcome(WindowKind.LEGAL_CONSULTATION, "referred", None)
    with pytest.raises(DisputeRuleError, match="ends as one of"):
        task_outcome(WindowKind.LEGAL_CONSULTATION, "granted", None)


def test_a_deliberation_decision_passes_with_more_than_half_of_those_present() -> None:
    assert decision_passed(Vote(4, 3, 0), present=7)
    assert not decision_passed(Vote(3, 2, 1), present=6)
    check_deliberation(3, [Vote(2, 1, 0)])
    with pytest.raises(DisputeRuleError, match="at least 3"):
        check_deliberation(2, [])
    with pytest.raises(DisputeRuleError, match="more votes than participants"):
        check_deliberation(3, [Vote(3, 1, 0)])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("call him at 138 1234 5678", "phone number"),
        ("ID 62070219900101123X on file", "ID number"),
        ("张三丰 threatened the neighbour", "party's name"),
    ],
)
def test_text_bound_for_an_event_carries_no_personal_data(text: str, reason: str) -> None:
    with pytest.raises(DisputeRuleError, match=reason):
        check_no_personal_data("summary", text, ["张三丰"])


def test_ordinary_text_passes_the_personal_data_check() -> None:
    check_no_personal_data("summary", "threats over a 3 m boundary; 2 incidents since 2025", ["张三丰"])

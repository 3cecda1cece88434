"""Unit tests of intake's domain: taxonomy, checks, masking, status, bursts (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from govmesh_contracts.matters import DEFAULT_FILE, MatterRegistryError, parse_registry
from intake.domain.cases import (
    CancelNotAllowed,
    CaseStatus,
    advance,
    check_cancellable,
    check_merge_target,
    due_at,
    open311_status,
    reopen,
    within_burst,
)
from intake.domain.messages import negotiate, render
from intake.domain.taxonomy import MATTERS, matter, matter_for_alarm, matters_of, validate_attributes
from intake.domain.validation import (
    Bounds,
    phone_error,
    resident_id_error,
)

SHARED = [
    "public_order",
    "community_correction",
    "dispute.neighbour",
    "dispute.family",
    "dispute.property",
    "dispute.labour",
    "dispute.land",
    "dispute.consumer",
    "civil_affairs.relief",
    "labour.social_security",
    "legal.consultation",
    "legal.aid",
    "counselling.psychological",
    "convenience.service",
    "safety.hazard",
    "security.incident",
    "grid.report",
    "video.alarm",
    "video.device_fault",
]


def test_the_taxonomy_holds_exactly_the_agreed_matter_codes_each_complete() -> None:
    assert sorted(m.code for m in MATTERS) == sorted(SHARED)
    for m in MATTERS:
        assert m.name_zh and m.name_en and m.sla_hours > 0, m.code
        assert all(a.values for a in m.attributes if a.datatype.endswith("valuelist")), m.code
    assert matter("community_correction").anonymous_allowed is False  # type: ignore[union-attr]
    assert matter("dispute.neighbour").anonymous_allowed is True  # type: ignore[union-attr]


def test_attributes_are_checked_against_the_definition() -> None:
    hazard = matter("safety.hazard")
    assert hazard is not None
    assert validate_attributes(hazard, {"hazard_kind": ["fire", "gas"]}) == {}
    errors = validate_attributes(hazard, {"hazard_kind": ["fire", "volcano"], "colour": "red", "urgency": "now"})
    assert "each value must be one of" in errors["hazard_kind"]
    assert "unknown attribute" in errors["colour"]
    assert "must be one of: normal, urgent" in errors["urgency"]
    assert validate_attributes(hazard, {}) == {"hazard_kind": "required for matter safety.hazard"}
    dispute = matter("dispute.neighbour")
    assert dispute is not None
    assert validate_attributes(dispute, {"parties_count": "two"}) == {"parties_count": "must be a number"}
    assert validate_attributes(dispute, {"parties_count": 2, "started_at": "yesterday"}) == {
        "started_at": "must be an ISO 8601 date-time"
    }


@pytest.mark.parametrize("value", ["11010519491231002X", "440524188001010014"])
def test_valid_resident_ids_pass_the_gb11643_checksum(value: str) -> None:
    assert resident_id_error(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18 characters"),
        ("110105194913310021", "birth date"),
        ("abcdefghijklmnopqr", "18 characters"),
    ],
)
def test_bad_resident_ids_are_rejected_with_the_reason(value: str, reason: str) -> None:
    error = resident_id_error(value)
    assert error is not None and reason in error


@pytest.mark.parametrize("value", ["13812345678", "+86 138 1234 5678", "0936-8211234", "09368211234", "12345"])
def test_mainland_phones_pass(value: str) -> None:
    assert phone_error(value) is None


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "555-1234", "phone"])
def test_bad_phones_are_rejected(value: str) -> None:
    assert phone_error(value) is not None


def test_bounds_name_the_coordinate_that_is_outside() -> None:
    zhangye = Bounds(37.9, 39.9, 97.3, 102.2)
    assert zhangye.errors(38.93, 100.45) == {}
    assert set(zhangye.errors(38.5, 110.0)) == {"lon"}
    assert set(zhangye.errors(30.0, 120.0)) == {"lat", "lon"}


def test_status_moves_forward_only_and_reopen_goes_back_to_in_progress() -> None:
    assert advance(CaseStatus.RECEIVED, CaseStatus.DISPATCHED) is CaseStatus.DISPATCHED
    assert advance(CaseStatus.RESOLVED, CaseStatus.IN_PROGRESS) is CaseStatus.RESOLVED  # a late task event
    assert reopen(CaseStatus.RESOLVED) is CaseStatus.IN_PROGRESS
    assert reopen(CaseStatus.CLOSED) is CaseStatus.IN_PROGRESS
    assert [open311_status(s) for s in CaseStatus] == ["open", "open", "open", "closed", "closed", "closed"]


def test_due_at_and_bursts() -> None:
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert due_at(at, 24) == at + timedelta(days=1)
    assert within_burst(at, at + timedelta(seconds=60), 300)
    assert not within_burst(at, at + timedelta(seconds=301), 300)


def test_alarm_types_map_to_matters() -> None:
    assert matter_for_alarm("SmokeDetection") == "safety.hazard"
    assert matter_for_alarm("fight") == "security.incident"
    assert matter_for_alarm(None) == "video.alarm"
    assert matter_for_alarm("lens covered") == "video.alarm"


# --- cancellation (issue 13 item 3) -------------------------------------------------------------


def test_a_cancelled_case_is_closed_for_open311_and_no_late_event_moves_it() -> None:
    assert open311_status(CaseStatus.CANCELLED) == "closed"
    for late in (CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED):
        assert advance(CaseStatus.CANCELLED, late) is CaseStatus.CANCELLED
    assert reopen(CaseStatus.CANCELLED) is CaseStatus.CANCELLED


@pytest.mark.parametrize("status", [CaseStatus.RECEIVED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS])
def test_an_open_case_can_be_cancelled(status: CaseStatus) -> None:
    check_cancellable(status)


@pytest.mark.parametrize("status", [CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.CANCELLED])
def test_a_case_no_longer_open_cannot_be_cancelled(status: CaseStatus) -> None:
    with pytest.raises(CancelNotAllowed) as refused:
        check_cancellable(status)
    assert refused.value.args[0].text("en") == f"only an open case can be cancelled; this case is {status.value}"


def test_a_case_merges_only_into_another_existing_case_not_cancelled() -> None:
    me, other = "case-a", "case-b"
    assert check_merge_target(me, me, CaseStatus.IN_PROGRESS) == "a case cannot be merged into itself"
    assert check_merge_target(me, other, None) == "no such case: case-b"
    assert check_merge_target(me, other, CaseStatus.CANCELLED) == "case case-b is cancelled itself"
    assert check_merge_target(me, other, CaseStatus.CLOSED) is None


def test_the_cancellation_note_gives_the_reason_in_words_of_each_language() -> None:
    def note(lang: str, reason: str, merged_into: str | None = None, words: str | None = None) -> str:
        return render(lang, "cancelled", {"reason": reason, "merged_into": merged_into, "note": words})

    assert note("en", "withdrawn") == "case cancelled: withdrawn by the resident"
    assert note("en", "mis_report", words="no leak found") == "case cancelled: a mis-report (no leak found)"
    assert note("en", "merged", "620702-20261125-000042") == "case cancelled: merged into case 620702-20261125-000042"
    assert note("zh", "withdrawn") == "案件撤销：群众撤回"
    assert note("zh", "mis_report", words="未发现漏水") == "案件撤销：误报、不实反映（未发现漏水）"
    assert note("zh", "merged", "620702-20261125-000042") == "案件撤销：合并到案件 620702-20261125-000042"


def test_accept_language_picks_chinese_or_english_and_chinese_by_default() -> None:
    assert negotiate(None) == negotiate("") == negotiate("fr-FR, de;q=0.8") == "zh"
    assert negotiate("en-US,en;q=0.9") == negotiate("fr, en;q=0.5") == "en"
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == negotiate("en;q=0.2, zh-Hans") == "zh"
    assert negotiate("en;q=0") == "zh"  # q=0: not acceptable


def test_a_timeline_time_reads_as_beijing_time_in_chinese_and_iso_in_english() -> None:
    args = {"task": "5d0f2b8e", "target": "mediation", "priority": "normal", "due": "2026-12-10T08:30+00:00"}
    assert render("zh", "task_assigned", args) == "任务 5d0f2b8e 派给调解（一般），时限 2026-12-10 16:30"
    assert render("en", "task_assigned", args) == "task 5d0f2b8e for mediation (normal), due 2026-12-10T08:30+00:00"


def test_limits_stated_in_the_registry_are_enforced() -> None:
    raw = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    raw["matters"][0]["attributes"][0].update(minimum=1, maximum=500)  # public_order's people_involved
    raw["matters"][-1]["attributes"][0].update(max_length=20)  # video.device_fault's channel_id
    limited = {m.code: m for m in matters_of(parse_registry(raw))}
    order, fault = limited["public_order"], limited["video.device_fault"]
    assert validate_attributes(order, {"people_involved": 0}) == {"people_involved": "at least 1"}
    assert validate_attributes(order, {"people_involved": 501}) == {"people_involved": "at most 500"}
    assert validate_attributes(order, {"people_involved": 500}) == {}
    assert validate_attributes(fault, {"channel_id": "3" * 21}) == {"channel_id": "at most 20 characters"}
    # without a stated limit a string attribute keeps the Open311 default of 200 characters
    shipped = matter("video.device_fault")
    assert shipped is not None and validate_attributes(shipped, {"channel_id": "3" * 200}) == {}


def test_a_registry_without_the_video_matters_cannot_serve_intake() -> None:
    raw = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    raw["matters"] = [m for m in raw["matters"] if m["code"] != "video.alarm"]
    with pytest.raises(MatterRegistryError, match=r"intake needs the matters video\.alarm"):
        matters_of(parse_registry(raw))

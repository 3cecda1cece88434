"""Unit tests of dispatch's domain rules: plain Python, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.domain.assignment import WorkerLoad, choose_worker
from dispatch.domain.cases import cancellation_reason
from dispatch.domain.codes import CodeError, check_grid_chain, level_of_admin_code, next_level, parse_grid_code
from dispatch.domain.elements import ElementCategory, mask_element, personal_values
from dispatch.domain.routing import (
    Rule,
    RuleError,
    Target,
    default_sla,
    parse_rules,
    registry_rules,
    route,
    rules_to_add,
)
from dispatch.domain.tasks import (
    CaseState,
    TaskState,
    TransitionError,
    all_settled,
    cancel,
    case_cancellable,
    complete,
    escalations_due,
    referral_target,
)
from govmesh_contracts import CancelReason, Level, TaskOutcome, TaskTarget

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_a_grid_code_names_its_whole_chain() -> None:
    grid = parse_grid_code("620702001002007")
    assert (grid.community, grid.township, grid.county, grid.city) == (
        "620702001002",
        "620702001",
        "620702",
        "620700",
    )
    assert grid.admin_code(Level.TOWNSHIP) == "620702001"
    assert grid.serial == 7


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("62070200100100", "15 digits"),
        ("62070200100100A", "15 digits"),
        ("620700001001001", "county"),
        ("620702001001000", "must not be 000"),
        ("620702000001001", "must not be 000"),
    ],
)
def test_bad_grid_codes_are_refused_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(CodeError, match=reason):
        parse_grid_code(code)


def test_admin_codes_given_with_a_grid_must_match_it() -> None:
    with pytest.raises(CodeError, match="community_code"):
        check_grid_chain("620702001001001", community_code="620702001002", township_code=None, county_code=None)


def test_levels_go_up_to_the_city_and_stop() -> None:
    assert [next_level(level) for level in Level] == [Level.TOWNSHIP, Level.COUNTY, Level.CITY, None]
    assert level_of_admin_code("620700") is Level.CITY
    assert level_of_admin_code("620702") is Level.COUNTY
    assert level_of_admin_code("620702001001") is Level.COMMUNITY


RULES = parse_rules(
    [
        {"matter_code": "dispute.*", "targets": ["mediation", "grid_worker"]},
        {"matter_code": "dispute.land", "grid_function": "rural", "targets": ["mediation", "department:justice"]},
        {"matter_code": "civil_affairs.relief", "targets": ["department:civil_affairs"]},
        {"matter_code": "*", "targets": ["grid_worker"]},
    ]
)


def test_routing_picks_the_most_specific_rule() -> None:
    mediation, worker = Target(TaskTarget.MEDIATION), Target(TaskTarget.GRID_WORKER)
    assert route(RULES, "dispute.neighbour", "residential") == (mediation, worker)
    assert route(RULES, "dispute.land", "rural") == (mediation, Target(TaskTarget.DEPARTMENT, "justice"))
    assert route(RULES, "dispute.land", "commercial") == (mediation, worker)
    assert route(RULES, "civil_affairs.relief", None) == (Target(TaskTarget.DEPARTMENT, "civil_affairs"),)
    assert route(RULES, "grid.report", None) == (worker,)


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([{"matter_code": "x", "targets": ["court"]}], "unknown target"),
        ([{"matter_code": "x", "targets": ["department:mars"]}], "unknown department"),
        ([{"matter_code": "x", "targets": []}], "at least one target"),
        ([{"matter_code": "x", "grid_function": "lunar", "targets": ["grid_worker"]}], "grid function"),
        ([{"matter_code": "x", "targets": ["mediation"]}, {"matter_code": "x", "targets": ["policing"]}], "second"),
    ],
)
def test_bad_rules_are_refused(items: list[dict[str, object]], reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        parse_rules(items)


def test_rule_targets_must_be_distinct() -> None:
    with pytest.raises(RuleError, match="twice"):
        Rule("x", None, (Target(TaskTarget.MEDIATION), Target(TaskTarget.MEDIATION)))


def test_default_deadlines_by_matter_family() -> None:
    assert default_sla("security.incident") == timedelta(hours=2)
    assert default_sla("dispute.family") == timedelta(days=7)
    assert default_sla("something.new") == timedelta(days=3)


def test_one_level_up_per_missed_deadline() -> None:
    step = timedelta(hours=1)
    assert escalations_due(Level.COMMUNITY, T0, step, T0 - timedelta(seconds=1)) == []
    one = escalations_due(Level.COMMUNITY, T0, step, T0 + timedelta(minutes=59))
    assert [(e.from_level, e.to_level, e.due_at) for e in one] == [(Level.COMMUNITY, Level.TOWNSHIP, T0 + step)]
    # down for two and a half hours: three deadlines missed, three levels up, never above the city
    many = escalations_due(Level.COMMUNITY, T0, step, T0 + timedelta(hours=2, minutes=30))
    assert [e.to_level for e in many] == [Level.TOWNSHIP, Level.COUNTY, Level.CITY]
    assert escalations_due(Level.CITY, T0, step, T0 + timedelta(days=9)) == []
    assert [e.to_level for e in escalations_due(Level.COUNTY, T0, step, T0 + timedelta(days=9))] == [Level.CITY]


def test_the_grid_worker_first_then_the_community() -> None:
    own = WorkerLoad("W1", "G1", True, 3)
    neighbour = WorkerLoad("W2", "G2", True, 0)
    assert choose_worker("G1", [own, neighbour], max_load=10) == own
    assert choose_worker("G1", [WorkerLoad("W1", "G1", False, 0), neighbour], max_load=10) == neighbour
    assert choose_worker("G1", [WorkerLoad("W1", "G1", True, 10), neighbour], max_load=10) == neighbour
    assert choose_worker("G1", [WorkerLoad("W1", "G1", False, 0)], max_load=10) is None


def test_task_transitions() -> None:
    assert complete(TaskState.ACCEPTED, TaskOutcome.DONE) is TaskState.DONE
    with pytest.raises(TransitionError, match="already done"):
        complete(TaskState.DONE, TaskOutcome.DONE)
    assert all_settled([TaskState.DONE, TaskState.REFERRED, TaskState.WITHDRAWN])
    assert not all_settled([TaskState.DONE, TaskState.FAILED])
    assert not all_settled([])
    assert referral_target("policing") == Target(TaskTarget.POLICING)
    assert referral_target("legal_aid") == Target(TaskTarget.DEPARTMENT, "justice")
    assert referral_target("court") is None


def test_personal_fields_are_masked() -> None:
    name, attrs = mask_element(
        ElementCategory.PEOPLE,
        "Zhang Sanfeng",
        {"phone": "13912345678", "id_number": "620702199001011234", "age_band": "30-39"},
    )
    assert name == "Z" + "*" * 12
    assert attrs == {"phone": "139****5678", "id_number": "6207**********1234", "age_band": "30-39"}
    place, _ = mask_element(ElementCategory.PLACES, "Dongjie market", {})
    assert place == "Dongjie market"


# --- cancellation (issue 13 item 3) -------------------------------------------------------------


@pytest.mark.parametrize("state", [TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.FAILED])
def test_an_open_or_failed_task_can_be_cancelled_and_counts_as_settled(state: TaskState) -> None:
    assert cancel(state) is TaskState.CANCELLED
    assert all_settled([TaskState.DONE, cancel(state)])


@pytest.mark.parametrize("state", [TaskState.DONE, TaskState.REFERRED, TaskState.WITHDRAWN, TaskState.CANCELLED])
def test_an_ended_task_cannot_be_cancelled(state: TaskState) -> None:
    with pytest.raises(TransitionError, match=f"a {state.value} task cannot be cancelled"):
        cancel(state)


def test_only_a_case_not_closed_nor_cancelled_can_be_cancelled() -> None:
    assert [s.value for s in CaseState if case_cancellable(s)] == ["dispatched", "resolved"]


def test_a_cancelled_case_reads_its_reason_on_every_task() -> None:
    other = uuid.UUID("0b7c54a4-5a8e-4c1c-9d55-3f3b8e8f2a10")
    assert cancellation_reason(CancelReason.WITHDRAWN, None, None) == "case cancelled: withdrawn by the resident"
    assert cancellation_reason(CancelReason.MIS_REPORT, None, "wrong address") == (
        "case cancelled: a mis-report (wrong address)"
    )
    assert cancellation_reason(CancelReason.MERGED, other, None) == f"case cancelled: merged into case {other}"


def test_personal_attributes_are_masked_by_key_in_chinese_and_english_and_nested() -> None:
    attributes = {
        "身份证号": "620702199001011234",
        "电话": "13912345678",
        "Tel": "13912345679",
        "姓名": "张三丰",
        "现住址": "甘州区东街123号5单元",
        "owner_phone": "13800001111",
        "紧急联系人": {"姓名": "李四", "手机号码": "13700002222"},
        "family": [{"id_card": "620702200001011234"}],
        "备注": "邻居王五 13600003333 反映",
        "楼层": 5,
    }
    _, shown = mask_element(ElementCategory.PLACES, "东街便利店", attributes)
    assert shown == {
        "身份证号": "6207**********1234",
        "电话": "139****5678",
        "Tel": "139****5679",
        "姓名": "张**",
        "现住址": "甘州区东街1***",
        "owner_phone": "138****1111",
        "紧急联系人": {"姓名": "李*", "手机号码": "137****2222"},
        "family": [{"id_card": "6207**********1234"}],
        "备注": "邻居王五 [phone] 反映",
        "楼层": 5,
    }
    assert "620702199001011234" not in str(shown) and "13700002222" not in str(shown)
    # what is audited when shown unmasked: every personal key, nested ones through their parent
    assert set(personal_values(ElementCategory.PLACES, "东街便利店", attributes)) == {
        f"attributes.{key}"
        for key in ("身份证号", "电话", "Tel", "姓名", "现住址", "owner_phone", "紧急联系人", "family")
    }
    # a shop's own name and address are not personal; a person's are
    _, shop = mask_element(ElementCategory.PLACES, "x", {"name": "东街便利店", "address": "东街1号"})
    assert shop == {"name": "东街便利店", "address": "东街1号"}
    _, person = mask_element(ElementCategory.PEOPLE, "x", {"地址": "东街1号院3单元"})
    assert person == {"地址": "东街1号院3***"}


def test_the_registry_states_the_routing_of_every_matter() -> None:
    rules = registry_rules()
    assert route(rules, "dispute.land", "rural") == tuple(
        Target.parse(t) for t in ("mediation", "grid_worker", "department:justice")
    )
    assert route(rules, "dispute.land", "residential") == (Target(TaskTarget.MEDIATION), Target(TaskTarget.GRID_WORKER))
    assert route(rules, "safety.hazard", "industrial") == (
        Target(TaskTarget.GRID_WORKER),
        Target(TaskTarget.DEPARTMENT, "emergency_management"),
    )
    assert route(rules, "video.device_fault", None) == (Target(TaskTarget.DEPARTMENT, "video_maintenance"),)


def test_a_matter_new_to_the_registry_gets_its_rules_and_edited_rules_are_kept() -> None:
    edited = [
        Rule("legal.aid", None, (Target(TaskTarget.GRID_WORKER),)),
        Rule("*", None, (Target(TaskTarget.POLICING),)),
    ]
    stated = registry_rules()
    added = rules_to_add(edited, stated)
    assert {r.matter_code for r in added} >= {"public_order", "dispute.*", "safety.hazard"}
    assert not [r for r in added if r.matter_code in ("legal.aid", "*")]  # the REST edits stay
    assert rules_to_add(stated, stated) == []

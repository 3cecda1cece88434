"""Unit tests of policing's rules: plain Python, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from govmesh_kit.masking import mask_personal_data
from policing.domain.jurisdiction import (
    OfficerRole,
    ReferenceDataError,
    RoomSpec,
    Shift,
    check_jurisdictions,
    check_new_shifts,
    on_duty,
    parse_rooms,
)
from policing.domain.tasks import (
    InvalidTransition,
    MediationResult,
    OnDutyOfficer,
    Outcome,
    TaskRuleError,
    TaskStatus,
    check_accept,
    check_close,
    check_mediation,
    check_on_scene,
    check_route,
    choose_officer,
    mediation_outcome,
    response_figures,
    seconds_between,
)

GRIDS = ["g1", "g2", "g3", "g4"]


def room(code: str, *grids: str) -> RoomSpec:
    return RoomSpec(code, f"room {code}", "620702", grids)


def test_rooms_that_cover_every_grid_once_are_accepted() -> None:
    report = check_jurisdictions(GRIDS, [room("A", "g1", "g2"), room("B", "g3", "g4")])
    assert report.ok
    assert report.problems() == []


def test_a_gap_is_named() -> None:
    report = check_jurisdictions(GRIDS, [room("A", "g1", "g2"), room("B", "g3")])
    assert report.gaps == ["g4"]
    assert report.problems() == ["gap: 1 grid(s) covered by no room: g4"]


def test_an_overlap_names_the_grid_and_both_rooms() -> None:
    report = check_jurisdictions(GRIDS, [room("A", "g1", "g2", "g3"), room("B", "g3", "g4")])
    assert report.overlaps == {"g3": ["A", "B"]}
    assert report.problems() == ["overlap: 1 grid(s) covered by more than one room: g3 (A, B)"]


def test_a_grid_outside_the_grid_set_is_named() -> None:
    report = check_jurisdictions(GRIDS, [room("A", "g1", "g2", "g9"), room("B", "g3", "g4")])
    assert report.unknown == {"g9": ["A"]}
    assert not report.ok


def test_a_long_list_of_gaps_is_cut_with_a_count() -> None:
    grids = [f"g{n:03d}" for n in range(60)]
    problems = check_jurisdictions(grids, [room("A", "g000")]).problems(limit=3)
    assert problems == ["gap: 59 grid(s) covered by no room: g001, g002, g003, … (56 more)"]


def test_parse_rooms_reads_the_generator_format() -> None:
    rooms = parse_rooms(
        [
            {
                "room_code": "A",
                "name": "警务室",
                "county_code": "620702",
                "grid_codes": ["g1"],
                "officers": [{"officer_id": "p1", "name": "x", "role": "auxiliary", "on_duty": True}],
            }
        ]
    )
    assert rooms[0].grid_codes == ("g1",)
    assert rooms[0].officers[0].role == OfficerRole.AUXILIARY
    assert rooms[0].officers[0].on_duty is True


def test_parse_rooms_names_each_bad_field() -> None:
    with pytest.raises(ReferenceDataError) as excinfo:
        parse_rooms(
            [
                {"room_code": "A", "name": "", "county_code": "620702", "grid_codes": "g1"},
                {
                    "room_code": "A",
                    "name": "n",
                    "county_code": "620702",
                    "grid_codes": ["g1", "g1"],
                    "officers": [{"officer_id": "p1", "name": "x", "role": "chief", "on_duty": True}],
                },
            ]
        )
    assert excinfo.value.problems == [
        "police_rooms[0].name: required, a non-empty string",
        "police_rooms[0].grid_codes: must be a list of grid codes",
        "police_rooms[1].grid_codes: listed twice: g1",
        "police_rooms[1].room_code: A appears twice",
        "police_rooms[1].officers[0].role: must be officer or auxiliary, got 'chief'",
    ]


def test_an_officer_in_two_rooms_is_refused() -> None:
    officer = {"officer_id": "p1", "name": "x", "role": "officer", "on_duty": True}
    with pytest.raises(ReferenceDataError, match="p1 is also in room A"):
        parse_rooms(
            [
                {"room_code": "A", "name": "a", "county_code": "1", "grid_codes": ["g1"], "officers": [officer]},
                {"room_code": "B", "name": "b", "county_code": "1", "grid_codes": ["g2"], "officers": [officer]},
            ]
        )


def test_the_least_busy_sworn_officer_gets_the_task() -> None:
    pool = [
        OnDutyOfficer("aux", "auxiliary", 0),
        OnDutyOfficer("p2", "officer", 2),
        OnDutyOfficer("p1", "officer", 1),
    ]
    assert choose_officer(pool) == "p1"
    assert choose_officer(pool, prefer_sworn=False) == "aux"
    assert choose_officer([OnDutyOfficer("aux", "auxiliary", 5)]) == "aux"
    assert choose_officer([]) is None
    assert choose_officer([OnDutyOfficer("b", "officer", 0), OnDutyOfficer("a", "officer", 0)]) == "a"


def test_accept_needs_an_open_task_and_an_on_duty_officer_of_the_room() -> None:
    roster = {"p1": True, "p2": False}
    check_accept(TaskStatus.OPEN, "p1", roster)
    with pytest.raises(TaskRuleError, match="officer_id: p2 is not on duty"):
        check_accept(TaskStatus.OPEN, "p2", roster)
    with pytest.raises(TaskRuleError, match="officer_id: x is not an officer of the task's room"):
        check_accept(TaskStatus.OPEN, "x", roster)
    with pytest.raises(TaskRuleError, match="officer_id: required"):
        check_accept(TaskStatus.OPEN, None, roster)
    with pytest.raises(InvalidTransition, match="not routed"):
        check_accept(TaskStatus.UNROUTED, "p1", roster)
    with pytest.raises(InvalidTransition, match="only an open task"):
        check_accept(TaskStatus.ACCEPTED, "p1", roster)


def test_steps_go_in_order() -> None:
    check_on_scene(TaskStatus.ACCEPTED)
    with pytest.raises(InvalidTransition):
        check_on_scene(TaskStatus.OPEN)
    check_close(TaskStatus.ON_SCENE, Outcome.DONE, None)
    with pytest.raises(InvalidTransition, match="must be on scene before it is closed as done"):
        check_close(TaskStatus.ACCEPTED, Outcome.DONE, None)
    check_close(TaskStatus.OPEN, Outcome.REFERRED, "mediation")  # handed on without attending
    check_close(TaskStatus.OPEN, Outcome.WITHDRAWN, None)
    with pytest.raises(InvalidTransition, match="already closed"):
        check_close(TaskStatus.CLOSED, Outcome.WITHDRAWN, None)


def test_referral_needs_a_target_and_only_then() -> None:
    with pytest.raises(TaskRuleError, match="referral_to: required"):
        check_close(TaskStatus.ON_SCENE, Outcome.REFERRED, None)
    with pytest.raises(TaskRuleError, match="referral_to: only allowed"):
        check_close(TaskStatus.ON_SCENE, Outcome.DONE, "court")


def test_police_mediation_settles_or_hands_civil_disputes_back() -> None:
    assert mediation_outcome(MediationResult.SETTLED)[:2] == (Outcome.DONE, None)
    assert mediation_outcome(MediationResult.CIVIL_DISPUTE)[:2] == (Outcome.REFERRED, "mediation")
    assert mediation_outcome(MediationResult.NOT_SETTLED)[:2] == (Outcome.REFERRED, "mediation")
    check_mediation(TaskStatus.ON_SCENE, "dispatch", "dispute.neighbour")
    check_mediation(TaskStatus.ON_SCENE, "violence_risk", "dispute.violence_risk")
    with pytest.raises(TaskRuleError, match=r"matter safety\.hazard is not a dispute"):
        check_mediation(TaskStatus.ON_SCENE, "dispatch", "safety.hazard")
    with pytest.raises(TaskRuleError, match="video alarm is not a dispute"):
        check_mediation(TaskStatus.ON_SCENE, "video_alarm", "video.alarm")
    with pytest.raises(InvalidTransition, match="on scene"):
        check_mediation(TaskStatus.ACCEPTED, "dispatch", "public_order")


def test_response_figures() -> None:
    figures = response_figures(
        ["open", "accepted", "on_scene", "closed", "closed", "unrouted"], [60.0, 120.0, 30.0], [600.0, 300.0]
    )
    assert (figures.tasks, figures.open, figures.accepted, figures.on_scene, figures.closed) == (6, 2, 1, 1, 2)
    assert figures.mean_response_s == 70.0
    assert figures.median_response_s == 60.0
    assert figures.p90_response_s == 120.0
    assert figures.median_arrival_s in (300.0, 600.0)
    empty = response_figures([], [], [])
    assert empty.mean_response_s is None and empty.p90_arrival_s is None


def test_seconds_between_never_negative() -> None:
    t = datetime(2026, 11, 25, tzinfo=UTC)
    assert seconds_between(t, t + timedelta(minutes=2)) == 120.0
    assert seconds_between(t, t - timedelta(seconds=5)) == 0.0


def test_phone_and_id_numbers_are_masked() -> None:
    text = "Called 13912345678 and 0936-8212345; ID 62070219800101123X on file."
    assert mask_personal_data(text) == "Called [phone] and [phone]; ID [id-number] on file."


T0 = datetime(2026, 11, 25, 8, tzinfo=UTC)


def test_shifts_decide_duty_when_an_officer_has_any() -> None:
    day = Shift("p1", T0, T0 + timedelta(hours=8))
    assert on_duty(False, [day], T0 + timedelta(hours=1)) is True
    assert on_duty(True, [day], T0 + timedelta(hours=8)) is False  # the shift has ended: the flag does not count
    assert on_duty(True, [], T0) is True
    assert on_duty(False, [], T0) is False


def test_new_shifts_are_checked_against_the_room_and_each_other() -> None:
    existing = [Shift("p1", T0, T0 + timedelta(hours=8))]
    check_new_shifts(["p1", "p2"], existing, [Shift("p1", T0 + timedelta(hours=8), T0 + timedelta(hours=16))])
    with pytest.raises(ReferenceDataError) as excinfo:
        check_new_shifts(
            ["p1", "p2"],
            existing,
            [
                Shift("p1", T0 + timedelta(hours=7), T0 + timedelta(hours=9)),
                Shift("px", T0, T0 + timedelta(hours=1)),
                Shift("p2", T0, T0),
                Shift("p2", T0, T0 + timedelta(hours=4)),
                Shift("p2", T0 + timedelta(hours=3), T0 + timedelta(hours=5)),
            ],
        )
    assert excinfo.value.problems == [
        "shifts[0]: overlaps p1's shift 2026-11-25T08:00:00+00:00 – 2026-11-25T16:00:00+00:00",
        "shifts[1].officer_id: px is not an officer of the room",
        "shifts[2].ends_at: must be after starts_at",
        "shifts[4]: overlaps p2's shift 2026-11-25T08:00:00+00:00 – 2026-11-25T12:00:00+00:00",
    ]


def test_only_a_task_not_yet_accepted_can_be_routed() -> None:
    check_route(TaskStatus.UNROUTED, None, "A")
    check_route(TaskStatus.OPEN, "A", "B")
    with pytest.raises(TaskRuleError, match="room_code: the task is already in room A"):
        check_route(TaskStatus.OPEN, "A", "A")
    with pytest.raises(InvalidTransition):
        check_route(TaskStatus.ON_SCENE, "A", "B")

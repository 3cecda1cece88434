"""Component tests of the timeline and of video alarms: events delivered through the real consumer
processing (decode, inbox dedupe, handler, commit), the result read through the API."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from govmesh_contracts import (
    AgreementReached,
    CaseClosed,
    CaseDispatched,
    CaseEscalated,
    CaseReopened,
    CaseResolved,
    ChannelFaultCleared,
    ChannelFaultOpened,
    DisputeClosed,
    DisputeFlaggedLate,
    DisputeOpened,
    DisputeReferred,
    EvidenceAttached,
    FollowUpVisitRecorded,
    JudicialConfirmationApplied,
    JudicialConfirmationLapsed,
    Level,
    Location,
    MediationSessionCancelled,
    MediationSessionHeld,
    MediationSessionScheduled,
    MediationTaskCompleted,
    MediatorAssigned,
    PoliceTaskAccepted,
    PoliceTaskClosed,
    PoliceTaskOnScene,
    PoliceTaskOpened,
    PoliceTaskRouted,
    PolicingTaskCompleted,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskEscalated,
    TaskOutcome,
    TaskReassigned,
    TaskTarget,
    VideoAlarmRaised,
    ViolenceRiskFlagged,
)
from govmesh_contracts.events.mediation import SessionNotice
from govmesh_contracts.events.policing import PoliceTaskSource
from govmesh_contracts.events.video import EvidenceRecording
from govmesh_runtime.consumer import handler_name
from govmesh_runtime.tables import OutboxMessage
from intake.entrypoints.consumers import consumer_specs
from intake.settings import IntakeSettings

Deliver = Callable[..., Awaitable[None]]
Outbox = Callable[..., Awaitable[list[OutboxMessage]]]
CASE: dict[str, Any] = {
    "matter_code": "dispute.neighbour",
    "description": "Water leaks from above.",
    "lat": 38.93,
    "lon": 100.45,
    "attributes": {"parties_count": 2},
}
CHANNEL = "62070200001320000001"
DEVICE = "62070200001180000001"


@pytest.mark.parametrize("deliver", ["in_process", "broker"], indirect=True)
@pytest.mark.exercises("dispatch.cases.v1", "CaseDispatched", "intake")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskAssigned", "intake")
@pytest.mark.exercises("policing.task-results.v1", "PolicingTaskCompleted", "intake")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskReassigned", "intake")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskEscalated", "intake")
@pytest.mark.exercises("dispatch.cases.v1", "CaseEscalated", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "ViolenceRiskFlagged", "intake")
@pytest.mark.exercises("mediation.task-results.v1", "MediationTaskCompleted", "intake")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskCancelled", "intake")
@pytest.mark.exercises("dispatch.cases.v1", "CaseResolved", "intake")
@pytest.mark.exercises("dispatch.cases.v1", "CaseClosed", "intake")
async def test_every_hand_off_shows_in_order_with_who_has_it_and_the_status_follows(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    case_id, task, task2 = uuid.UUID(case["id"]), uuid.uuid4(), uuid.uuid4()
    t0 = datetime.now(UTC)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    async def status() -> tuple[str, str]:
        shown = (await client.get(f"/v1/cases/{case['id']}")).json()
        assert shown["handled_since"] == max(s["at"] for s in shown["timeline"] if s["actor"] == shown["handled_by"])
        return shown["status"], shown["handled_by"]

    await deliver(
        CaseDispatched(case_id=case_id, grid_code="620702001001", handled_by="centre:620700", dispatched_at=at(1))
    )
    assert await status() == ("dispatched", "centre:620700")
    await deliver(
        TaskAssigned(
            task_id=task,
            case_id=case_id,
            case_number=case["case_number"],
            matter_code=case["matter_code"],
            target=TaskTarget.POLICING,
            description="d",
            due_at=at(600),
            assigned_at=at(2),
        )
    )
    assert await status() == ("in_progress", "policing")
    await deliver(
        PolicingTaskCompleted(
            task_id=task,
            case_id=case_id,
            outcome=TaskOutcome.REFERRED,
            summary="civil matter",
            referral_to="mediation",
            completed_at=at(3),
        )
    )
    await deliver(
        TaskAssigned(
            task_id=task2,
            case_id=case_id,
            case_number=case["case_number"],
            matter_code=case["matter_code"],
            target=TaskTarget.MEDIATION,
            description="d",
            due_at=at(600),
            assigned_at=at(4),
        )
    )
    await deliver(
        TaskReassigned(
            task_id=task2,
            case_id=case_id,
            target=TaskTarget.GRID_WORKER,
            assignee="w-0007",
            reason="mediator ill",
            reassigned_at=at(5),
        )
    )
    assert await status() == ("in_progress", "grid_worker:w-0007")
    await deliver(
        TaskEscalated(
            task_id=task2,
            case_id=case_id,
            from_level=Level.COMMUNITY,
            to_level=Level.TOWNSHIP,
            centre_code="620702001",
            due_at=at(900),
            escalated_at=at(6),
        )
    )
    await deliver(
        CaseEscalated(
            case_id=case_id,
            from_level=Level.TOWNSHIP,
            to_level=Level.COUNTY,
            centre_code="620702",
            reason="overdue",
            escalated_at=at(7),
        )
    )
    assert await status() == ("in_progress", "centre:620702")
    await deliver(
        ViolenceRiskFlagged(
            dispute_id=uuid.uuid4(), case_id=case_id, risk_level="high", summary="threats", flagged_at=at(8)
        )
    )
    await deliver(
        MediationTaskCompleted(
            task_id=task2, case_id=case_id, outcome=TaskOutcome.DONE, summary="agreement performed", completed_at=at(9)
        )
    )
    await deliver(TaskCancelled(task_id=uuid.uuid4(), case_id=case_id, reason="duplicate", cancelled_at=at(10)))
    await deliver(CaseResolved(case_id=case_id, summary="leak repaired", resolved_at=at(11)))
    assert (await status())[0] == "resolved"
    await deliver(CaseClosed(case_id=case_id, satisfaction=5, closed_at=at(12)))

    shown = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert shown["status"] == "closed"
    steps = [(s["kind"], s["actor"]) for s in shown["timeline"]]
    assert steps == [
        ("received", "centre:620702"),
        ("dispatched", "centre:620700"),
        ("task_assigned", "policing"),
        ("task_completed", "policing"),
        ("task_assigned", "mediation"),
        ("task_reassigned", "grid_worker:w-0007"),
        ("task_escalated", "centre:620702001"),
        ("escalated", "centre:620702"),
        ("violence_risk_flagged", "mediation"),
        ("task_completed", "mediation"),
        ("task_cancelled", "dispatch"),
        ("resolved", "dispatch"),
        ("closed", "dispatch"),
    ]
    notes = [s["note"] for s in shown["timeline"]]
    assert "referred to mediation" in notes[3]
    assert notes[11] == "leak repaired"
    assert [s["at"] for s in shown["timeline"]] == sorted(s["at"] for s in shown["timeline"])


async def test_a_grid_workers_completion_says_how_many_photos_it_took(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    task_id, now = uuid.uuid4(), datetime.now(UTC)
    for photos, at in ((2, now), (0, now + timedelta(seconds=1))):
        await deliver(
            TaskCompleted(
                task_id=task_id,
                case_id=uuid.UUID(case["id"]),
                target=TaskTarget.GRID_WORKER,
                outcome=TaskOutcome.DONE,
                summary="light replaced",
                completed_by="W001",
                completed_at=at,
                photo_ids=[uuid.uuid4() for _ in range(photos)],
            )
        )
    english = (await client.get(f"/v1/cases/{case['id']}")).json()["timeline"]
    chinese = (await client.get(f"/v1/cases/{case['id']}", headers={"Accept-Language": "zh-CN"})).json()["timeline"]
    assert [(s["kind"], s["actor"]) for s in english[1:]] == [("task_completed", "W001")] * 2
    assert english[1]["note"] == f"task {str(task_id)[:8]} done: light replaced, with 2 photo(s) from the site"
    assert chinese[1]["note"] == f"任务 {str(task_id)[:8]} 已完成：light replaced，附现场照片 2 张"
    assert english[2]["note"] == f"task {str(task_id)[:8]} done: light replaced"  # no photos, no words about them


async def test_a_redelivered_event_shows_once(client: httpx.AsyncClient, deliver: Deliver) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    event = CaseDispatched(case_id=uuid.UUID(case["id"]), handled_by="centre:620700", dispatched_at=datetime.now(UTC))
    await deliver(event, times=3)
    shown = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert [s["kind"] for s in shown["timeline"]] == ["received", "dispatched"]


async def test_a_late_event_does_not_move_the_status_back(client: httpx.AsyncClient, deliver: Deliver) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    case_id, now = uuid.UUID(case["id"]), datetime.now(UTC)
    await deliver(CaseResolved(case_id=case_id, resolved_at=now))
    await deliver(CaseDispatched(case_id=case_id, handled_by="centre:620700", dispatched_at=now - timedelta(minutes=1)))
    assert (await client.get(f"/v1/cases/{case['id']}")).json()["status"] == "resolved"


async def test_events_of_unknown_cases_are_ignored(client: httpx.AsyncClient, deliver: Deliver) -> None:
    await deliver(CaseResolved(case_id=uuid.uuid4(), resolved_at=datetime.now(UTC)))
    assert (await client.get("/v1/cases")).json()["total"] == 0


def _alarm(at: datetime, *, channel: str = CHANNEL, alarm_type: str | None = None) -> VideoAlarmRaised:
    return VideoAlarmRaised(
        alarm_id=uuid.uuid4(),
        channel_id=channel,
        device_id=DEVICE,
        grid_code="620702001001",
        location=Location(lat=38.931, lon=100.451),
        priority=1,
        method="5",
        alarm_type=alarm_type,
        description="person loitering",
        alarm_time=at,
    )


async def test_a_burst_of_alarms_from_one_channel_becomes_one_case(
    client: httpx.AsyncClient, deliver: Deliver, outbox: Outbox
) -> None:
    t0 = datetime.now(UTC)
    for seconds in (0, 20, 45, 100):
        await deliver(_alarm(t0 + timedelta(seconds=seconds)))
    page = (await client.get("/v1/cases", params={"channel": "video"})).json()
    assert page["total"] == 1
    [summary] = page["items"]
    assert (summary["matter_code"], summary["lat"], summary["lon"]) == ("video.alarm", 38.931, 100.451)
    case = (await client.get(f"/v1/cases/{summary['id']}")).json()
    assert case["attributes"]["channel_id"] == CHANNEL
    assert [s["kind"] for s in case["timeline"]] == ["received"] + ["alarm_repeated"] * 3
    assert case["timeline"][-1]["note"] == f"alarm 4 of the burst from channel {CHANNEL}"
    assert len(await outbox("gov.intake.case.received")) == 1


async def test_alarms_after_the_window_or_from_another_channel_open_new_cases(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    t0 = datetime.now(UTC)
    await deliver(_alarm(t0))
    await deliver(_alarm(t0 + timedelta(seconds=601)))  # the burst window is 600 s
    await deliver(_alarm(t0, channel="62070200001320000002", alarm_type="FireDetection"))
    page = (await client.get("/v1/cases", params={"channel": "video"})).json()
    assert page["total"] == 3
    assert sorted(c["matter_code"] for c in page["items"]) == ["safety.hazard", "video.alarm", "video.alarm"]


async def test_alarms_never_link_to_resident_reports(client: httpx.AsyncClient, deliver: Deliver) -> None:
    body = {"matter_code": "video.alarm", "description": "d", "lat": 38.931, "lon": 100.451}
    await client.post("/v1/cases", json=body)
    await deliver(_alarm(datetime.now(UTC)))
    assert (await client.get("/v1/cases", params={"matter_code": "video.alarm"})).json()["total"] == 2


@pytest.mark.parametrize("deliver", ["in_process", "broker"], indirect=True)
@pytest.mark.exercises("mediation.disputes.v1", "DisputeOpened", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "MediatorAssigned", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "MediationSessionScheduled", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "MediationSessionHeld", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskOpened", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskAccepted", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskOnScene", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskClosed", "intake")
@pytest.mark.exercises("video.evidence.v1", "EvidenceAttached", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "AgreementReached", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "DisputeClosed", "intake")
async def test_the_dispute_file_police_task_and_video_evidence_show_on_the_case(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    case_id, dispute, police_task = uuid.UUID(case["id"]), uuid.uuid4(), uuid.uuid4()
    t0 = datetime.now(UTC)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    await deliver(
        DisputeOpened(
            dispute_id=dispute,
            case_id=case_id,
            task_id=uuid.uuid4(),
            case_number=case["case_number"],
            category="neighbour",
            risk_level="low",
            opened_at=at(1),
            target_close_at=at(60 * 24 * 30),
        )
    )
    await deliver(
        MediatorAssigned(
            dispute_id=dispute,
            case_id=case_id,
            mediator_id="M-0012",
            studio_id="ST-01",
            reason="area+skill",
            assigned_at=at(2),
        )
    )
    await deliver(
        MediationSessionScheduled(
            session_id=uuid.uuid4(),
            dispute_id=dispute,
            case_id=case_id,
            studio_id="ST-01",
            room="调解室 1",
            mediator_id="M-0012",
            starts_at=at(60 * 24),
            ends_at=at(60 * 25),
            scheduled_at=at(3),
            notices=(SessionNotice(party_id=uuid.uuid4(), role="applicant"),),
        )
    )
    await deliver(
        MediationSessionHeld(
            session_id=uuid.uuid4(), dispute_id=dispute, case_id=case_id, present=2, absent=0, held_at=at(4)
        )
    )
    await deliver(
        PoliceTaskOpened(
            police_task_id=police_task,
            source=PoliceTaskSource.VIOLENCE_RISK,
            source_ref=str(dispute),
            case_id=case_id,
            room_code="PR-620702001-A",
            priority="urgent",
            opened_at=at(5),
        )
    )
    await deliver(
        PoliceTaskAccepted(
            police_task_id=police_task,
            case_id=case_id,  # every police event names its case
            room_code="PR-620702001-A",
            officer_id="P-0003",
            accepted_at=at(6),
            response_seconds=60,
        )
    )
    await deliver(
        PoliceTaskOnScene(
            police_task_id=police_task,
            case_id=case_id,  # every police event names its case
            room_code="PR-620702001-A",
            officer_id="P-0003",
            on_scene_at=at(7),
            arrival_seconds=120,
        )
    )
    await deliver(
        PoliceTaskClosed(
            police_task_id=police_task,
            case_id=case_id,  # every police event names its case
            source=PoliceTaskSource.VIOLENCE_RISK,
            source_ref=str(dispute),
            room_code="PR-620702001-A",
            outcome=TaskOutcome.DONE,
            summary="calmed",
            closed_at=at(8),
        )
    )
    await deliver(
        EvidenceAttached(
            evidence_id=uuid.uuid4(),
            case_id=case_id,
            location=Location(lat=38.93, lon=100.45),
            radius_m=200,
            window_start=at(-30),
            window_end=at(0),
            channel_ids=[CHANNEL],
            attached_at=at(9),
            recordings=[EvidenceRecording(channel_id=CHANNEL, device_id=DEVICE, start_time=at(-30), end_time=at(0))],
            page=2,
            page_count=2,  # the second event of one search's recordings
        )
    )
    await deliver(
        AgreementReached(
            dispute_id=dispute,
            case_id=case_id,
            agreement_id=uuid.uuid4(),
            terms=2,
            last_term_due_on=date(2026, 12, 31),
            confirmation_deadline=at(60 * 24 * 30),
            reached_at=at(10),
        )
    )
    await deliver(
        DisputeClosed(
            dispute_id=dispute,
            case_id=case_id,
            category="neighbour",
            outcome=TaskOutcome.DONE,
            late=False,
            closed_at=at(11),
        )
    )
    await deliver(
        PoliceTaskAccepted(
            police_task_id=uuid.uuid4(), room_code="PR-X", officer_id="P-9", accepted_at=at(12), response_seconds=1
        )
    )  # not a task of ours: ignored
    await deliver(
        PoliceTaskOnScene(
            police_task_id=police_task,
            room_code="PR-620702001-A",
            officer_id="P-0003",
            on_scene_at=at(12),
            arrival_seconds=1,
        )
    )  # an event written before police events named their case: ignored (logged), not guessed

    shown = (await client.get(f"/v1/cases/{case['id']}")).json()
    steps = [(s["kind"], s["actor"]) for s in shown["timeline"]]
    assert steps == [
        ("received", "centre:620702"),
        ("dispute_opened", "mediation"),
        ("mediator_assigned", "mediation:ST-01"),
        ("session_scheduled", "mediation:ST-01"),
        ("session_held", "mediation"),
        ("police_task_opened", "police_room:PR-620702001-A"),
        ("police_task_accepted", "police_room:PR-620702001-A"),
        ("police_on_scene", "police_room:PR-620702001-A"),
        ("police_task_closed", "police_room:PR-620702001-A"),
        ("evidence_attached", "video"),
        ("agreement_reached", "mediation"),
        ("dispute_closed", "mediation"),
    ]
    assert shown["status"] == "in_progress"
    assert "officer P-0003 accepted" in shown["timeline"][6]["note"]
    assert "1 recordings from 1 cameras within 200 m" in shown["timeline"][9]["note"]
    assert shown["timeline"][9]["note"].endswith("(part 2 of 2)")


@pytest.mark.parametrize("deliver", ["broker"], indirect=True)
@pytest.mark.exercises("dispatch.cases.v1", "CaseReopened", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "MediationSessionCancelled", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "JudicialConfirmationApplied", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "JudicialConfirmationLapsed", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "FollowUpVisitRecorded", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "DisputeFlaggedLate", "intake")
@pytest.mark.exercises("mediation.disputes.v1", "DisputeReferred", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskRouted", "intake")
async def test_the_rest_of_a_disputes_life_and_a_rerouted_police_task_show_on_the_case(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    """Events no other test of the timeline sends, published on the real broker."""
    case = (await client.post("/v1/cases", json=CASE)).json()
    case_id, dispute, agreement, police_task = uuid.UUID(case["id"]), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0 = datetime.now(UTC)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    await deliver(CaseResolved(case_id=case_id, summary="first visit", resolved_at=at(1)))
    await deliver(CaseReopened(case_id=case_id, reason="not solved", reopened_at=at(2)))
    await deliver(
        MediationSessionCancelled(
            session_id=uuid.uuid4(), dispute_id=dispute, case_id=case_id, reason="party ill", cancelled_at=at(3)
        )
    )
    await deliver(
        JudicialConfirmationApplied(dispute_id=dispute, case_id=case_id, agreement_id=agreement, applied_at=at(4))
    )
    await deliver(
        JudicialConfirmationLapsed(
            dispute_id=dispute, case_id=case_id, agreement_id=agreement, deadline=at(5), lapsed_at=at(5)
        )
    )
    await deliver(
        FollowUpVisitRecorded(
            dispute_id=dispute,
            case_id=case_id,
            visit_id=uuid.uuid4(),
            terms_performed=1,
            terms_outstanding=1,
            visited_at=at(6),
        )
    )
    await deliver(DisputeFlaggedLate(dispute_id=dispute, case_id=case_id, target_close_at=at(6), flagged_at=at(7)))
    await deliver(
        DisputeReferred(
            dispute_id=dispute, case_id=case_id, referral_to="court", reason="no agreement", referred_at=at(8)
        )
    )
    await deliver(
        PoliceTaskOpened(
            police_task_id=police_task,
            source=PoliceTaskSource.VIOLENCE_RISK,
            source_ref=str(dispute),
            case_id=case_id,
            room_code="PR-620702001-A",
            priority="urgent",
            opened_at=at(9),
        )
    )
    await deliver(
        PoliceTaskRouted(
            police_task_id=police_task,
            case_id=case_id,  # every police event names its case
            room_code="PR-620702001-B",
            previous_room_code="PR-620702001-A",
            routed_at=at(10),
        )
    )

    shown = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert [(s["kind"], s["actor"]) for s in shown["timeline"]] == [
        ("received", "centre:620702"),
        ("resolved", "dispatch"),
        ("reopened", "dispatch"),
        ("session_cancelled", "mediation"),
        ("judicial_confirmation_applied", "court"),
        ("judicial_confirmation_lapsed", "mediation"),
        ("follow_up_visit", "mediation"),
        ("dispute_late", "mediation"),
        ("dispute_referred", "court"),
        ("police_task_opened", "police_room:PR-620702001-A"),
        ("police_task_routed", "police_room:PR-620702001-B"),
    ]
    assert shown["handled_by"] == "police_room:PR-620702001-B"
    assert "from PR-620702001-A" in shown["timeline"][-1]["note"]


# --- dead cameras: a maintenance case per outage (video.faults.v1) ------------------------------


def _fault(fault_id: uuid.UUID, offline_since: datetime) -> ChannelFaultOpened:
    return ChannelFaultOpened(
        fault_id=fault_id,
        channel_id=CHANNEL,
        device_id=DEVICE,
        channel_name="东街口 1",
        address="甘州区东街",
        grid_code="620702001001001",
        location=Location(lat=38.931, lon=100.451),
        status="OFF",
        offline_since=offline_since,
        opened_at=offline_since + timedelta(hours=1),
    )


async def test_a_camera_outage_is_one_maintenance_case_however_often_it_is_delivered(
    client: httpx.AsyncClient, deliver: Deliver, outbox: Outbox
) -> None:
    fault_id, since = uuid.uuid4(), datetime.now(UTC) - timedelta(hours=2)
    await deliver(_fault(fault_id, since))
    await deliver(_fault(fault_id, since))  # the same outage again under another event id (a replay)
    page = (await client.get("/v1/cases", params={"matter_code": "video.device_fault"})).json()
    assert page["total"] == 1
    case = (await client.get(f"/v1/cases/{page['items'][0]['id']}")).json()
    assert (case["channel"], case["grid_code"], case["attributes"]) == (
        "video",
        "620702001001001",
        {"channel_id": CHANNEL},
    )
    assert CHANNEL in case["description"] and "甘州区东街" in case["description"]
    assert len(await outbox("gov.intake.case.received")) == 1


async def test_a_camera_back_clears_its_open_case_and_only_notes_a_case_already_closed(
    client: httpx.AsyncClient, deliver: Deliver, outbox: Outbox
) -> None:
    since = datetime.now(UTC) - timedelta(hours=3)
    open_fault, closed_fault = uuid.uuid4(), uuid.uuid4()
    await deliver(_fault(open_fault, since))
    await deliver(replace_channel(_fault(closed_fault, since), "62070200001320000009"))
    cases = {
        channel: (await client.get("/v1/cases", params={"q": channel})).json()["items"][0]["id"]
        for channel in (CHANNEL, "62070200001320000009")
    }
    closed_id = uuid.UUID(cases["62070200001320000009"])
    await deliver(CaseClosed(case_id=closed_id, satisfaction=None, closed_at=since, without_feedback=True))
    back = since + timedelta(hours=3)
    for fault_id, channel in ((open_fault, CHANNEL), (closed_fault, "62070200001320000009")):
        cleared = ChannelFaultCleared(
            fault_id=fault_id, channel_id=channel, offline_since=since, reason="online", cleared_at=back
        )
        await deliver(cleared, times=2)  # a redelivery is applied once
    sent = await outbox("gov.intake.case.cleared-at-source")
    assert [m.key for m in sent] == [cases[CHANNEL]]  # only the case still in handling is cleared at the source
    open_case = (await client.get(f"/v1/cases/{cases[CHANNEL]}")).json()
    steps = [s for s in open_case["timeline"] if s["kind"] == "cleared_at_source"]
    assert len(steps) == 1 and steps[0]["note"].startswith(f"camera {CHANNEL} back online at ")
    assert steps[0]["note"].endswith("after 3.0 h offline")
    closed_case = (await client.get(f"/v1/cases/{closed_id}")).json()
    assert closed_case["status"] == "closed"
    assert "cleared_at_source" in [s["kind"] for s in closed_case["timeline"]]


def replace_channel(event: ChannelFaultOpened, channel: str) -> ChannelFaultOpened:
    return event.model_copy(update={"channel_id": channel})


def test_each_timeline_event_keeps_its_handler_name_for_the_consumer_metrics() -> None:
    """The table replaced 30 functions; the consumer's metrics and logs still name each event's handler as before."""
    timeline = next(s for s in consumer_specs(IntakeSettings()) if s.name == "intake-timeline")
    names = {event_type.__name__: handler_name(handler) for event_type, handler in timeline.handlers.items()}
    assert names == {
        "CaseDispatched": "record_case_dispatched",
        "CaseEscalated": "record_case_escalated",
        "CaseResolved": "record_case_resolved",
        "CaseClosed": "record_case_closed",
        "CaseReopened": "record_case_reopened",
        "ReturnVisitRecorded": "record_return_visit",
        "TaskAssigned": "record_task_assigned",
        "TaskReassigned": "record_task_reassigned",
        "TaskEscalated": "record_task_escalated",
        "TaskCancelled": "record_task_cancelled",
        "MediationTaskCompleted": "record_mediation_result",
        "PolicingTaskCompleted": "record_policing_result",
        "ViolenceRiskFlagged": "record_violence_risk",
        "DisputeOpened": "record_dispute_opened",
        "MediatorAssigned": "record_mediator_assigned",
        "MediationSessionScheduled": "record_session_scheduled",
        "MediationSessionCancelled": "record_session_cancelled",
        "MediationSessionHeld": "record_session_held",
        "AgreementReached": "record_agreement_reached",
        "JudicialConfirmationApplied": "record_confirmation_applied",
        "JudicialConfirmationLapsed": "record_confirmation_lapsed",
        "FollowUpVisitRecorded": "record_follow_up",
        "DisputeReferred": "record_dispute_referred",
        "DisputeFlaggedLate": "record_dispute_late",
        "DisputeClosed": "record_dispute_closed",
        "PoliceTaskOpened": "record_police_task_opened",
        "PoliceTaskRouted": "record_police_task_routed",
        "PoliceTaskAccepted": "record_police_task_accepted",
        "PoliceTaskOnScene": "record_police_on_scene",
        "PoliceTaskClosed": "record_police_task_closed",
        "EvidenceAttached": "record_evidence",
        "TaskCompleted": "record_task_completed",
    }

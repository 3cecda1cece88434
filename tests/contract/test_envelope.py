"""The CloudEvents envelope as Kafka headers, and the codec built on it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from govmesh_contracts import (
    EVENT_TYPES,
    AgreementReached,
    CancelReason,
    CaseCancelled,
    CaseClearedAtSource,
    CaseClosed,
    CaseDispatched,
    CaseEscalated,
    CaseFeedbackGiven,
    CasePersonalDataErased,
    CaseReceived,
    CaseReopened,
    CaseResolved,
    ChannelFaultCleared,
    ChannelFaultOpened,
    ChannelStatusChanged,
    DecodeError,
    DisputeClosed,
    DisputeFlaggedLate,
    DisputeOpened,
    DisputeReferred,
    Envelope,
    EnvelopeError,
    Event,
    EvidenceAttached,
    EvidenceRecording,
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
    PoliceTaskSource,
    PolicingTaskCompleted,
    ReturnVisitRecorded,
    SessionNotice,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskEscalated,
    TaskOutcome,
    TaskReassigned,
    TaskTarget,
    VideoAlarmRaised,
    ViolenceRiskFlagged,
    decode,
    encode,
    envelope_for,
    topic_for,
)

CASE_ID = uuid.UUID("0b7c54a4-5a8e-4c1c-9d55-3f3b8e8f2a10")
TASK_ID = uuid.UUID("5d0f2b8e-1c3a-4f7e-9b2d-6a8c4e1f3b57")
DISPUTE_ID = uuid.UUID("9a4e1c2b-7d3f-4e8a-b5c6-1f2e3d4c5b6a")
SESSION_ID = uuid.UUID("3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a98")
AT = datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# One sample per event type; a new event type must add its sample here.
SAMPLES: dict[str, Event] = {
    CaseReceived.event_type: CaseReceived(
        case_id=CASE_ID,
        case_number="2025-0301-000017",
        matter_code="ENV-NOISE",
        channel="hotline",
        description="Construction noise after 22:00 (施工噪音)",
        location=Location(lat=30.2741, lon=120.1551),
        address="No. 8 West Lake Road",
        received_at=AT,
        reporter_ref="rep-4411",
        due_at=AT + timedelta(days=15),
    ),
    CaseDispatched.event_type: CaseDispatched(
        case_id=CASE_ID,
        grid_code="330106001001",
        handled_by="grid-worker",
        dispatched_at=AT + timedelta(minutes=5),
    ),
    CaseFeedbackGiven.event_type: CaseFeedbackGiven(case_id=CASE_ID, satisfaction=4, solved=True, given_at=AT),
    CaseCancelled.event_type: CaseCancelled(
        case_id=CASE_ID,
        reason=CancelReason.MERGED,
        merged_into=uuid.UUID("5d0f2b8e-0000-4000-8000-000000000042"),
        cancelled_by="centre-clerk-7",
        cancelled_at=AT,
    ),
    CasePersonalDataErased.event_type: CasePersonalDataErased(case_id=CASE_ID, erased_at=AT),
    CaseEscalated.event_type: CaseEscalated(
        case_id=CASE_ID,
        from_level=Level.COMMUNITY,
        to_level=Level.TOWNSHIP,
        centre_code="620702001",
        reason="task overdue",
        escalated_at=AT,
    ),
    CaseResolved.event_type: CaseResolved(case_id=CASE_ID, resolved_at=AT),
    CaseClosed.event_type: CaseClosed(case_id=CASE_ID, satisfaction=5, closed_at=AT),
    ReturnVisitRecorded.event_type: ReturnVisitRecorded(
        case_id=CASE_ID, task_id=uuid.uuid4(), reached=True, satisfaction=4, visited_by="W001", visited_at=AT
    ),
    CaseReopened.event_type: CaseReopened(case_id=CASE_ID, reason="not solved", reopened_at=AT),
    TaskAssigned.event_type: TaskAssigned(
        task_id=TASK_ID,
        case_id=CASE_ID,
        case_number="620702-20250301-000017",
        matter_code="dispute.neighbour",
        target=TaskTarget.MEDIATION,
        grid_code="620702001001",
        description="Water leak between neighbours",
        due_at=AT + timedelta(days=30),
        assigned_at=AT,
    ),
    TaskReassigned.event_type: TaskReassigned(
        task_id=TASK_ID,
        case_id=CASE_ID,
        target=TaskTarget.GRID_WORKER,
        assignee="w-0001",
        reason="off duty",
        reassigned_at=AT,
    ),
    TaskEscalated.event_type: TaskEscalated(
        task_id=TASK_ID,
        case_id=CASE_ID,
        from_level=Level.TOWNSHIP,
        to_level=Level.COUNTY,
        centre_code="620702",
        due_at=AT + timedelta(days=1),
        escalated_at=AT,
    ),
    TaskCancelled.event_type: TaskCancelled(task_id=TASK_ID, case_id=CASE_ID, reason="duplicate", cancelled_at=AT),
    TaskCompleted.event_type: TaskCompleted(
        task_id=TASK_ID,
        case_id=CASE_ID,
        target=TaskTarget.GRID_WORKER,
        outcome=TaskOutcome.DONE,
        summary="light replaced",
        completed_by="W001",
        completed_at=AT,
        photo_ids=[uuid.UUID("9a1e4c2b-7d3f-4e5a-8b6c-0d1f2e3a4b5c")],
    ),
    MediationTaskCompleted.event_type: MediationTaskCompleted(
        task_id=TASK_ID, case_id=CASE_ID, outcome=TaskOutcome.DONE, summary="agreement performed", completed_at=AT
    ),
    PolicingTaskCompleted.event_type: PolicingTaskCompleted(
        task_id=TASK_ID,
        case_id=CASE_ID,
        outcome=TaskOutcome.REFERRED,
        summary="civil dispute",
        referral_to="mediation",
        completed_at=AT,
    ),
    PoliceTaskOpened.event_type: PoliceTaskOpened(
        police_task_id=TASK_ID,
        source=PoliceTaskSource.DISPATCH,
        source_ref=str(TASK_ID),
        case_id=CASE_ID,
        grid_code="620702001001001",
        room_code="PR-620702001",
        officer_id="P-0001",
        opened_at=AT,
    ),
    PoliceTaskRouted.event_type: PoliceTaskRouted(
        police_task_id=TASK_ID, room_code="PR-620702001", officer_id="P-0001", routed_at=AT
    ),
    PoliceTaskAccepted.event_type: PoliceTaskAccepted(
        police_task_id=TASK_ID, room_code="PR-620702001", officer_id="P-0001", accepted_at=AT, response_seconds=95.0
    ),
    PoliceTaskOnScene.event_type: PoliceTaskOnScene(
        police_task_id=TASK_ID, room_code="PR-620702001", officer_id="P-0001", on_scene_at=AT, arrival_seconds=600.0
    ),
    PoliceTaskClosed.event_type: PoliceTaskClosed(
        police_task_id=TASK_ID,
        source=PoliceTaskSource.DISPATCH,
        source_ref=str(TASK_ID),
        case_id=CASE_ID,
        room_code="PR-620702001",
        outcome=TaskOutcome.REFERRED,
        referral_to="mediation",
        summary="civil dispute handed back to people's mediation",
        closed_at=AT,
    ),
    ViolenceRiskFlagged.event_type: ViolenceRiskFlagged(
        dispute_id=TASK_ID, case_id=CASE_ID, risk_level="high", summary="threats", flagged_at=AT
    ),
    DisputeOpened.event_type: DisputeOpened(
        dispute_id=DISPUTE_ID,
        case_id=CASE_ID,
        task_id=TASK_ID,
        case_number="620702-20250301-000017",
        category="neighbour",
        grid_code="620702001001001",
        risk_level="low",
        opened_at=AT,
        target_close_at=AT + timedelta(days=30),
    ),
    MediatorAssigned.event_type: MediatorAssigned(
        dispute_id=DISPUTE_ID,
        case_id=CASE_ID,
        mediator_id="M-0001",
        studio_id="ST-620702001001",
        reason="area and skill, lowest load",
        assigned_at=AT,
    ),
    MediationSessionScheduled.event_type: MediationSessionScheduled(
        session_id=SESSION_ID,
        dispute_id=DISPUTE_ID,
        case_id=CASE_ID,
        studio_id="ST-620702001001",
        room="room 1",
        mediator_id="M-0001",
        starts_at=AT + timedelta(days=2),
        ends_at=AT + timedelta(days=2, hours=1),
        notices=(SessionNotice(party_id=TASK_ID, role="applicant"), SessionNotice(party_id=CASE_ID, role="respondent")),
        scheduled_at=AT,
    ),
    MediationSessionCancelled.event_type: MediationSessionCancelled(
        session_id=SESSION_ID, dispute_id=DISPUTE_ID, case_id=CASE_ID, reason="respondent ill", cancelled_at=AT
    ),
    MediationSessionHeld.event_type: MediationSessionHeld(
        session_id=SESSION_ID, dispute_id=DISPUTE_ID, case_id=CASE_ID, present=2, absent=0, held_at=AT
    ),
    AgreementReached.event_type: AgreementReached(
        dispute_id=DISPUTE_ID,
        case_id=CASE_ID,
        agreement_id=SESSION_ID,
        terms=2,
        last_term_due_on=date(2025, 3, 15),
        confirmation_deadline=AT + timedelta(days=30),
        reached_at=AT,
    ),
    JudicialConfirmationApplied.event_type: JudicialConfirmationApplied(
        dispute_id=DISPUTE_ID, case_id=CASE_ID, agreement_id=SESSION_ID, applied_at=AT
    ),
    JudicialConfirmationLapsed.event_type: JudicialConfirmationLapsed(
        dispute_id=DISPUTE_ID, case_id=CASE_ID, agreement_id=SESSION_ID, deadline=AT, lapsed_at=AT
    ),
    FollowUpVisitRecorded.event_type: FollowUpVisitRecorded(
        dispute_id=DISPUTE_ID,
        case_id=CASE_ID,
        visit_id=SESSION_ID,
        terms_performed=1,
        terms_outstanding=1,
        visited_at=AT,
    ),
    DisputeReferred.event_type: DisputeReferred(
        dispute_id=DISPUTE_ID,
        case_id=CASE_ID,
        referral_to="court",
        reason="no agreement after two sessions",
        referred_at=AT,
    ),
    DisputeFlaggedLate.event_type: DisputeFlaggedLate(
        dispute_id=DISPUTE_ID, case_id=CASE_ID, target_close_at=AT, flagged_at=AT
    ),
    DisputeClosed.event_type: DisputeClosed(
        dispute_id=DISPUTE_ID, case_id=CASE_ID, category="neighbour", outcome=TaskOutcome.DONE, late=False, closed_at=AT
    ),
    VideoAlarmRaised.event_type: VideoAlarmRaised(
        alarm_id=TASK_ID,
        channel_id="62070200001310000001",
        device_id="62070200001180000001",
        priority=1,
        method="5",
        alarm_time=AT,
    ),
    ChannelStatusChanged.event_type: ChannelStatusChanged(
        channel_id="62070200001310000001",
        device_id="62070200001180000001",
        online=False,
        status="OFF",
        reason="keepalive-timeout",
        changed_at=AT,
    ),
    EvidenceAttached.event_type: EvidenceAttached(
        evidence_id=TASK_ID,
        case_id=CASE_ID,
        location=Location(lat=38.93, lon=100.45),
        radius_m=200.0,
        window_start=AT - timedelta(minutes=30),
        window_end=AT,
        channel_ids=["62070200001310000001"],
        recordings=[
            EvidenceRecording(
                channel_id="62070200001310000001",
                device_id="62070200001180000001",
                start_time=AT - timedelta(minutes=30),
                end_time=AT,
                record_type="time",
            )
        ],
        attached_at=AT,
        page=2,
        page_count=3,
        requested_by="video-bridge",
    ),
    ChannelFaultOpened.event_type: ChannelFaultOpened(
        fault_id=TASK_ID,
        channel_id="62070200001310000001",
        device_id="62070200001180000001",
        channel_name="东街口 1",
        grid_code="620702001001001",
        location=Location(lat=38.93, lon=100.45),
        status="OFF",
        offline_since=AT - timedelta(hours=2),
        opened_at=AT,
    ),
    ChannelFaultCleared.event_type: ChannelFaultCleared(
        fault_id=TASK_ID,
        channel_id="62070200001310000001",
        offline_since=AT - timedelta(hours=2),
        reason="online",
        cleared_at=AT,
    ),
    CaseClearedAtSource.event_type: CaseClearedAtSource(
        case_id=CASE_ID, note="camera 62070200001310000001 back online", cleared_by="video-bridge", cleared_at=AT
    ),
}


def _envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {
        "id": "evt-1",
        "source": "/govmesh/intake",
        "type": CaseReceived.event_type,
        "time": AT,
        "subject": str(CASE_ID),
        "dataschema": "https://govmesh.example/schemas/gov.intake.case.received.json",
        "correlationid": "evt-0",
        "causationid": "evt-0",
        "traceparent": TRACEPARENT,
    }
    fields.update(overrides)
    return Envelope.model_validate(fields)


def _headers(**replace: bytes | None) -> list[tuple[str, bytes]]:
    """The headers of a valid envelope, with some replaced (None drops the header)."""
    headers = dict(_envelope().to_headers())
    for name, value in replace.items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return list(headers.items())


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)
    for event_type, event in SAMPLES.items():
        assert isinstance(event, EVENT_TYPES[event_type])


# --- envelope ---------------------------------------------------------------------------------


def test_envelope_round_trips_through_headers() -> None:
    envelope = _envelope()
    headers = envelope.to_headers()
    assert Envelope.from_headers(headers) == envelope
    assert Envelope.from_headers(tuple(headers)) == envelope  # aiokafka hands headers over as a tuple


def test_headers_use_the_ce_prefix_and_utf8() -> None:
    headers = dict(_envelope().to_headers())
    assert headers["ce_id"] == b"evt-1"
    assert headers["ce_type"] == b"gov.intake.case.received"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_subject"] == str(CASE_ID).encode()
    assert headers["ce_traceparent"] == TRACEPARENT.encode()
    assert datetime.fromisoformat(headers["ce_time"].decode()) == AT
    assert "ce_datacontenttype" not in headers


def test_unset_attributes_are_absent_headers() -> None:
    headers = dict(_envelope(subject=None, causationid=None, traceparent=None, dataschema=None).to_headers())
    assert {"ce_subject", "ce_causationid", "ce_traceparent", "ce_dataschema"}.isdisjoint(headers)


def test_datacontenttype_maps_to_the_content_type_header() -> None:
    headers = dict(_envelope().to_headers())
    assert headers["content-type"] == b"application/json"
    parsed = Envelope.from_headers(_headers(**{"content-type": b"application/cloudevents+json"}))
    assert parsed.datacontenttype == "application/cloudevents+json"
    # Without the header the binding's default applies.
    assert Envelope.from_headers(_headers(**{"content-type": None})).datacontenttype == "application/json"


def test_non_ce_headers_and_unknown_extensions_are_ignored() -> None:
    headers = [*_headers(), ("x-retry", b"3"), ("ce_partitionkey", b"abc")]
    assert Envelope.from_headers(headers) == _envelope()


def test_time_is_normalised_to_utc() -> None:
    plus8 = timezone(timedelta(hours=8))
    parsed = Envelope.from_headers(_headers(ce_time=b"2025-03-01T16:30:15.123456+08:00"))
    assert parsed.time == AT
    assert parsed.time.tzinfo == UTC
    assert _envelope(time=AT.astimezone(plus8)).time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"ce_specversion": None}, "ce_specversion must be '1.0', got None"),
        ({"ce_specversion": b"0.3"}, "ce_specversion must be '1.0', got '0.3'"),
        ({"ce_time": b"2025-03-01T08:30:15"}, "time must be timezone-aware"),
        ({"ce_time": b"yesterday"}, "time"),
        ({"ce_id": None}, "'id'"),
        ({"ce_id": b""}, "'id'"),
        ({"ce_source": None}, "'source'"),
        ({"ce_type": None}, "'type'"),
        ({"ce_subject": b"\xff\xfe"}, "header is not UTF-8"),
    ],
    ids=[
        "specversion-missing",
        "specversion-wrong",
        "time-naive",
        "time-garbage",
        "id-missing",
        "id-empty",
        "source-missing",
        "type-missing",
        "not-utf8",
    ],
)
def test_invalid_headers_raise_envelope_error(replace: dict[str, bytes | None], message: str) -> None:
    with pytest.raises(EnvelopeError) as excinfo:
        Envelope.from_headers(_headers(**replace))
    assert message in str(excinfo.value)


def test_invalid_traceparent_is_dropped_and_a_valid_one_kept() -> None:
    new = Envelope.new(source="/govmesh/intake", type=CaseReceived.event_type, traceparent="not-a-traceparent")
    assert new.traceparent is None
    upper = TRACEPARENT.upper()  # W3C trace context is lowercase hex
    assert Envelope.new(source="/x", type=CaseReceived.event_type, traceparent=upper).traceparent is None
    assert Envelope.new(source="/x", type=CaseReceived.event_type, traceparent=TRACEPARENT).traceparent == TRACEPARENT

    assert Envelope.from_headers(_headers(ce_traceparent=b"00-garbage", traceparent=None)).traceparent is None
    assert Envelope.from_headers(_headers()).traceparent == TRACEPARENT


def test_the_trace_context_also_travels_as_a_plain_w3c_header() -> None:
    # OpenTelemetry's Kafka instrumentations read and write a plain ``traceparent`` header.
    headers = dict(_envelope().to_headers())
    assert headers["traceparent"] == headers["ce_traceparent"] == TRACEPARENT.encode()
    assert "traceparent" not in dict(_envelope(traceparent=None).to_headers())
    # A record from such a producer (no ce_traceparent) keeps its trace; ce_traceparent wins when both.
    other = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert Envelope.from_headers(_headers(ce_traceparent=None, traceparent=other.encode())).traceparent == other
    assert Envelope.from_headers(_headers(traceparent=other.encode())).traceparent == TRACEPARENT
    assert Envelope.from_headers(_headers(ce_traceparent=None, traceparent=b"00-garbage")).traceparent is None


def test_time_is_optional_as_cloudevents_says() -> None:
    parsed = Envelope.from_headers(_headers(ce_time=None))
    assert parsed.time is None
    assert "ce_time" not in dict(parsed.to_headers())
    assert Envelope.new(source="/govmesh/intake", type=CaseReceived.event_type).time is not None


def test_correlation_id_defaults_to_the_event_id() -> None:
    first = Envelope.new(source="/govmesh/intake", type=CaseReceived.event_type)
    assert first.correlationid == first.id
    assert first.causationid is None
    follow_up = Envelope.new(
        source="/govmesh/dispatch",
        type=CaseDispatched.event_type,
        correlationid=first.correlationid,
        causationid=first.id,
    )
    assert follow_up.correlationid == first.id
    assert follow_up.causationid == first.id
    assert follow_up.id != first.id


def test_new_envelope_has_a_fresh_id_and_an_aware_utc_time() -> None:
    a = Envelope.new(source="/govmesh/intake", type=CaseReceived.event_type)
    b = Envelope.new(source="/govmesh/intake", type=CaseReceived.event_type)
    assert a.id != b.id
    uuid.UUID(a.id)
    assert a.time.tzinfo == UTC
    assert a.specversion == "1.0"


def test_envelope_is_frozen_and_closed() -> None:
    envelope = _envelope()
    with pytest.raises(ValueError, match="frozen"):
        envelope.id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        _envelope(unknown="x")


# --- codec ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_encode_decode_round_trip(event_type: str) -> None:
    event = SAMPLES[event_type]
    envelope = envelope_for(event, source="/govmesh/test", traceparent=TRACEPARENT)
    record = encode(event, envelope)

    assert record.topic == topic_for(type(event)).name
    aggregate_id = str(getattr(event, event.key_field))
    assert record.key == aggregate_id.encode()  # the aggregate id
    headers = dict(record.headers)
    assert headers["ce_type"] == event_type.encode()
    assert headers["ce_subject"] == aggregate_id.encode()
    assert headers["ce_dataschema"] == f"https://govmesh.example/schemas/{event_type}.json".encode()
    assert json.loads(record.value)[event.key_field] == aggregate_id

    decoded_envelope, decoded = decode(record.headers, record.value)
    assert decoded_envelope == envelope
    assert decoded == event
    assert type(decoded) is type(event)


def _record_parts(event: Event) -> tuple[list[tuple[str, bytes]], bytes]:
    record = encode(event, envelope_for(event, source="/govmesh/test"))
    return record.headers, record.value


def test_decode_unknown_type() -> None:
    headers, value = _record_parts(SAMPLES[CaseReceived.event_type])
    headers = [(k, b"gov.intake.case.teleported" if k == "ce_type" else v) for k, v in headers]
    with pytest.raises(DecodeError, match=r"unknown event type 'gov\.intake\.case\.teleported'"):
        decode(headers, value)


@pytest.mark.parametrize("value", [b"{not json", b"\xff\xfe\x00", b""], ids=["broken", "not-utf8", "empty"])
def test_decode_invalid_json(value: bytes) -> None:
    headers, _ = _record_parts(SAMPLES[CaseReceived.event_type])
    with pytest.raises(DecodeError, match=r"payload is not a valid gov\.intake\.case\.received"):
        decode(headers, value)


@pytest.mark.parametrize(
    "value", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000], ids=["array", "object"]
)
def test_decode_json_nested_too_deep_is_a_decode_error_not_a_recursion_error(value: bytes) -> None:
    headers, _ = _record_parts(SAMPLES[CaseReceived.event_type])
    with pytest.raises(DecodeError, match="maximum recursion depth"):
        decode(headers, value)


def test_decode_null_value() -> None:
    headers, _ = _record_parts(SAMPLES[CaseReceived.event_type])
    with pytest.raises(DecodeError, match="empty value"):
        decode(headers, None)


def test_decode_payload_missing_a_required_field_names_it() -> None:
    headers, value = _record_parts(SAMPLES[CaseReceived.event_type])
    payload = json.loads(value)
    del payload["case_number"]
    with pytest.raises(DecodeError) as excinfo:
        decode(headers, json.dumps(payload).encode())
    assert "gov.intake.case.received" in str(excinfo.value)
    assert "case_number" in str(excinfo.value)
    assert "Field required" in str(excinfo.value)


def test_decode_payload_of_a_wrong_type_names_the_field() -> None:
    headers, value = _record_parts(SAMPLES[CaseDispatched.event_type])
    payload = json.loads(value)
    payload["case_id"] = "not-a-uuid"
    with pytest.raises(DecodeError, match="case_id"):
        decode(headers, json.dumps(payload).encode())


def test_decode_invalid_headers_is_a_decode_error() -> None:
    headers, value = _record_parts(SAMPLES[CaseReceived.event_type])
    headers = [(k, v) for k, v in headers if k != "ce_specversion"]
    with pytest.raises(DecodeError, match="ce_specversion"):
        decode(headers, value)


def test_decode_accepts_unknown_payload_fields() -> None:
    # Forward compatibility: a newer producer may add optional fields this consumer does not know.
    event = SAMPLES[CaseReceived.event_type]
    headers, value = _record_parts(event)
    payload = json.loads(value)
    payload["reported_by_drone"] = True
    payload["location"]["alt"] = 12.5
    _, decoded = decode(headers, json.dumps(payload).encode())
    assert decoded == event


def test_decode_fills_optional_fields_missing_from_an_older_producer() -> None:
    event = SAMPLES[CaseDispatched.event_type]
    headers, value = _record_parts(event)
    payload = json.loads(value)
    del payload["note"]
    del payload["grid_code"]
    _, decoded = decode(headers, json.dumps(payload).encode())
    assert isinstance(decoded, CaseDispatched)
    assert decoded.grid_code is None
    assert decoded.note is None

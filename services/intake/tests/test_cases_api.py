"""Component tests of the native REST API v1: intake in-process (ASGI), its own SQLite database."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from support import auth_headers

from govmesh_contracts import CaseClosed, CaseDispatched, CaseReopened, CaseResolved
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import OutboxMessage
from intake.adapters.tables import CaseRow, ReporterRow

Deliver = Callable[..., Awaitable[None]]
Outbox = Callable[..., Awaitable[list[OutboxMessage]]]
Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
# A neighbour dispute in Ganzhou district, Zhangye.
CASE: dict[str, Any] = {
    "matter_code": "dispute.neighbour",
    "description": "Water leaks from above.",
    "lat": 38.93,
    "lon": 100.45,
    "attributes": {"parties_count": 2},
}

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
# A hotline desk: reads and writes cases, everywhere, without the personal-data scope.
STAFF = auth_headers(["cases:read", "cases:create"], subject="hotline-desk")


async def test_create_case_returns_the_case_with_number_location_deadline_and_timeline(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/cases", json=CASE)
    assert response.status_code == 201, response.text
    case = response.json()
    assert re.fullmatch(r"620702-\d{8}-\d{6}", case["case_number"])
    assert (case["status"], case["channel"], case["outcome"]) == ("received", "api", "created")
    assert case["attributes"] == {"parties_count": 2.0}
    received = datetime.fromisoformat(case["received_at"])
    assert datetime.fromisoformat(case["due_at"]) - received == timedelta(hours=360)  # the matter's SLA
    assert response.headers["location"].endswith(f"/v1/cases/{case['id']}")
    assert [step["kind"] for step in case["timeline"]] == ["received"]
    again = await client.get(f"/v1/cases/{case['id']}")
    assert again.status_code == 200
    assert again.json()["case_number"] == case["case_number"]


async def test_case_received_carries_the_deadline_and_a_reporter_reference_but_no_personal_data(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    body = {**CASE, "reporter": {"name": "张三", "phone": PHONE, "id_number": ID_NUMBER}}
    case = (await client.post("/v1/cases", json=body)).json()
    [message] = await outbox("gov.intake.case.received")
    payload = json.loads(message.payload)
    assert payload["reporter_ref"] == case["reporter"]["ref"]
    assert payload["due_at"] is not None
    for secret in ("张三", PHONE, ID_NUMBER):
        assert secret not in message.payload
        assert secret not in message.headers


async def test_personal_data_is_stored_but_masked_in_every_answer(
    client: httpx.AsyncClient, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {**CASE, "reporter": {"name": "张三", "phone": PHONE, "id_number": ID_NUMBER}}
    created = (await client.post("/v1/cases", json=body, headers=STAFF)).json()
    fetched = (await client.get(f"/v1/cases/{created['id']}", headers=STAFF)).json()
    for case in (created, fetched):
        reporter = case["reporter"]
        assert (reporter["name"], reporter["phone"], reporter["id_number"]) == (
            "张*",
            "138****5678",
            "1101**********002X",
        )
        assert reporter["masked"] is True
    async with runtime.db.sessions() as session:
        stored = await session.get(ReporterRow, created["reporter"]["ref"])
    assert stored is not None and (stored.name, stored.phone, stored.id_number) == ("张三", PHONE, ID_NUMBER)
    logs = capsys.readouterr()
    for secret in ("张三", PHONE, ID_NUMBER):
        assert secret not in logs.out + logs.err


async def test_only_a_personal_data_credential_sees_the_reporter_unmasked(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = {**CASE, "reporter": {"name": "张三", "phone": PHONE, "id_number": ID_NUMBER}}
    created = (await client.post("/v1/cases", json=body)).json()
    keyring = runtime.auth.keyring
    allowed = keyring.issue_token("city-hotline", ["cases:read", "personal-data"], [])
    other = keyring.issue_token("open-data-portal", ["cases:read"], [])

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    seen = (await client.get(f"/v1/cases/{created['id']}", headers=bearer(allowed))).json()["reporter"]
    assert (seen["name"], seen["phone"], seen["id_number"], seen["masked"]) == ("张三", PHONE, ID_NUMBER, False)
    masked = (await client.get(f"/v1/cases/{created['id']}", headers=bearer(other))).json()["reporter"]
    assert (masked["name"], masked["masked"]) == ("张*", True)
    forged = await client.get(f"/v1/cases/{created['id']}", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    assert "invalid token" in forged.json()["detail"]


async def test_each_case_gets_a_new_number_and_one_outbox_event(client: httpx.AsyncClient, outbox: Outbox) -> None:
    first = (await client.post("/v1/cases", json=CASE)).json()
    second = (await client.post("/v1/cases", json={**CASE, "lat": 38.5, "lon": 100.0})).json()
    assert first["case_number"] < second["case_number"]
    keys = [m.key for m in await outbox("gov.intake.case.received")]
    assert sorted(keys) == sorted([first["id"], second["id"]])


async def test_a_retried_post_with_the_same_idempotency_key_makes_one_case(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/cases", json=CASE, headers=key)
    retry = await client.post("/v1/cases", json=CASE, headers=key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"]
    assert retry.json()["outcome"] == "retried"
    assert len(await outbox("gov.intake.case.received")) == 1
    other = await client.post("/v1/cases", json={**CASE, "description": "something else"}, headers=key)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({**CASE, "description": ""}, "description", "at least 1 character"),
        ({**CASE, "description": "x" * 4001}, "description", "at most 4000 characters"),
        ({k: v for k, v in CASE.items() if k != "matter_code"}, "matter_code", "Field required"),
        ({**CASE, "lat": 91}, "lat", "less than or equal to 90"),
        ({**CASE, "channel": "pigeon"}, "channel", "Input should be"),
        ({**CASE, "unknown": 1}, "unknown", "Extra inputs are not permitted"),
        ({"matter_code": "x", "description": "y", "lat": 38.9}, "body", "lat and lon must be given together"),
        ({"matter_code": "x", "description": "y"}, "body", "a location is required"),
        ({**CASE, "matter_code": "dispute.alien"}, "matter_code", "unknown matter 'dispute.alien'"),
        ({**CASE, "attributes": {"parties_count": 2, "colour": "red"}}, "colour", "unknown attribute"),
        (
            {"matter_code": "safety.hazard", "description": "d", "address": "a", "attributes": {}},
            "hazard_kind",
            "required for matter safety.hazard",
        ),
        ({**CASE, "attributes": {"parties_count": "many"}}, "parties_count", "must be a number"),
        ({**CASE, "lat": 39.9042, "lon": 116.4074}, "lon", "outside the jurisdiction"),
        ({**CASE, "lat": 30.0}, "lat", "outside the jurisdiction"),
        ({**CASE, "reporter": {"phone": "555-1234"}}, "phone", "mainland mobile"),
        ({**CASE, "reporter": {"id_number": "110105194912310021"}}, "id_number", "GB 11643 checksum"),
        ({**CASE, "reporter": {"name": "x" * 51}}, "name", "at most 50 characters"),
        ({**CASE, "attachments": ["ftp://files/x.jpg"]}, "0", "http(s) URL"),
        (
            {"matter_code": "dispute.family", "description": "d", "address": "a", "attributes": {}},
            "phone",
            "cannot be reported anonymously",
        ),
    ],
)
async def test_a_bad_field_is_named_with_its_reason_and_nothing_is_written(
    client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], field: str, reason: str
) -> None:
    response = await client.post("/v1/cases", json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(error["loc"][-1] == field and reason in error["msg"] for error in errors), errors
    async with runtime.db.sessions() as session:
        assert (await session.exec(select(OutboxMessage.id))).all() == []
        assert (await session.exec(select(CaseRow.id))).all() == []
        assert (await session.exec(select(ReporterRow.ref))).all() == []


async def test_several_bad_fields_are_all_named_at_once(client: httpx.AsyncClient) -> None:
    body = {
        **CASE,
        "lat": 30.0,
        "reporter": {"phone": "555-1234", "id_number": "110105194912310021"},
        "attributes": {"parties_count": "many"},
    }
    response = await client.post("/v1/cases", json=body)
    assert response.status_code == 422
    fields = {tuple(e["loc"][1:]) for e in response.json()["errors"]}
    assert fields >= {("lat",), ("reporter", "phone"), ("reporter", "id_number"), ("attributes", "parties_count")}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"lon": 1e400', ("lon",)),
        ('"lat": NaN', ("lat",)),
        ('"lat": "NaN"', ("lat",)),
        ('"lon": "-Infinity"', ("lon",)),
        ('"attributes": {"parties_count": "NaN"}', ("attributes", "parties_count")),
        ('"attributes": {"parties_count": "1e999"}', ("attributes", "parties_count")),
        ('"attributes": {"parties_count": Infinity}', ("attributes", "parties_count")),
    ],
)
async def test_a_number_that_is_not_a_number_is_a_422_naming_the_field_and_nothing_is_written(
    client: httpx.AsyncClient, runtime: Runtime, text: str, field: tuple[str, ...]
) -> None:
    """``"lon": 1e400`` was a 500; ``"parties_count": "NaN"`` was accepted and stored as null."""
    body = json.dumps({k: v for k, v in CASE.items() if k != field[0]})[:-1] + ", " + text + "}"
    response = await client.post("/v1/cases", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["loc"] == ["body", *field] and "finite number" in e["msg"] for e in errors), errors
    async with runtime.db.sessions() as session:
        assert (await session.exec(select(CaseRow.id))).all() == []


async def test_a_bbox_of_numbers_that_are_not_numbers_is_named(client: httpx.AsyncClient) -> None:
    for bbox in ("nan,38,101,39", "100,38,inf,39", "100,38,1e400,39"):
        response = await client.get("/v1/cases", params={"bbox": bbox})
        assert response.status_code == 422, (bbox, response.text)
        assert response.json()["errors"][0]["loc"] == ["query", "bbox"]


async def test_unknown_case_is_404(client: httpx.AsyncClient) -> None:
    case_id = uuid.uuid4()
    response = await client.get(f"/v1/cases/{case_id}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"no such case: {case_id}"


async def test_the_taxonomy_is_served(client: httpx.AsyncClient) -> None:
    matters = (await client.get("/v1/matters")).json()
    assert "security.incident" in [m["code"] for m in matters]
    family = (await client.get("/v1/matters/dispute.family")).json()
    assert family["name_zh"] == "婚姻家庭纠纷" and family["anonymous_allowed"] is False
    assert (await client.get("/v1/matters/nope")).status_code == 404


# --- list and search ---------------------------------------------------------------------------


async def _seed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    bodies = [
        {**CASE, "description": "Leak in 3 单元", "lat": 38.93, "lon": 100.45, "channel": "hotline"},
        {**CASE, "description": "Noise at night", "lat": 38.50, "lon": 99.90, "channel": "window"},
        {
            "matter_code": "safety.hazard",
            "description": "Gas smell in the stairwell",
            "address": "甘州区 西街 5号",
            "attributes": {"hazard_kind": ["gas"]},
            "channel": "terminal",
        },
    ]
    return [(await client.post("/v1/cases", json=b)).json() for b in bodies]


async def test_list_filters_by_status_matter_channel_text_bbox_and_dates(client: httpx.AsyncClient) -> None:
    leak, noise, gas = await _seed(client)

    async def numbers(**params: str) -> list[str]:
        response = await client.get("/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return [c["case_number"] for c in response.json()["items"]]

    assert await numbers() == [gas["case_number"], noise["case_number"], leak["case_number"]]  # newest first
    assert await numbers(matter_code="safety.hazard") == [gas["case_number"]]
    assert await numbers(channel="hotline,window") == [noise["case_number"], leak["case_number"]]
    assert await numbers(q="gas smell") == [gas["case_number"]]
    assert await numbers(q="西街") == [gas["case_number"]]
    assert await numbers(bbox="100.40,38.90,100.50,38.96") == [leak["case_number"]]
    assert await numbers(status="received") == [gas["case_number"], noise["case_number"], leak["case_number"]]
    assert await numbers(status="closed") == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await numbers(received_from=tomorrow) == []


async def test_list_pages_and_caps_the_page_size(client: httpx.AsyncClient) -> None:
    await _seed(client)
    first = (await client.get("/v1/cases", params={"limit": 2})).json()
    assert (len(first["items"]), first["total"], first["next_offset"]) == (2, 3, 2)
    second = (await client.get("/v1/cases", params={"limit": 2, "offset": 2})).json()
    assert (len(second["items"]), second["next_offset"]) == (1, None)
    too_big = await client.get("/v1/cases", params={"limit": 201})
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_list_filters_by_grid_or_the_division_above_it(client: httpx.AsyncClient) -> None:
    """The console's case board filters by a grid, or by a community/township/county code."""
    mine = (await client.post("/v1/cases", json={**CASE, "grid_code": "620702001001001"})).json()
    other = (await client.post("/v1/cases", json={**CASE, "lat": 38.95, "grid_code": "620702001002001"})).json()

    async def numbers(grid: str) -> list[str]:
        response = await client.get("/v1/cases", params={"grid": grid})
        assert response.status_code == 200, response.text
        return [c["case_number"] for c in response.json()["items"]]

    assert await numbers("620702001001001") == [mine["case_number"]]
    assert await numbers("620702001001") == [mine["case_number"]]
    assert await numbers("620702001002001") == [other["case_number"]]
    assert set(await numbers("620702")) >= {mine["case_number"], other["case_number"]}


async def test_list_filters_open_cases_past_their_deadline(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """The case board's "overdue" filter: open cases whose deadline has passed; a resolved or
    closed case is never late, however old its deadline."""
    late, resolved_late, on_time = await _seed(client)
    past = datetime.now(UTC) - timedelta(hours=2)
    async with runtime.db.sessions() as session:  # the precondition: two deadlines in the past
        for case, status in ((late, "dispatched"), (resolved_late, "resolved")):
            row = await session.get(CaseRow, uuid.UUID(case["id"]))
            assert row is not None
            row.due_at, row.status = past, status
            session.add(row)
        await session.commit()

    async def numbers(**params: str) -> list[str]:
        response = await client.get("/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return [c["case_number"] for c in response.json()["items"]]

    assert await numbers(overdue="true") == [late["case_number"]]
    assert await numbers(overdue="false") == [on_time["case_number"], resolved_late["case_number"], late["case_number"]]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert await numbers(due_before=an_hour_ago) == [late["case_number"]]
    next_year = (datetime.now(UTC) + timedelta(days=366)).isoformat()
    assert await numbers(due_before=next_year) == [on_time["case_number"], late["case_number"]]
    assert await numbers(due_before=next_year, overdue="true") == [late["case_number"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"channel": "fax"}, "channel"),
        ({"grid": "62070"}, "grid"),
        ({"overdue": "maybe"}, "overdue"),
        ({"due_before": "tomorrow"}, "due_before"),
        ({"due_before": "2026-12-03T10:00:00"}, "due_before"),
    ],
)
async def test_bad_list_filters_are_named(client: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    response = await client.get("/v1/cases", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", field]


# --- duplicates ----------------------------------------------------------------------------------


async def test_a_second_report_nearby_is_linked_to_the_open_case_not_a_new_one(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    first = (await client.post("/v1/cases", json=CASE)).json()
    nearby = {**CASE, "lat": 38.9304, "lon": 100.4503, "channel": "hotline", "reporter": {"phone": PHONE}}
    response = await client.post("/v1/cases", json=nearby)  # ~50 m away
    assert response.status_code == 200, response.text
    linked = response.json()
    assert (linked["outcome"], linked["id"]) == ("linked", first["id"])
    assert first["case_number"] in linked["notice"]
    assert linked["linked_reports"] == 1
    assert [s["kind"] for s in linked["timeline"]] == ["received", "report_linked"]
    assert len(await outbox("gov.intake.case.received")) == 1


async def test_a_linked_report_answers_its_own_receipt_and_nothing_of_the_other_resident(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    first_resident = {
        **CASE,
        "description": "王五家楼上漏水, 床都湿了",
        "attachments": ["https://files.example/wang-bedroom.jpg"],
        "attributes": {"parties_count": 3},
        "reporter": {"name": "王五", "phone": "13700001111"},
    }
    first = (await client.post("/v1/cases", json=first_resident)).json()
    note = "grid 620702001001; 王五 said the upstairs tenant 赵六 refuses entry"
    await deliver(
        CaseDispatched(
            case_id=uuid.UUID(first["id"]),
            grid_code="620702001001001",
            handled_by="centre:620700",
            note=note,
            dispatched_at=datetime.now(UTC),
        )
    )
    second_resident = {
        **CASE,
        "lat": 38.9304,
        "lon": 100.4503,
        "channel": "hotline",
        "description": "Water from the flat above ours too",
        "attachments": ["https://files.example/li-ceiling.jpg"],
        "reporter": {"name": "李四", "phone": PHONE},
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    for outcome in ("linked", "retried"):  # a retry answers the same, nothing more
        response = await client.post("/v1/cases", json=second_resident, headers={**STAFF, **key})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["outcome"], answer["id"], answer["case_number"]) == (outcome, first["id"], first["case_number"])
        for theirs in ("王五", "王*", "1111", "wang-bedroom", "床都湿了", "赵六", "refuses entry"):
            assert theirs not in response.text, (outcome, theirs)
        assert "attachments" not in answer and "attributes" not in answer and "description" not in answer
        own = answer["report"]
        assert own["description"] == "Water from the flat above ours too"
        assert own["attachments"] == ["https://files.example/li-ceiling.jpg"]
        assert (own["channel"], own["reporter"]["phone"]) == ("hotline", "138****5678")
        assert own["receipt"].startswith(first["case_number"] + "-L") and own["receipt"] in answer["notice"]
        assert (answer["status"], answer["handled_by"], answer["linked_reports"]) == ("dispatched", "centre:620700", 1)
        assert [(s["kind"], "note" in s) for s in answer["timeline"]] == [
            ("received", False),
            ("dispatched", False),
            ("report_linked", False),
        ]


async def test_reports_far_away_of_another_matter_or_of_a_closed_case_open_new_cases(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    first = (await client.post("/v1/cases", json=CASE)).json()
    far = (await client.post("/v1/cases", json={**CASE, "lat": 38.935, "lon": 100.45})).json()  # ~550 m
    other = {
        "matter_code": "safety.hazard",
        "description": "d",
        "lat": 38.93,
        "lon": 100.45,
        "attributes": {"hazard_kind": ["fire"]},
    }
    other_matter = (await client.post("/v1/cases", json=other)).json()
    assert {far["outcome"], other_matter["outcome"]} == {"created"}
    case_id = uuid.UUID(first["id"])
    now = datetime.now(UTC)
    await deliver(CaseResolved(case_id=case_id, resolved_at=now))
    await deliver(CaseClosed(case_id=case_id, satisfaction=5, closed_at=now))
    after_close = (await client.post("/v1/cases", json=CASE)).json()
    assert after_close["outcome"] == "created"


async def test_the_duplicate_distance_is_a_setting(client_with: Client) -> None:
    async with client_with(duplicate_distance_m=1000) as http:
        first = (await http.post("/v1/cases", json=CASE)).json()
        second = (await http.post("/v1/cases", json={**CASE, "lat": 38.935, "lon": 100.45})).json()
    assert (second["outcome"], second["id"]) == ("linked", first["id"])
    async with client_with(duplicate_window_s=0) as http:
        again = (await http.post("/v1/cases", json=CASE)).json()
    assert again["outcome"] == "created"  # 0 turns detection off


# --- feedback ------------------------------------------------------------------------------------


async def test_feedback_only_on_a_resolved_case_publishes_case_feedback_given(
    client: httpx.AsyncClient, deliver: Deliver, outbox: Outbox
) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    feedback = {"satisfaction": 2, "solved": False, "comment": "still leaking"}
    early = await client.post(f"/v1/cases/{case['id']}/feedback", json=feedback)
    assert early.status_code == 409 and "resolved" in early.json()["detail"]

    await deliver(CaseResolved(case_id=uuid.UUID(case["id"]), summary="pipe fixed", resolved_at=datetime.now(UTC)))
    response = await client.post(f"/v1/cases/{case['id']}/feedback", json=feedback)
    assert response.status_code == 202, response.text
    assert response.json()["satisfaction"] == 2
    assert response.json()["timeline"][-1]["kind"] == "feedback"
    [message] = await outbox("gov.intake.case.feedback-given")
    assert message.key == case["id"]
    assert json.loads(message.payload) | {"given_at": None} == {
        "case_id": case["id"],
        "satisfaction": 2,
        "solved": False,
        "comment": "still leaking",
        "given_at": None,
    }
    twice = await client.post(f"/v1/cases/{case['id']}/feedback", json=feedback)
    assert twice.status_code == 409

    # dispatch reopens on "not solved"; after the next resolution feedback is taken again
    await deliver(CaseReopened(case_id=uuid.UUID(case["id"]), reason="not solved", reopened_at=datetime.now(UTC)))
    assert (await client.get(f"/v1/cases/{case['id']}")).json()["status"] == "in_progress"
    await deliver(CaseResolved(case_id=uuid.UUID(case["id"]), resolved_at=datetime.now(UTC)))
    again = await client.post(f"/v1/cases/{case['id']}/feedback", json={"satisfaction": 5, "solved": True})
    assert again.status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"satisfaction": 6, "solved": True}, "satisfaction"),
        ({"satisfaction": 3}, "solved"),
        ({"satisfaction": 3, "solved": True, "comment": "x" * 2001}, "comment"),
    ],
)
async def test_bad_feedback_is_named(client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    response = await client.post(f"/v1/cases/{case['id']}/feedback", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == field
    assert (
        await client.post(f"/v1/cases/{uuid.uuid4()}/feedback", json={"satisfaction": 3, "solved": True})
    ).status_code == 404


async def test_dispatch_events_show_up_on_the_case(client: httpx.AsyncClient, deliver: Deliver) -> None:
    case = (await client.post("/v1/cases", json=CASE)).json()
    await deliver(
        CaseDispatched(
            case_id=uuid.UUID(case["id"]),
            grid_code="620702001001",
            handled_by="centre:620700",
            dispatched_at=datetime.now(UTC),
        )
    )
    shown = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert (shown["status"], shown["handled_by"]) == ("dispatched", "centre:620700")


async def test_health_and_metrics_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await client.post("/v1/cases", json=CASE)
    metrics = (await client.get("/metrics")).text
    assert 'govmesh_http_requests_total{method="POST",route="/v1/cases",status="201"}' in metrics


async def test_every_endpoint_is_documented_with_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ours = {
        p: ops for p, ops in spec["paths"].items() if p.startswith(("/v1/", "/open311/")) and p != "/v1/audit"
    }  # the audit log is the runtime's
    assert len(ours) >= 11
    for path, operations in ours.items():
        for method, operation in operations.items():
            text = json.dumps(operation)
            assert operation.get("summary"), (method, path)
            assert '"example' in text, f"{method.upper()} {path} has no example"
    assert "application/x-www-form-urlencoded" in json.dumps(ours["/open311/v2/requests.{fmt}"]["post"])


async def test_a_case_whose_event_is_larger_than_its_topic_takes_is_a_413_and_nothing_is_written(
    client_with: Client,
) -> None:
    """The event limit here comes from the settings (a cluster with smaller topics); without it, from
    the contracts registry's max.message.bytes of intake.cases.v1. The case, its reporter and its
    event roll back together: no case without an event, no row the relay could never publish."""
    async with client_with(max_event_bytes=2048) as http:
        body = {**CASE, "description": "楼上漏水" * 250, "reporter": {"name": "张三", "phone": PHONE}}
        response = await http.post("/v1/cases", json=body)
        assert response.status_code == 413
        detail = response.json()["detail"]
        assert "gov.intake.case.received" in detail and "intake.cases.v1" in detail
        assert "2,048 bytes" in detail and "nothing was written" in detail
        runtime: Runtime = http.app.state.runtime  # type: ignore[attr-defined]
        async with runtime.db.sessions() as session:
            assert (await session.exec(select(OutboxMessage.id))).all() == []
            assert (await session.exec(select(CaseRow.id))).all() == []
            assert (await session.exec(select(ReporterRow.ref))).all() == []
        assert (await http.post("/v1/cases", json=CASE)).status_code == 201  # a case of usual size goes through

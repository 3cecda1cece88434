"""Component tests: policing in-process (ASGI), its own SQLite database, handlers driven directly
with contract events (the broker path is in test_on_the_broker.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from support import auth_headers

from govmesh_contracts import (
    Level,
    Location,
    TaskAssigned,
    TaskCancelled,
    TaskEscalated,
    TaskTarget,
    ViolenceRiskFlagged,
)
from govmesh_runtime.roles import ALL_SCOPES
from govmesh_runtime.tables import OutboxMessage
from policing import handlers


def runtime_of(client: httpx.AsyncClient) -> Any:
    return client.app.state.runtime  # type: ignore[attr-defined]


async def outbox(client: httpx.AsyncClient, event_type: str) -> list[dict[str, Any]]:
    async with runtime_of(client).db.sessions() as session:
        rows = (
            await session.exec(
                select(OutboxMessage.payload)
                .where(col(OutboxMessage.event_type) == event_type)
                .order_by(col(OutboxMessage.id))
            )
        ).all()
    return [json.loads(p) for p in rows]


def assigned(town: Any, **overrides: Any) -> TaskAssigned:
    fields: dict[str, Any] = {
        "task_id": uuid.uuid4(),
        "case_id": uuid.uuid4(),
        "case_number": "620702-20261125-000001",
        "matter_code": "public_order",
        "target": TaskTarget.POLICING,
        "grid_code": town.G2,
        "description": "Drunk men quarrelling outside a shop.",
        "due_at": datetime.now(UTC) + timedelta(hours=2),
        "assigned_at": datetime.now(UTC) - timedelta(seconds=30),
    }
    fields.update(overrides)
    return TaskAssigned(**fields)


async def deliver(client: httpx.AsyncClient, event: Any) -> None:
    """What the consumer loop does with an event: the handler in one unit of work, committed."""
    cache = client.app.state.grid_cache  # type: ignore[attr-defined]
    handler = {
        TaskAssigned: lambda e, u: handlers.open_task_on_task_assigned(e, u, grids=cache),
        ViolenceRiskFlagged: lambda e, u: handlers.open_task_on_violence_risk(e, u, grids=cache),
        TaskCancelled: handlers.withdraw_task_on_task_cancelled,
    }[type(event)]
    async with runtime_of(client).uow() as uow:
        await handler(event, uow)
        await uow.commit()


async def room_tasks(client: httpx.AsyncClient, room: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/rooms/{room}/tasks")
    assert response.status_code == 200, response.text
    return list(response.json())


# --- rooms and jurisdictions ------------------------------------------------------------------


async def test_imported_rooms_show_their_grids_and_roster(client: httpx.AsyncClient, town: Any) -> None:
    rooms = (await client.get("/v1/rooms")).json()
    assert [r["room_code"] for r in rooms] == [town.ROOM_A, town.ROOM_B]
    room = (await client.get(f"/v1/rooms/{town.ROOM_A}")).json()
    assert room["grid_codes"] == [town.G1, town.G2]
    roster = (await client.get(f"/v1/rooms/{town.ROOM_A}/roster")).json()
    assert [(o["officer_id"], o["role"], o["on_duty"]) for o in roster["officers"]] == [
        ("PA-1", "officer", True),
        ("PA-2", "officer", False),
        ("PA-3", "auxiliary", True),
    ]


async def test_a_gap_is_refused_with_the_grid_named_and_nothing_written(
    client: httpx.AsyncClient, town: Any, city: dict[str, Any]
) -> None:
    city["police_rooms"][1]["grid_codes"] = [town.G3]  # G4 left uncovered
    city["police_rooms"][1]["name"] = "renamed"
    response = await client.put("/v1/reference", json=city)
    assert response.status_code == 422
    assert response.json()["detail"] == f"gap: 1 grid(s) covered by no room: {town.G4}"
    assert (await client.get(f"/v1/rooms/{town.ROOM_B}")).json()["name"] == "西街社区警务室"


async def test_an_overlap_is_refused_with_the_grid_and_rooms_named(
    client: httpx.AsyncClient, town: Any, city: dict[str, Any]
) -> None:
    city["police_rooms"][0]["grid_codes"].append(town.G3)
    response = await client.put("/v1/reference", json={"police_rooms": city["police_rooms"]})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"overlap: 1 grid(s) covered by more than one room: {town.G3} ({town.ROOM_A}, {town.ROOM_B})"
    )
    assert (await client.get(f"/v1/rooms/{town.ROOM_A}")).json()["grid_codes"] == [town.G1, town.G2]


async def test_a_new_grid_set_that_leaves_rooms_with_gaps_is_refused(
    client: httpx.AsyncClient, town: Any, city: dict[str, Any]
) -> None:
    grids = city["grids"]
    extra = json.loads(json.dumps(grids["features"][0]))
    extra["properties"]["grid_code"] = "620702001003001"
    ring = extra["geometry"]["coordinates"][0]
    extra["geometry"]["coordinates"] = [[[lon + 0.1, lat] for lon, lat in ring]]  # east of the town: no overlap
    grids["features"].append(extra)
    response = await client.put("/v1/reference", json={"grids": grids})
    assert response.status_code == 422
    assert response.json()["detail"] == "gap: 1 grid(s) covered by no room: 620702001003001"


async def test_grids_that_overlap_are_refused_with_their_codes_and_nothing_written(
    client: httpx.AsyncClient, town: Any, city: dict[str, Any]
) -> None:
    grids = city["grids"]
    first = grids["features"][0]
    first["geometry"] = json.loads(json.dumps(grids["features"][3]["geometry"]))  # G1 drawn over G4
    response = await client.put("/v1/reference", json={"grids": grids})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "grids: overlap: 1 pair(s) of grids overlap by more than 1% of the smaller grid: "
        f"{first['properties']['grid_code']} and {grids['features'][3]['properties']['grid_code']} (100%)"
    )
    lat, lon = town.centre(town.G1)
    card = await client.get("/v1/contact-card", params={"lat": lat, "lon": lon})
    assert card.json()["grid_code"] == town.G1  # the old boundaries stand


async def test_importing_grids_needs_the_grid_import_scope(client: httpx.AsyncClient, city: dict[str, Any]) -> None:
    registry = auth_headers(["policing", "grid:write"], subject="room-registrar")
    refused = await client.put("/v1/reference", json={"grids": city["grids"]}, headers=registry)
    assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'grid:import' is required")
    # the reference data replaces the whole city's jurisdictions, rooms too: grid:import either way
    rooms_only = await client.put("/v1/reference", json={"police_rooms": city["police_rooms"]}, headers=registry)
    assert rooms_only.status_code == 403
    administrator = auth_headers(["policing", "grid:import"], subject="city-administrator")
    rooms = await client.put("/v1/reference", json={"police_rooms": city["police_rooms"]}, headers=administrator)
    assert rooms.status_code == 200, rooms.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "give grids, police_rooms or both"),
        ({"grids": {"type": "FeatureCollection", "features": [{"properties": {}}]}}, "grid_code is missing"),
        ({"police_rooms": [{"room_code": "X"}]}, "police_rooms[0].name: required"),
        ({"police_rooms": "nope"}, "Input should be a valid list"),
    ],
)
async def test_bad_reference_files_are_refused_with_the_reason(
    client: httpx.AsyncClient, body: dict[str, Any], reason: str
) -> None:
    response = await client.put("/v1/reference", json=body)
    assert response.status_code == 422
    assert reason in json.dumps(response.json(), ensure_ascii=False)


async def test_police_endpoints_need_a_credential_and_the_policing_scope(client: httpx.AsyncClient, town: Any) -> None:
    not_police = auth_headers(sorted(ALL_SCOPES - {"policing"}))
    for path in (
        f"/v1/rooms/{town.ROOM_A}/key-persons",
        f"/v1/rooms/{town.ROOM_A}/key-places",
        "/v1/rooms",
        "/v1/tasks",
    ):
        missing = await client.get(path, headers={"Authorization": ""})
        assert missing.status_code == 401, path
        assert "credential required" in missing.json()["detail"]
        wrong = await client.get(path, headers=not_police)
        assert (wrong.status_code, wrong.json()["detail"]) == (403, "scope 'policing' is required"), path
    denied = await client.put("/v1/reference", json={"police_rooms": []}, headers={"Authorization": ""})
    assert denied.status_code == 401
    refused = (await client.get("/v1/audit", params={"action": "refused"})).json()["items"]
    assert len(refused) == 4 and {r["reason"] for r in refused} == {"scope 'policing' is required"}


async def test_key_persons_and_places_are_kept_per_room(client: httpx.AsyncClient, town: Any) -> None:
    person = {"grid_code": town.G1, "category": "community_correction", "name": "某某"}
    created = await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json=person)
    assert created.status_code == 201, created.text
    place = {"grid_code": town.G2, "category": "school", "name": "第一小学", "lat": 38.925, "lon": 100.455}
    assert (await client.post(f"/v1/rooms/{town.ROOM_A}/key-places", json=place)).status_code == 201
    persons = (await client.get(f"/v1/rooms/{town.ROOM_A}/key-persons")).json()
    assert [(p["grid_code"], p["category"]) for p in persons] == [(town.G1, "community_correction")]
    assert [p["name"] for p in (await client.get(f"/v1/rooms/{town.ROOM_A}/key-places")).json()] == ["第一小学"]
    assert (await client.get(f"/v1/rooms/{town.ROOM_B}/key-persons")).json() == []
    reads = (await client.get("/v1/audit", params={"action": "read"})).json()["items"]
    assert [(r["resource"], r["resource_id"], r["fields"]) for r in reads] == [
        ("key person", created.json()["id"], "category,name,note")
    ]
    elsewhere = await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json={**person, "grid_code": town.G3})
    assert elsewhere.status_code == 422
    assert elsewhere.json()["detail"] == f"grid_code: {town.G3} is not in room {town.ROOM_A}'s jurisdiction"


async def test_patrols_and_visits_are_logged_per_room_and_grid(client: httpx.AsyncClient, town: Any) -> None:
    start = datetime(2026, 11, 25, 8, tzinfo=UTC)
    for grid in (town.G1, town.G2):
        patrol = {
            "grid_code": grid,
            "officer_id": "PA-3",
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(hours=1)).isoformat(),
        }
        assert (await client.post(f"/v1/rooms/{town.ROOM_A}/patrols", json=patrol)).status_code == 201
    visit = {"grid_code": town.G2, "officer_id": "PA-1", "kind": "household", "visited_at": start.isoformat()}
    assert (await client.post(f"/v1/rooms/{town.ROOM_A}/visits", json=visit)).status_code == 201
    patrols = (await client.get(f"/v1/rooms/{town.ROOM_A}/patrols", params={"grid_code": town.G1})).json()
    assert [(p["grid_code"], p["officer_id"]) for p in patrols] == [(town.G1, "PA-3")]
    assert len((await client.get(f"/v1/rooms/{town.ROOM_A}/patrols")).json()) == 2
    assert [v["kind"] for v in (await client.get(f"/v1/rooms/{town.ROOM_A}/visits")).json()] == ["household"]
    backwards = {**patrol, "ended_at": (start - timedelta(hours=1)).isoformat()}
    response = await client.post(f"/v1/rooms/{town.ROOM_A}/patrols", json=backwards)
    assert response.status_code == 422
    assert "ended_at must not be before started_at" in response.text
    stranger = await client.post(f"/v1/rooms/{town.ROOM_A}/visits", json={**visit, "officer_id": "PB-1"})
    assert stranger.status_code == 422
    assert stranger.json()["detail"] == f"officer_id: PB-1 is not an officer of room {town.ROOM_A}"


async def test_an_officer_logs_patrols_and_visits_as_themselves_not_as_another(
    client: httpx.AsyncClient, town: Any
) -> None:
    pa1 = auth_headers(["policing"], subject="PA-1")
    start = datetime(2026, 11, 25, 8, tzinfo=UTC)
    patrol = {
        "grid_code": town.G1,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(hours=1)).isoformat(),
    }
    own = await client.post(f"/v1/rooms/{town.ROOM_A}/patrols", json=patrol, headers=pa1)
    assert own.status_code == 201 and own.json()["officer_id"] == "PA-1"  # the token's subject
    visit = {"grid_code": town.G1, "kind": "household", "visited_at": start.isoformat(), "officer_id": "PA-3"}
    as_another = await client.post(f"/v1/rooms/{town.ROOM_A}/visits", json=visit, headers=pa1)
    assert as_another.status_code == 403 and "tasks:manage" in as_another.text
    assert (await client.get(f"/v1/rooms/{town.ROOM_A}/visits")).json() == []


# --- contact card -------------------------------------------------------------------------------


async def test_the_contact_card_answers_for_a_point_to_any_credential(client: httpx.AsyncClient, town: Any) -> None:
    lat, lon = town.centre(town.G4)
    point = {"lat": lat, "lon": lon}
    assert (await client.get("/v1/contact-card", params=point, headers={"Authorization": ""})).status_code == 401
    kiosk = auth_headers([], subject="resident-portal")  # no scope, no place
    response = await client.get("/v1/contact-card", params=point, headers=kiosk)
    assert response.status_code == 200, response.text
    card = response.json()
    assert (card["grid_code"], card["room_code"], card["room_name"]) == (town.G4, town.ROOM_B, "西街社区警务室")
    assert [o["officer_id"] for o in card["community_officers"]] == ["PB-1"]
    assert [o["officer_id"] for o in card["auxiliaries"]] == ["PB-2"]


async def test_the_contact_card_answers_for_an_address_and_a_grid(client: httpx.AsyncClient, town: Any) -> None:
    by_address = await client.get("/v1/contact-card", params={"address": "甘州区县府街第二网格 12号 3单元"})
    assert by_address.status_code == 200, by_address.text
    assert (by_address.json()["grid_code"], by_address.json()["room_code"]) == (town.G2, town.ROOM_A)
    by_grid = await client.get("/v1/contact-card", params={"grid_code": town.G3})
    assert by_grid.json()["room_code"] == town.ROOM_B


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"lat": 39.5, "lon": 101.0}, 404, "no grid found for 39.5,101.0"),
        ({"address": "somewhere else"}, 404, "no grid found for somewhere else"),
        ({"lat": 38.925}, 422, "lat and lon: must be given together"),
        ({}, 422, "a place is required"),
        ({"lat": 91, "lon": 100}, 422, "less than or equal to 90"),
    ],
)
async def test_the_contact_card_says_why_it_has_no_answer(
    client: httpx.AsyncClient, params: dict[str, Any], status: int, reason: str
) -> None:
    response = await client.get("/v1/contact-card", params=params)
    assert response.status_code == status
    assert reason in response.text


# --- police tasks -----------------------------------------------------------------------------


async def test_a_dispatch_task_goes_to_the_grids_room_and_its_on_duty_officer(
    client: httpx.AsyncClient, town: Any
) -> None:
    event = assigned(town, grid_code=town.G2)
    await deliver(client, event)
    await deliver(client, event)  # a redelivery opens nothing new
    tasks = await room_tasks(client, town.ROOM_A)
    assert len(tasks) == 1
    task = tasks[0]
    # PA-2 is off duty; PA-3 is an auxiliary: the sworn officer on duty gets it.
    assert (task["officer_id"], task["status"], task["case_id"]) == ("PA-1", "open", str(event.case_id))
    assert await room_tasks(client, town.ROOM_B) == []
    opened = await outbox(client, "gov.policing.police-task.opened")
    assert [(o["room_code"], o["officer_id"], o["source"]) for o in opened] == [(town.ROOM_A, "PA-1", "dispatch")]
    assert "Drunk" not in json.dumps(opened)  # the description stays in policing


async def test_a_task_goes_through_to_its_result_for_dispatch(client: httpx.AsyncClient, town: Any) -> None:
    event = assigned(town, grid_code=town.G1)
    await deliver(client, event)
    (task,) = await room_tasks(client, town.ROOM_A)
    accepted = await client.post(f"/v1/tasks/{task['id']}/accept", json={})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert (await client.post(f"/v1/tasks/{task['id']}/on-scene")).json()["status"] == "on_scene"
    closed = await client.post(
        f"/v1/tasks/{task['id']}/close",
        json={"outcome": "done", "summary": "Dispersed; the shop owner (13912345678) agreed to close at 22:00."},
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["outcome"]) == ("closed", "done")
    assert await room_tasks(client, town.ROOM_A) == []
    (result,) = await outbox(client, "gov.policing.task.completed")
    assert (result["task_id"], result["case_id"], result["outcome"]) == (str(event.task_id), str(event.case_id), "done")
    assert "13912345678" not in result["summary"] and "[phone]" in result["summary"]
    accepted_event = (await outbox(client, "gov.policing.police-task.accepted"))[0]
    assert accepted_event["officer_id"] == "PA-1"
    assert accepted_event["response_seconds"] >= 30  # assigned 30 s before it was opened
    figures = (await client.get(f"/v1/rooms/{town.ROOM_A}/response-times")).json()
    assert (figures["tasks"], figures["closed"], figures["open"]) == (1, 1, 0)
    assert figures["median_response_s"] >= 30
    assert figures["median_arrival_s"] >= figures["median_response_s"]
    exposed = (await client.get("/metrics")).text
    assert 'govmesh_policing_response_seconds_count{priority="normal",source="dispatch"}' in exposed
    assert 'govmesh_policing_arrival_seconds_count{priority="normal",source="dispatch"}' in exposed


async def test_steps_out_of_order_are_refused_and_change_nothing(client: httpx.AsyncClient, town: Any) -> None:
    await deliver(client, assigned(town))
    (task,) = await room_tasks(client, town.ROOM_A)
    early = await client.post(f"/v1/tasks/{task['id']}/close", json={"outcome": "done", "summary": "x"})
    assert early.status_code == 409
    assert early.json()["detail"] == "a task must be on scene before it is closed as done; this one is open"
    # the officer who accepts is the credential's subject (PA-2 is off duty), never a body field
    named = await client.post(f"/v1/tasks/{task['id']}/accept", json={"officer_id": "PA-1"})
    assert (named.status_code, named.json()["errors"][0]["loc"]) == (422, ["body", "officer_id"])
    pa2 = auth_headers(["policing"], subject="PA-2")
    off_duty = await client.post(f"/v1/tasks/{task['id']}/accept", json={}, headers=pa2)
    assert off_duty.status_code == 422
    assert off_duty.json()["detail"] == "officer_id: PA-2 is not on duty"
    bad = await client.post(f"/v1/tasks/{task['id']}/close", json={"outcome": "lost", "summary": "x"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"][-1] == "outcome"
    assert (await client.get(f"/v1/tasks/{task['id']}")).json()["status"] == "open"
    assert await outbox(client, "gov.policing.task.completed") == []
    missing = await client.post(f"/v1/tasks/{uuid.uuid4()}/accept", json={})
    assert missing.status_code == 404


async def test_police_mediation_hands_a_civil_dispute_back_to_mediation(client: httpx.AsyncClient, town: Any) -> None:
    event = assigned(town, matter_code="dispute.neighbour", grid_code=town.G2)
    await deliver(client, event)
    (task,) = await room_tasks(client, town.ROOM_A)
    await client.post(f"/v1/tasks/{task['id']}/accept", json={})
    await client.post(f"/v1/tasks/{task['id']}/on-scene")
    response = await client.post(
        f"/v1/tasks/{task['id']}/mediation", json={"result": "civil_dispute", "summary": "a debt between neighbours"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["referral_to"]) == ("referred", "mediation")
    (result,) = await outbox(client, "gov.policing.task.completed")
    assert (result["task_id"], result["outcome"], result["referral_to"]) == (
        str(event.task_id),
        "referred",
        "mediation",
    )


async def test_police_mediation_settles_a_minor_dispute(client: httpx.AsyncClient, town: Any) -> None:
    await deliver(client, assigned(town, matter_code="public_order"))
    (task,) = await room_tasks(client, town.ROOM_A)
    await client.post(f"/v1/tasks/{task['id']}/accept", json={})
    await client.post(f"/v1/tasks/{task['id']}/on-scene")
    settled = await client.post(f"/v1/tasks/{task['id']}/mediation", json={"result": "settled"})
    assert (settled.json()["outcome"], settled.json()["mediated"]) == ("done", True)
    (closed,) = await outbox(client, "gov.policing.police-task.closed")
    assert closed["mediated"] is True


async def test_an_urgent_alarm_case_from_dispatch_reaches_the_room_of_its_point(
    client: httpx.AsyncClient, town: Any
) -> None:
    # A camera alarm reaches policing only as the case intake made of it, routed by dispatch.
    lat, lon = town.centre(town.G3)
    event = assigned(
        town, matter_code="video.alarm", grid_code=None, location=Location(lat=lat, lon=lon), priority="urgent"
    )
    await deliver(client, event)
    (task,) = await room_tasks(client, town.ROOM_B)
    # Room B's only sworn officer is off duty: the task goes to the auxiliary on duty.
    assert (task["source"], task["case_id"], task["grid_code"], task["officer_id"], task["priority"]) == (
        "dispatch",
        str(event.case_id),
        town.G3,
        "PB-2",
        "urgent",
    )


async def test_a_violence_risk_opens_an_urgent_task_in_the_grids_room(client: httpx.AsyncClient, town: Any) -> None:
    flagged = ViolenceRiskFlagged(
        dispute_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        grid_code=town.G4,
        risk_level="high",
        summary="threats between parties",
        flagged_at=datetime.now(UTC),
    )
    await deliver(client, flagged)
    (task,) = await room_tasks(client, town.ROOM_B)
    assert (task["source"], task["priority"], task["case_id"]) == ("violence_risk", "urgent", str(flagged.case_id))


async def test_a_task_outside_every_room_waits_unrouted_until_the_duty_desk_routes_it(
    client: httpx.AsyncClient, town: Any
) -> None:
    await deliver(client, assigned(town, grid_code="999999999999999", location=None))
    unrouted = (await client.get("/v1/tasks", params={"status": "unrouted"})).json()
    assert [(t["grid_code"], t["room_code"]) for t in unrouted] == [("999999999999999", None)]
    task_id = unrouted[0]["id"]
    not_a_room = await client.post(f"/v1/tasks/{task_id}/route", json={"room_code": "PR-NOWHERE"})
    assert not_a_room.status_code == 422
    assert not_a_room.json()["detail"] == "room_code: room PR-NOWHERE not found"
    routed = await client.post(f"/v1/tasks/{task_id}/route", json={"room_code": town.ROOM_B})
    assert routed.status_code == 200, routed.text
    # Room B's officer is off duty; for a dispatch task the on-duty auxiliary is the one left.
    assert (routed.json()["status"], routed.json()["room_code"], routed.json()["officer_id"]) == (
        "open",
        town.ROOM_B,
        "PB-2",
    )
    (event,) = await outbox(client, "gov.policing.police-task.routed")
    assert (event["room_code"], event["previous_room_code"]) == (town.ROOM_B, None)
    await client.post(f"/v1/tasks/{task_id}/accept", json={})
    again = await client.post(f"/v1/tasks/{task_id}/route", json={"room_code": town.ROOM_A})
    assert again.status_code == 409
    assert again.json()["detail"] == "only a task not yet accepted can be routed; this one is accepted"


async def test_a_cancelled_dispatch_task_is_withdrawn_without_a_result(client: httpx.AsyncClient, town: Any) -> None:
    event = assigned(town)
    await deliver(client, event)
    cancel = TaskCancelled(
        task_id=event.task_id, case_id=event.case_id, reason="duplicate", cancelled_at=datetime.now(UTC)
    )
    await deliver(client, cancel)
    assert await room_tasks(client, town.ROOM_A) == []
    (closed,) = await outbox(client, "gov.policing.police-task.closed")
    assert closed["outcome"] == "withdrawn"
    assert await outbox(client, "gov.policing.task.completed") == []


async def test_a_task_for_someone_else_is_ignored(client: httpx.AsyncClient, town: Any) -> None:
    await deliver(client, assigned(town, target=TaskTarget.MEDIATION))
    assert await room_tasks(client, town.ROOM_A) == []


async def test_the_roster_decides_who_gets_the_next_task(client: httpx.AsyncClient, town: Any) -> None:
    response = await client.put(f"/v1/rooms/{town.ROOM_A}/roster", json={"on_duty": ["PA-2"]})
    assert response.status_code == 200, response.text
    assert [o["officer_id"] for o in response.json()["officers"] if o["on_duty"]] == ["PA-2"]
    await deliver(client, assigned(town))
    (task,) = await room_tasks(client, town.ROOM_A)
    assert task["officer_id"] == "PA-2"
    unknown = await client.put(f"/v1/rooms/{town.ROOM_A}/roster", json={"on_duty": ["PB-1"]})
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == f"on_duty: not officers of room {town.ROOM_A}: PB-1"


async def test_shifts_in_the_roster_decide_who_is_on_duty(client: httpx.AsyncClient, town: Any) -> None:
    now = datetime.now(UTC)

    def shift(officer: str, start_h: int, end_h: int) -> dict[str, str]:
        starts, ends = now + timedelta(hours=start_h), now + timedelta(hours=end_h)
        return {"officer_id": officer, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()}

    shifts = {
        "shifts": [
            # PA-1 (on duty by the imported flag) is scheduled for tonight only: off duty now.
            {
                "officer_id": "PA-1",
                "starts_at": (now + timedelta(hours=8)).isoformat(),
                "ends_at": (now + timedelta(hours=16)).isoformat(),
            },
            # PA-2 (off duty by the flag) has a shift now.
            {
                "officer_id": "PA-2",
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(hours=7)).isoformat(),
            },
        ]
    }
    created = await client.post(f"/v1/rooms/{town.ROOM_A}/shifts", json=shifts)
    assert created.status_code == 201, created.text
    roster = (await client.get(f"/v1/rooms/{town.ROOM_A}/roster")).json()["officers"]
    assert [(o["officer_id"], o["on_duty"], o["scheduled"]) for o in roster] == [
        ("PA-1", False, True),
        ("PA-2", True, True),
        ("PA-3", True, False),
    ]
    await deliver(client, assigned(town))
    (task,) = await room_tasks(client, town.ROOM_A)
    assert task["officer_id"] == "PA-2"
    listed = (await client.get(f"/v1/rooms/{town.ROOM_A}/shifts")).json()
    assert [s["officer_id"] for s in listed] == ["PA-2", "PA-1"]
    clash = await client.post(f"/v1/rooms/{town.ROOM_A}/shifts", json={"shifts": [shifts["shifts"][1]]})
    assert clash.status_code == 422
    assert clash.json()["detail"].startswith("shifts[0]: overlaps PA-2's shift")
    assert clash.json()["errors"][0]["loc"] == ["body", "shifts[0]"]
    removed = await client.delete(f"/v1/rooms/{town.ROOM_A}/shifts/{listed[0]['id']}")
    assert removed.status_code == 204
    assert [s["officer_id"] for s in (await client.get(f"/v1/rooms/{town.ROOM_A}/shifts")).json()] == ["PA-1"]


async def test_an_escalated_dispatch_task_shows_its_new_deadline(client: httpx.AsyncClient, town: Any) -> None:
    event = assigned(town)
    await deliver(client, event)
    new_due = datetime.now(UTC) + timedelta(days=1)
    async with runtime_of(client).uow() as uow:
        await handlers.extend_due_on_task_escalated(
            TaskEscalated(
                task_id=event.task_id,
                case_id=event.case_id,
                from_level=Level.COMMUNITY,
                to_level=Level.TOWNSHIP,
                centre_code="ZZ620702001",
                due_at=new_due,
                escalated_at=datetime.now(UTC),
            ),
            uow,
        )
        await uow.commit()
    (task,) = await room_tasks(client, town.ROOM_A)
    assert task["escalated_to"] == "ZZ620702001"
    assert datetime.fromisoformat(task["due_at"]) == new_due


# --- access: places, personal data ------------------------------------------------------------


async def test_a_grid_worker_sees_their_grids_room_and_records_only(client: httpx.AsyncClient, town: Any) -> None:
    worker = auth_headers(["policing"], [town.G1], subject="officer-g1")
    person = {"grid_code": town.G2, "category": "community_correction", "name": "某某"}
    assert (await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json=person)).status_code == 201
    assert [r["room_code"] for r in (await client.get("/v1/rooms", headers=worker)).json()] == [town.ROOM_A]
    assert (await client.get(f"/v1/rooms/{town.ROOM_A}", headers=worker)).status_code == 200
    # room A's key person is in G2, not the worker's grid
    assert (await client.get(f"/v1/rooms/{town.ROOM_A}/key-persons", headers=worker)).json() == []
    for room in (town.ROOM_B, "PR-NO-SUCH-ROOM"):
        refused = await client.get(f"/v1/rooms/{room}/roster", headers=worker)
        assert (refused.status_code, refused.json()["detail"]) == (403, "this room is not within your places")
    own = await client.post(
        f"/v1/rooms/{town.ROOM_A}/key-persons", json={**person, "grid_code": town.G1}, headers=worker
    )
    assert own.status_code == 201, own.text
    other = await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json=person, headers=worker)
    assert (other.status_code, other.json()["detail"]) == (403, f"'{town.G2}' is not within your places")


async def test_police_tasks_are_where_their_grid_is(client: httpx.AsyncClient, town: Any) -> None:
    await deliver(client, assigned(town, grid_code=town.G1))
    await deliver(client, assigned(town, grid_code=town.G3))
    tasks = {t["grid_code"]: t["id"] for t in (await client.get("/v1/tasks")).json()}
    community_a = auth_headers(["policing"], [town.G1[:12]], subject="community-a")
    county = auth_headers(["policing"], ["620702"])
    other_county = auth_headers(["policing"], ["620721"])
    assert [t["grid_code"] for t in (await client.get("/v1/tasks", headers=community_a)).json()] == [town.G1]
    assert len((await client.get("/v1/tasks", headers=county)).json()) == 2
    assert (await client.get("/v1/tasks", headers=other_county)).json() == []
    assert (await client.get(f"/v1/tasks/{tasks[town.G1]}", headers=community_a)).status_code == 200
    for task_id in (tasks[town.G3], str(uuid.uuid4())):
        refused = await client.post(f"/v1/tasks/{task_id}/on-scene", headers=community_a)
        assert (refused.status_code, refused.json()["detail"]) == (403, "this police task is not within your places")
    assert (await client.get(f"/v1/tasks/{uuid.uuid4()}")).status_code == 404  # unbound: a plain 404


async def test_key_person_names_need_personal_data_and_reading_them_is_audited(
    client: httpx.AsyncClient, town: Any
) -> None:
    note = "Treated at the county hospital; lives with his mother"
    person = {"grid_code": town.G1, "category": "mental_health", "name": "张三丰", "note": note}
    created = (await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json=person)).json()
    officer = auth_headers(["policing"], [town.G1], subject="officer")
    masked = (await client.get(f"/v1/rooms/{town.ROOM_A}/key-persons", headers=officer)).json()
    # who they are and why they are a key person: personal data, like the name
    assert [(p["name"], p["category"], p["note"]) for p in masked] == [("张**", "***", None)]
    added = await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json={**person, "name": "李四"}, headers=officer)
    assert (added.json()["category"], added.json()["note"]) == ("***", None)
    reader = auth_headers(["policing", "personal-data"], [town.G1], subject="case-officer")
    why = {"X-Purpose": "home visit planning"}
    full = (await client.get(f"/v1/rooms/{town.ROOM_A}/key-persons", headers={**reader, **why})).json()
    assert (full[0]["name"], full[0]["category"], full[0]["note"]) == ("张三丰", "mental_health", note)
    [read, _] = (await client.get("/v1/audit", params={"action": "read"})).json()["items"]
    assert (read["subject"], read["resource_id"], read["fields"], read["purpose"]) == (
        "case-officer",
        created["id"],
        "category,name,note",
        "home visit planning",
    )
    [change, _] = (await client.get("/v1/audit", params={"action": "change"})).json()["items"]
    assert (change["subject"], change["resource_id"]) == ("test-admin", created["id"])
    assert "mental_health" not in change["reason"]  # the category stays out of the audit log too


async def test_a_one_character_name_is_hidden_whole_without_personal_data(client: httpx.AsyncClient, town: Any) -> None:
    person = {"grid_code": town.G1, "category": "mental_health", "name": "李"}
    assert (await client.post(f"/v1/rooms/{town.ROOM_A}/key-persons", json=person)).status_code == 201
    officer = auth_headers(["policing"], [town.G1], subject="officer")
    masked = (await client.get(f"/v1/rooms/{town.ROOM_A}/key-persons", headers=officer)).json()
    assert [p["name"] for p in masked] == ["*"]  # "李" was shown whole before: its first character is all of it


async def test_only_an_unbound_caller_replaces_the_reference_data(
    client: httpx.AsyncClient, town: Any, city: dict[str, Any]
) -> None:
    county = auth_headers(["policing", "grid:import"], ["620702"])
    refused = await client.put("/v1/reference", json=city, headers=county)
    assert refused.status_code == 403
    scope = await client.put("/v1/reference", json=city, headers=auth_headers(["policing"]))
    assert (scope.status_code, scope.json()["detail"]) == (403, "scope 'grid:import' is required")

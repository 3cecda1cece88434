"""Who may do what in intake: scopes per endpoint, places by the case's grid code, personal
data masked unless the caller may see it (and every unmasked read audited), police details
only with the policing scope, Open311's refusals in Open311's error format."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import httpx
from support import ADMIN, api_key, auth_headers

from govmesh_contracts import CaseDispatched, PoliceTaskOpened
from govmesh_contracts.events.policing import PoliceTaskSource

Deliver = Callable[..., Awaitable[None]]
GRID = "620702001001001"  # a grid of Ganzhou district (county 620702)
OTHER_GRID = "620702001002003"  # another grid of the same county
OTHER_COUNTY_GRID = "620721001001001"  # a grid of Sunan county
CASE: dict[str, Any] = {
    "matter_code": "dispute.neighbour",
    "description": "Water leaks from above.",
    "lat": 38.93,
    "lon": 100.45,
    "attributes": {"parties_count": 2},
}
REPORTER = {"name": "张三", "phone": "13812345678", "id_number": "11010519491231002X"}
WORKER = auth_headers(["cases:read", "cases:create"], [GRID], subject="grid-worker-1")
COUNTY = auth_headers(["cases:read"], ["620702"], subject="county-centre")
OTHER_COUNTY = auth_headers(["cases:read"], ["620721"], subject="sunan-centre")
STAFF = auth_headers(["cases:read", "cases:create"], subject="hotline-desk")
OFFICER = auth_headers(["cases:read", "personal-data"], subject="case-officer")
AUDITOR = auth_headers(["audit:read"], subject="auditor")


async def create(client: httpx.AsyncClient, grid_code: str | None, **extra: Any) -> dict[str, Any]:
    """A case far from the others (no duplicate linking), in a grid, made by an unbound caller."""
    spot = uuid.uuid4().int
    body = {**CASE, "lat": 38.0 + spot % 1700 / 1000, "lon": 98.0 + spot // 1700 % 4000 / 1000}
    answer = await client.post("/v1/cases", json={**body, "grid_code": grid_code, **extra}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    case: dict[str, Any] = answer.json()
    return case


async def audit_log(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    answer = await client.get("/v1/audit", params=params, headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_no_credential_is_a_401_everywhere_but_health_and_metrics(client: httpx.AsyncClient) -> None:
    bare = {"Authorization": ""}  # the client's default credential, removed
    for path in ("/v1/cases", f"/v1/cases/{uuid.uuid4()}", "/v1/matters"):
        answer = await client.get(path, headers=bare)
        assert answer.status_code == 401, path
        assert "credential required" in answer.json()["detail"]
    assert (await client.post("/v1/cases", json=CASE, headers=bare)).status_code == 401
    assert (await client.get("/healthz", headers=bare)).status_code == 200
    assert (await client.get("/metrics", headers=bare)).status_code == 200


async def test_a_missing_scope_is_a_403_with_its_reason(client: httpx.AsyncClient) -> None:
    case = await create(client, GRID)
    registry = auth_headers(["grid:read"], subject="registry-reader")
    reader = auth_headers(["cases:read"], subject="open-data-portal")
    answer = await client.get(f"/v1/cases/{case['id']}", headers=registry)
    assert (answer.status_code, answer.json()["detail"]) == (403, "scope 'cases:read' is required")
    assert (await client.get("/v1/cases", headers=registry)).status_code == 403
    for write in (
        client.post("/v1/cases", json=CASE, headers=reader),
        client.post(f"/v1/cases/{case['id']}/feedback", json={"satisfaction": 5, "solved": True}, headers=reader),
    ):
        refused = await write
        assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'cases:create' is required")
    assert (await client.get(f"/v1/cases/{case['id']}", headers=reader)).status_code == 200
    assert (await client.get("/v1/matters", headers=registry)).status_code == 200  # the public catalogue
    refusals = await audit_log(client, action="refused")
    assert [r["subject"] for r in refusals] == ["registry-reader"] * 2 + ["open-data-portal"] * 2


async def test_a_grid_worker_reads_and_writes_only_in_their_grid(client: httpx.AsyncClient) -> None:
    mine, theirs, unlocated = await create(client, GRID), await create(client, OTHER_GRID), await create(client, None)
    assert (await client.get(f"/v1/cases/{mine['id']}", headers=WORKER)).status_code == 200
    outside = await client.get(f"/v1/cases/{theirs['id']}", headers=WORKER)
    missing = await client.get(f"/v1/cases/{uuid.uuid4()}", headers=WORKER)
    not_placed = await client.get(f"/v1/cases/{unlocated['id']}", headers=WORKER)
    assert outside.status_code == missing.status_code == not_placed.status_code == 403
    # Word for word the same: a refusal never tells whether the case exists.
    same = [{k: v for k, v in r.json().items() if k != "instance"} for r in (outside, missing, not_placed)]
    assert same[0] == same[1] == same[2]  # nothing tells an outside case from a missing one but the path asked
    assert same[0]["detail"] == "this case is not within your places"
    listed = (await client.get("/v1/cases", headers=WORKER)).json()
    assert ([c["id"] for c in listed["items"]], listed["total"]) == ([mine["id"]], 1)
    feedback = {"satisfaction": 5, "solved": True}
    assert (await client.post(f"/v1/cases/{theirs['id']}/feedback", json=feedback, headers=WORKER)).status_code == 403

    created = await client.post("/v1/cases", json={**CASE, "lat": 39.5, "grid_code": GRID}, headers=WORKER)
    assert created.status_code == 201, created.text
    assert created.json()["grid_code"] == GRID
    elsewhere = await client.post("/v1/cases", json={**CASE, "lat": 39.6, "grid_code": OTHER_GRID}, headers=WORKER)
    assert (elsewhere.status_code, elsewhere.json()["detail"]) == (403, f"'{OTHER_GRID}' is not within your places")
    # A grid worker's terminal that names no grid reports on the worker's own grid.
    unnamed = await client.post("/v1/cases", json={**CASE, "lat": 39.7}, headers=WORKER)
    assert (unnamed.status_code, unnamed.json()["grid_code"]) == (201, GRID)
    # A centre covers many grids: it must name one.
    centre = auth_headers(["cases:read", "cases:create"], ["620702"], subject="county-desk")
    unnamed = await client.post("/v1/cases", json={**CASE, "lat": 39.8}, headers=centre)
    assert (unnamed.status_code, unnamed.json()["detail"]) == (403, "give a grid_code within your places")
    assert (await client.get("/v1/cases", headers=ADMIN)).json()["total"] == 5  # the refused ones wrote nothing


async def test_a_grid_workers_report_links_only_to_a_case_they_may_see(client: httpx.AsyncClient) -> None:
    nearby = await client.post("/v1/cases", json={**CASE, "grid_code": OTHER_GRID}, headers=ADMIN)
    mine = await client.post("/v1/cases", json={**CASE, "lat": 38.9301, "grid_code": GRID}, headers=WORKER)
    assert (mine.status_code, mine.json()["outcome"]) == (201, "created")  # not linked to the case next door
    again = await client.post("/v1/cases", json={**CASE, "lat": 38.9302, "grid_code": GRID}, headers=WORKER)
    assert (again.json()["outcome"], again.json()["id"]) == ("linked", mine.json()["id"])
    assert nearby.json()["id"] != mine.json()["id"]


async def test_dispatchs_location_decides_who_sees_the_case(client: httpx.AsyncClient, deliver: Deliver) -> None:
    unlocated, hinted = await create(client, None), await create(client, GRID)
    now = datetime.now(UTC)
    for case, grid in ((unlocated, GRID), (hinted, OTHER_GRID)):
        await deliver(
            CaseDispatched(case_id=uuid.UUID(case["id"]), grid_code=grid, handled_by="centre:620702", dispatched_at=now)
        )
    assert (await client.get(f"/v1/cases/{unlocated['id']}", headers=WORKER)).json()["grid_code"] == GRID
    assert (await client.get(f"/v1/cases/{hinted['id']}", headers=WORKER)).status_code == 403
    # Not located by dispatch: the creator's grid stays.
    kept = await create(client, GRID)
    await deliver(CaseDispatched(case_id=uuid.UUID(kept["id"]), handled_by="centre:620700", dispatched_at=now))
    assert (await client.get(f"/v1/cases/{kept['id']}", headers=WORKER)).status_code == 200


async def test_a_county_centre_sees_its_grids_and_not_another_countys(client: httpx.AsyncClient) -> None:
    ours = [await create(client, GRID), await create(client, OTHER_GRID)]
    theirs = await create(client, OTHER_COUNTY_GRID)
    listed = (await client.get("/v1/cases", headers=COUNTY)).json()["items"]
    assert sorted(c["id"] for c in listed) == sorted(c["id"] for c in ours)
    for case in ours:
        assert (await client.get(f"/v1/cases/{case['id']}", headers=COUNTY)).status_code == 200
    assert (await client.get(f"/v1/cases/{theirs['id']}", headers=COUNTY)).status_code == 403
    assert [c["id"] for c in (await client.get("/v1/cases", headers=OTHER_COUNTY)).json()["items"]] == [theirs["id"]]


async def test_personal_data_is_unmasked_only_with_its_scope_and_every_such_read_is_audited(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/cases", json={**CASE, "reporter": REPORTER}, headers=STAFF)
    case_id = created.json()["id"]
    assert created.json()["reporter"]["masked"] is True
    [change] = await audit_log(client, action="change")  # the creation, in the same transaction
    assert (change["subject"], change["resource"], change["resource_id"], change["fields"]) == (
        "hotline-desk",
        "case",
        case_id,
        "reporter.id_number,reporter.name,reporter.phone",
    )
    masked = (await client.get(f"/v1/cases/{case_id}", headers=STAFF)).json()["reporter"]
    assert (masked["name"], masked["phone"], masked["masked"]) == ("张*", "138****5678", True)
    assert await audit_log(client, action="read") == []  # a masked read is not a read of personal data

    purpose = {"X-Purpose": "call the reporter back about the leak"}
    shown = (await client.get(f"/v1/cases/{case_id}", headers={**OFFICER, **purpose})).json()["reporter"]
    assert (shown["name"], shown["phone"], shown["id_number"], shown["masked"]) == (*REPORTER.values(), False)
    assert (await client.get("/v1/cases", headers=OFFICER)).status_code == 200  # summaries carry no reporter
    [read] = await audit_log(client, action="read")
    assert (read["subject"], read["resource"], read["resource_id"], read["fields"], read["purpose"]) == (
        "case-officer",
        "case",
        case_id,
        "reporter.id_number,reporter.name,reporter.phone",
        "call the reporter back about the leak",
    )
    assert read["route"] == "GET /v1/cases/{case_id}"


async def test_police_details_in_the_timeline_need_the_policing_scope(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    case = await create(client, GRID)
    await deliver(
        PoliceTaskOpened(
            police_task_id=uuid.uuid4(),
            source=PoliceTaskSource.DISPATCH,
            source_ref="t-1",
            case_id=uuid.UUID(case["id"]),
            room_code="PR-620702001-A",
            officer_id="officer-0042",
            opened_at=datetime.now(UTC),
        )
    )
    police = auth_headers(["cases:read", "policing"], subject="police-room")

    async def police_step(headers: dict[str, str]) -> dict[str, Any]:
        timeline = (await client.get(f"/v1/cases/{case['id']}", headers=headers)).json()["timeline"]
        step: dict[str, Any] = next(t for t in timeline if t["kind"] == "police_task_opened")
        return step

    assert "officer-0042" in (await police_step(police))["note"]
    without = await police_step(STAFF)
    assert (without["actor"], without["note"]) == ("police_room:PR-620702001-A", None)  # who holds it, not details
    notes = (await client.get("/open311/v2/requests.json", headers=STAFF)).json()[0]["status_notes"]
    assert "police_task_opened" in notes and "officer-0042" not in notes


# --- Open311 -----------------------------------------------------------------------------------


def open311_errors(answer: httpx.Response) -> list[tuple[str, str]]:
    if answer.headers["content-type"].startswith("text/xml"):
        root = ET.fromstring(answer.content)  # noqa: S314  (our own service's answer)
        assert root.tag == "errors"
        return [(e.findtext("code", ""), e.findtext("description", "")) for e in root.findall("error")]
    return [(str(e["code"]), e["description"]) for e in answer.json()]


async def test_open311_needs_a_key_to_post_not_to_read_and_refuses_in_its_own_format(
    client: httpx.AsyncClient,
) -> None:
    bare = {"Authorization": ""}
    for path in ("/open311/v2/discovery.xml", "/open311/v2/services.json", "/open311/v2/requests.xml"):
        assert (await client.get(path, headers=bare)).status_code == 200, path  # GeoReport v2: public reads
    wrong_key = await client.get("/open311/v2/services.json", params={"api_key": "gmk_x_y"}, headers=bare)
    assert wrong_key.status_code == 401  # a key that is sent is checked
    assert [code for code, _ in open311_errors(wrong_key)] == ["401"]

    reader = api_key(["cases:read"], subject="open-data-app")
    form = {"api_key": reader, "service_code": "dispute.neighbour", "lat": "38.93", "long": "100.45"}
    refused = await client.post("/open311/v2/requests.xml", data=form, headers=bare)
    assert refused.status_code == 403
    assert open311_errors(refused) == [("403", "scope 'cases:create' is required")]
    keyless = await client.post("/open311/v2/requests.xml", data={**form, "api_key": ""}, headers=bare)
    assert keyless.status_code == 401 and "credential required" in open311_errors(keyless)[0][1]
    listed = await client.get("/open311/v2/requests.json", params={"api_key": reader}, headers=bare)
    assert (listed.status_code, listed.json()) == (200, [])
    by_header = await client.get("/open311/v2/services.json", headers={**bare, "X-API-Key": reader})
    assert by_header.status_code == 200

    writer = api_key(["cases:create"], subject="citizen-app")
    created = await client.post("/open311/v2/requests.json", data={**form, "api_key": writer}, headers=bare)
    assert created.status_code == 201, created.text  # the key in the form body


async def test_an_open311_key_bound_to_a_grid_sees_and_posts_only_there(client: httpx.AsyncClient) -> None:
    bare = {"Authorization": ""}
    key = {"X-API-Key": api_key(["cases:read", "cases:create"], [GRID], subject="grid-app"), **bare}
    mine, theirs = await create(client, GRID), await create(client, OTHER_GRID)
    listed = (await client.get("/open311/v2/requests.json", headers=key)).json()
    assert [r["service_request_id"] for r in listed] == [mine["case_number"]]
    ok = await client.get(f"/open311/v2/requests/{mine['case_number']}.json", headers=key)
    assert ok.status_code == 200
    outside = await client.get(f"/open311/v2/requests/{theirs['case_number']}.xml", headers=key)
    missing = await client.get("/open311/v2/requests/620702-20260101-999999.xml", headers=key)
    assert outside.status_code == missing.status_code == 403
    assert open311_errors(outside) == open311_errors(missing) == [("403", "this case is not within your places")]
    token = await client.get(f"/open311/v2/tokens/{theirs['id']}.json", headers=key)
    assert open311_errors(token) == [("403", "this case is not within your places")]
    unbound_missing = await client.get("/open311/v2/requests/620702-20260101-999999.xml", headers=ADMIN)
    assert unbound_missing.status_code == 404

    form = {"service_code": "dispute.neighbour", "lat": "39.1", "long": "100.1"}
    unnamed = await client.post("/open311/v2/requests.json", data=form, headers=key)
    assert open311_errors(unnamed) == [("403", "give a grid_code within your places")]
    posted = await client.post("/open311/v2/requests.json", data={**form, "grid_code": GRID}, headers=key)
    assert posted.status_code == 201, posted.text
    bad = await client.post("/open311/v2/requests.json", data={**form, "grid_code": "62"}, headers=key)
    assert open311_errors(bad) == [("400", "grid_code: a 15-digit unified grid code")]


async def test_an_open311_post_with_a_reporter_is_audited_as_a_change(client: httpx.AsyncClient) -> None:
    form = {
        "service_code": "dispute.neighbour",
        "lat": "38.93",
        "long": "100.45",
        "last_name": "张",
        "first_name": "三",
        "phone": "13812345678",
    }
    key = api_key(["cases:create"], subject="citizen-app")
    answer = await client.post(
        "/open311/v2/requests.json", data={**form, "api_key": key}, headers={"Authorization": ""}
    )
    assert answer.status_code == 201, answer.text
    [change] = await audit_log(client, action="change")
    assert (change["subject"], change["via"], change["fields"]) == (
        "citizen-app",
        "api_key",
        "reporter.name,reporter.phone",
    )


async def test_a_centre_erases_a_residents_personal_data_and_the_case_stays_as_a_tombstone(
    client: httpx.AsyncClient, deliver: Deliver, outbox: Any
) -> None:
    text = "楼上漏水，联系人张三 13812345678"
    created = await client.post(
        "/v1/cases",
        json={**CASE, "description": text, "address": "县府街12号3单元", "grid_code": GRID, "reporter": REPORTER},
        headers=STAFF,
    )
    case = created.json()
    await deliver(
        CaseDispatched(
            case_id=uuid.UUID(case["id"]),
            grid_code=GRID,
            handled_by="centre:C620702001001",
            dispatched_at=datetime.now(UTC),
            note="张三 called again from 13812345678",
        )
    )
    centre = auth_headers(["cases:read", "cases:manage", "personal-data"], ["620702"], subject="county-centre")
    why = {"reason": "resident's written request 2026-1203-07"}
    # not for those who create or read cases, nor for a centre of another county
    for refused_by, headers in (
        ("cases:manage", {**WORKER}),
        ("cases:manage", {"Authorization": "", "X-API-Key": api_key(["cases:create", "cases:read"])}),
        ("personal-data", auth_headers(["cases:read", "cases:manage"], subject="centre-without-personal-data")),
    ):
        answer = await client.post(f"/v1/cases/{case['id']}/erasure", json=why, headers=headers)
        assert (answer.status_code, answer.json()["detail"]) == (403, f"scope '{refused_by}' is required")
    elsewhere = auth_headers(["cases:read", "cases:manage", "personal-data"], ["620721"], subject="sunan-centre")
    assert (await client.post(f"/v1/cases/{case['id']}/erasure", json=why, headers=elsewhere)).status_code == 403

    erased = await client.post(f"/v1/cases/{case['id']}/erasure", json=why, headers=centre)
    assert erased.status_code == 200, erased.text
    after = (await client.get(f"/v1/cases/{case['id']}", headers={**OFFICER, "X-Purpose": "check the erasure"})).json()
    assert (after["case_number"], after["matter_code"], after["status"]) == (
        case["case_number"],
        case["matter_code"],
        "dispatched",
    )
    assert after["description"] == "[erased at the resident's request]" and after["address"] is None
    assert after["attributes"] == {}
    shown = json.dumps(after, ensure_ascii=False)
    for personal in ("张三", "13812345678", REPORTER["id_number"], "县府街"):
        assert personal not in shown
    assert [step["kind"] for step in after["timeline"]][-1] == "personal_data_erased"
    assert all(step["note"] in (None, "[erased at the resident's request]") for step in after["timeline"])
    [change] = [c for c in await audit_log(client, action="change") if c["subject"] == "county-centre"]
    assert (change["resource_id"], change["reason"]) == (case["id"], "resident's written request 2026-1203-07")
    assert "reporter" in change["fields"].split(",") and "description" in change["fields"].split(",")
    # services holding copies are told (dispatch erases its description and address)
    [erasure] = await outbox("gov.intake.case.personal-data-erased")
    assert (erasure.key, json.loads(erasure.payload)["case_id"]) == (case["id"], case["id"])

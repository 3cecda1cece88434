"""Component tests of Open311 GeoReport v2, written like a client: form-encoded POSTs, XML and JSON parsed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from sqlmodel import select
from support import api_key

from govmesh_contracts import CaseDispatched, CaseResolved, TaskAssigned, TaskTarget
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import OutboxMessage
from intake.adapters.tables import CaseLinkRow
from intake.domain.taxonomy import MATTERS

Deliver = Callable[..., Awaitable[None]]
Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Outbox = Callable[..., Awaitable[list[OutboxMessage]]]
# An Open311 client's key from the mesh's keyring (govmesh-auth api-key): reads and posts requests.
API_KEY = api_key(["cases:read", "cases:create"], subject="open311-app")
BASE = "/open311/v2"
FORM = {
    "api_key": API_KEY,
    "service_code": "dispute.neighbour",
    "lat": "38.93",
    "long": "100.45",
    "description": "楼上漏水 Water leaks from above.",
    "attribute[parties_count]": "2",
}


@pytest.fixture
def credential() -> dict[str, Any]:
    """Intake as an Open311 client sees it: its API key on every request (query), nothing else."""
    return {"params": {"api_key": API_KEY}, "headers": {"Accept-Language": "en"}}  # notes in English


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.headers["content-type"]
    return ET.fromstring(response.content)  # noqa: S314  (our own service's answer)


def record(element: ET.Element) -> dict[str, str | None]:
    return {child.tag: child.text for child in element}


def xml_errors(response: httpx.Response) -> list[tuple[str | None, str | None]]:
    root = xml(response)
    assert root.tag == "errors"
    return [(e.findtext("code"), e.findtext("description")) for e in root.findall("error")]


async def post(client: httpx.AsyncClient, form: dict[str, Any], fmt: str = "xml") -> httpx.Response:
    return await client.post(f"{BASE}/requests.{fmt}", data=form)


async def test_discovery_names_the_spec_and_both_formats(client: httpx.AsyncClient) -> None:
    root = xml(await client.get(f"{BASE}/discovery.xml"))
    endpoint = root.find("endpoints/endpoint")
    assert endpoint is not None
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url", "").endswith("/open311/v2/")
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    data = (await client.get(f"{BASE}/discovery.json")).json()
    assert data["endpoints"][0]["formats"] == ["text/xml", "application/json"]


async def test_services_list_every_matter_in_xml_and_json(client: httpx.AsyncClient) -> None:
    root = xml(await client.get(f"{BASE}/services.xml"))
    services = {s.findtext("service_code"): record(s) for s in root.findall("service")}
    assert set(services) == {m.code for m in MATTERS}  # every matter of the taxonomy, 设备故障 included
    assert services["dispute.neighbour"]["service_name"] == "邻里纠纷"
    assert services["dispute.neighbour"]["metadata"] == "true"
    assert services["dispute.neighbour"]["type"] == "realtime"
    as_json = (await client.get(f"{BASE}/services.json")).json()
    assert {s["service_code"] for s in as_json} == set(services)
    assert all(
        set(s) >= {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        for s in as_json
    )


async def test_a_service_definition_carries_typed_attributes(client: httpx.AsyncClient) -> None:
    root = xml(await client.get(f"{BASE}/services/safety.hazard.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "safety.hazard"
    [kind, urgency] = root.findall("attributes/attribute")
    assert (kind.findtext("code"), kind.findtext("datatype"), kind.findtext("required")) == (
        "hazard_kind",
        "multivaluelist",
        "true",
    )
    assert (kind.findtext("variable"), kind.findtext("order")) == ("true", "1")
    assert [v.findtext("key") for v in kind.findall("values/value")] == [
        "fire",
        "gas",
        "structure",
        "traffic",
        "production",
    ]
    assert urgency.findtext("required") == "false"
    definition = (await client.get(f"{BASE}/services/safety.hazard.json")).json()
    assert definition["attributes"][0]["values"][0] == {"key": "fire", "name": "消防 fire"}


async def test_unknown_service_format_and_jurisdiction_are_404_in_the_spec_error_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{BASE}/services/nope.xml")
    assert response.status_code == 404
    assert xml_errors(response) == [("404", "service_code 'nope' not found")]
    response = await client.get(f"{BASE}/services/nope.json")
    assert (response.status_code, response.json()) == (
        404,
        [{"code": 404, "description": "service_code 'nope' not found"}],
    )
    assert (await client.get(f"{BASE}/services.csv")).status_code == 404
    response = await client.get(f"{BASE}/services.xml", params={"jurisdiction_id": "lanzhou.gov.cn"})
    assert response.status_code == 404 and "jurisdiction_id" in xml_errors(response)[0][1]  # type: ignore[operator]


async def test_post_creates_a_request_and_get_returns_it_in_both_formats(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    form = {
        **FORM,
        "first_name": "三",
        "last_name": "张",
        "phone": "13812345678",
        "account_id": "acc-9",
        "media_url": "https://files.example/leak.jpg",
        "email": "z@example.cn",
    }
    response = await post(client, form)
    assert response.status_code == 201, response.text
    root = xml(response)
    assert root.tag == "service_requests"
    [answer] = [record(r) for r in root.findall("request")]
    assert answer["account_id"] == "acc-9"
    request_id = answer["service_request_id"]
    assert request_id and request_id.startswith("620702-")
    assert "token" not in answer  # realtime: the id, never a token

    got = record(xml(await client.get(f"{BASE}/requests/{request_id}.xml")).find("request"))  # type: ignore[arg-type]
    assert got["service_request_id"] == request_id
    assert (got["status"], got["service_code"], got["service_name"]) == ("open", "dispute.neighbour", "邻里纠纷")
    assert (got["lat"], got["long"], got["media_url"]) == ("38.93", "100.45", "https://files.example/leak.jpg")
    requested = datetime.fromisoformat(got["requested_datetime"] or "")
    expected = datetime.fromisoformat(got["expected_datetime"] or "")
    assert requested.tzinfo is not None and expected - requested == timedelta(hours=360)
    assert "received" in (got["status_notes"] or "")
    [as_json] = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    assert as_json["service_request_id"] == request_id and as_json["long"] == 100.45

    [message] = await outbox("gov.intake.case.received")
    assert '"channel":"open311"' in message.payload.replace(" ", "")
    for secret in ("张", "13812345678", "z@example.cn"):
        assert secret not in message.payload


async def test_a_multivaluelist_attribute_is_posted_as_repeated_keys(client: httpx.AsyncClient) -> None:
    form = [
        ("api_key", API_KEY),
        ("service_code", "safety.hazard"),
        ("address_string", "甘州区 西街 5号"),
        ("attribute[hazard_kind][]", "fire"),
        ("attribute[hazard_kind][]", "gas"),
        ("description", "smoke"),
    ]
    response = await client.post(
        f"{BASE}/requests.json",
        content=httpx.QueryParams(form).__str__(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text
    [answer] = response.json()
    case = (await client.get("/v1/cases", params={"q": answer["service_request_id"]})).json()["items"][0]
    full = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert full["attributes"] == {"hazard_kind": ["fire", "gas"]}
    assert full["channel"] == "open311" and full["address"] == "甘州区 西街 5号"


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"service_code": "dispute.alien"}, 404, "service_code 'dispute.alien' not found"),
        ({"jurisdiction_id": "lanzhou.gov.cn"}, 404, "jurisdiction_id"),
        ({"service_code": None}, 400, "service_code: required"),
        ({"lat": None, "long": None}, 400, "location"),
        ({"lat": "abc"}, 400, "lat/long"),
        ({"lat": "30.0"}, 400, "lat: outside the jurisdiction"),
        ({"description": "x" * 4001}, 400, "description: at most 4,000 characters"),
        ({"description": "<b>help</b>"}, 400, "description: HTML is not allowed"),
        ({"service_code": "safety.hazard", "attribute[parties_count]": None}, 400, "attribute[hazard_kind]: required"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour]: unknown attribute"),
        ({"phone": "555"}, 400, "phone: must be a mainland mobile"),
        ({"lat": "NaN"}, 422, "lat: must be a finite number"),
        ({"long": "1e400"}, 422, "long: must be a finite number"),
        ({"long": "-inf"}, 422, "long: must be a finite number"),
        ({"attribute[parties_count]": "NaN"}, 422, "attribute[parties_count]: must be a finite number"),
        ({"attribute[parties_count]": "Infinity"}, 422, "attribute[parties_count]: must be a finite number"),
    ],
)
async def test_bad_posts_get_the_spec_error_body_and_write_nothing(
    client: httpx.AsyncClient, outbox: Outbox, change: dict[str, str | None], status: int, needle: str
) -> None:
    form = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    for fmt in ("xml", "json"):
        response = await post(client, form, fmt)
        assert response.status_code == status, response.text
        as_json = [(str(e["code"]), e["description"]) for e in response.json()] if fmt == "json" else []
        errors = xml_errors(response) if fmt == "xml" else as_json
        assert any(code == str(status) and needle in (text or "") for code, text in errors), errors
    assert await outbox() == []


async def test_several_errors_at_once(client: httpx.AsyncClient) -> None:
    form = {**FORM, "lat": "30.0", "long": "120.0", "phone": "555"}
    descriptions = [d for _, d in xml_errors(await post(client, form))]
    assert any(d and d.startswith("lat:") for d in descriptions)
    assert any(d and d.startswith("long:") for d in descriptions)
    assert any(d and d.startswith("phone:") for d in descriptions)


async def test_a_duplicate_post_answers_the_open_request_with_a_notice(client: httpx.AsyncClient) -> None:
    first = record(xml(await post(client, FORM)).find("request"))  # type: ignore[arg-type]
    response = await post(client, {**FORM, "lat": "38.9303"})
    assert response.status_code == 200
    second = record(xml(response).find("request"))  # type: ignore[arg-type]
    assert second["service_request_id"] == first["service_request_id"]
    assert "is linked to open request" in (second["service_notice"] or "")


async def test_a_duplicate_post_answers_its_own_receipt_and_nothing_of_the_other_resident(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    theirs = {
        **FORM,
        "description": "王五家楼上漏水",
        "media_url": "https://files.example/wang.jpg",
        "last_name": "王",
        "first_name": "五",
        "phone": "13700001111",
        "account_id": "wang-account",
    }
    first = (await post(client, theirs, "json")).json()[0]
    mine = {
        **FORM,
        "lat": "38.9303",
        "description": "Water from above, our flat too",
        "media_url": "https://files.example/li.jpg",
        "account_id": "li-account",
    }
    for fmt in ("json", "xml"):
        response = await post(client, mine, fmt)
        assert response.status_code == 200, response.text
        for other in ("王", "13700001111", "wang", "漏水"):
            assert other not in response.text, (fmt, other)
        answer = response.json()[0] if fmt == "json" else record(xml(response).find("request"))  # type: ignore[arg-type]
        assert answer["service_request_id"] == first["service_request_id"]  # the request to follow
        assert answer["account_id"] == "li-account"
        assert f"Your report {first['service_request_id']}-L" in (answer["service_notice"] or "")
    async with runtime.db.sessions() as session:  # what this resident sent is kept with the link
        links = (await session.exec(select(CaseLinkRow))).all()
    assert [json.loads(link.attachments_json) for link in links] == [["https://files.example/li.jpg"]] * 2


async def test_get_requests_filters_by_the_spec(client: httpx.AsyncClient, deliver: Deliver) -> None:
    ids = []
    for lat in ("38.90", "38.95", "39.00"):
        [answer] = (await post(client, {**FORM, "lat": lat}, "json")).json()
        ids.append(answer["service_request_id"])
    hazard = {**FORM, "service_code": "safety.hazard", "attribute[hazard_kind][]": "fire"}
    del hazard["attribute[parties_count]"]
    [h] = (await post(client, hazard, "json")).json()
    case = (await client.get("/v1/cases", params={"q": ids[0]})).json()["items"][0]
    await deliver(CaseResolved(case_id=uuid.UUID(case["id"]), resolved_at=datetime.now(UTC)))

    async def listed(**params: str) -> list[str]:
        root = xml(await client.get(f"{BASE}/requests.xml", params=params))
        return sorted(r.findtext("service_request_id") or "" for r in root.findall("request"))

    assert await listed() == sorted([*ids, h["service_request_id"]])
    assert await listed(service_code="safety.hazard") == [h["service_request_id"]]
    assert await listed(service_code="safety.hazard,dispute.neighbour") == sorted([*ids, h["service_request_id"]])
    assert await listed(status="closed") == [ids[0]]
    assert await listed(status="open", service_code="dispute.neighbour") == sorted(ids[1:])
    assert await listed(service_request_id=f"{ids[0]},{ids[2]}", status="open") == sorted([ids[0], ids[2]])
    past = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    assert await listed(start_date=(datetime.now(UTC) - timedelta(days=1)).isoformat()) != []
    assert await listed(end_date=past) == []
    assert len(await listed(page_size="2")) == 2
    assert len(await listed(page_size="2", page="2")) == 2


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"status": "pending"}, "status"),
        ({"page_size": "5000"}, "page_size"),
    ],
)
async def test_bad_list_filters_are_400(client: httpx.AsyncClient, params: dict[str, str], needle: str) -> None:
    response = await client.get(f"{BASE}/requests.xml", params=params)
    assert response.status_code == 400
    assert needle in (xml_errors(response)[0][1] or "")


async def test_unknown_request_and_token_are_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/requests/620702-20000101-000001.xml")
    assert response.status_code == 404 and xml_errors(response)[0][0] == "404"
    assert (await client.get(f"{BASE}/tokens/{uuid.uuid4()}.json")).status_code == 404
    assert (await client.get(f"{BASE}/tokens/not-a-token.json")).status_code == 404


async def test_a_token_gives_the_request_id(client: httpx.AsyncClient) -> None:
    [answer] = (await post(client, FORM, "json")).json()
    case = (await client.get("/v1/cases", params={"q": answer["service_request_id"]})).json()["items"][0]
    root = xml(await client.get(f"{BASE}/tokens/{case['id']}.xml"))
    assert record(root.find("request")) == {  # type: ignore[arg-type]
        "service_request_id": answer["service_request_id"],
        "token": case["id"],
    }


async def test_status_notes_follow_the_hand_offs_and_closed_means_handled(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    [answer] = (await post(client, FORM, "json")).json()
    rid = answer["service_request_id"]
    case = (await client.get("/v1/cases", params={"q": rid})).json()["items"][0]
    case_id, now = uuid.UUID(case["id"]), datetime.now(UTC)
    await deliver(
        CaseDispatched(case_id=case_id, grid_code="620702001001", handled_by="centre:620700", dispatched_at=now)
    )
    await deliver(
        TaskAssigned(
            task_id=uuid.uuid4(),
            case_id=case_id,
            case_number=rid,
            matter_code="dispute.neighbour",
            target=TaskTarget.MEDIATION,
            description="d",
            due_at=now + timedelta(days=3),
            assigned_at=now + timedelta(seconds=1),
        )
    )
    [got] = (await client.get(f"{BASE}/requests/{rid}.json")).json()
    assert (got["status"], got["agency_responsible"]) == ("open", "mediation")
    lines = got["status_notes"].splitlines()
    assert [line.split()[1] for line in lines] == ["received", "dispatched", "task_assigned"]
    assert "centre:620700" in lines[1] and "grid 620702001001" in lines[1]
    await deliver(CaseResolved(case_id=case_id, summary="agreement reached", resolved_at=now + timedelta(hours=1)))
    [got] = (await client.get(f"{BASE}/requests/{rid}.json")).json()
    assert got["status"] == "closed" and "agreement reached" in got["status_notes"]


# --- reads are public, as GeoReport v2 says (issue 13, item 10) ----------------------------------


def public(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of the same intake that sends no credential at all: any app on the internet."""
    app = client.app  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def test_discovery_services_and_requests_need_no_key_and_never_show_personal_data(
    client: httpx.AsyncClient,
) -> None:
    form = {
        **FORM,
        "last_name": "张",
        "first_name": "三丰",
        "phone": "13812345678",
        "email": "z@example.cn",
        "description": "楼上漏水, call me on 13987654321, ID 11010519491231002X",
    }
    [answer] = (await post(client, form, "json")).json()
    rid = answer["service_request_id"]
    case = (await client.get("/v1/cases", params={"q": rid})).json()["items"][0]
    async with public(client) as anyone:
        for path in (
            "discovery.xml",
            "discovery.json",
            "services.xml",
            "services.json",
            "services/dispute.neighbour.xml",
            "services/dispute.neighbour.json",
            "requests.xml",
            "requests.json?extensions=true",
            f"requests/{rid}.xml?extensions=true",
            f"requests/{rid}.json",
            f"tokens/{case['id']}.json",
        ):
            answer = await anyone.get(f"{BASE}/{path}")
            assert answer.status_code == 200, (path, answer.text)
            for personal in ("三丰", "13812345678", "z@example.cn", "13987654321", "11010519491231002X"):
                assert personal not in answer.text, (path, personal)
        [got] = (await anyone.get(f"{BASE}/requests/{rid}.json")).json()
        assert got["description"] == "楼上漏水, call me on [phone], ID [id-number]"
        discovery = (await anyone.get(f"{BASE}/discovery.json")).json()
        assert "needs no key" in discovery["key_service"]
        refused = await anyone.post(f"{BASE}/requests.xml", data={k: v for k, v in FORM.items() if k != "api_key"})
        assert refused.status_code == 401  # keys are for POST
        assert xml_errors(refused)[0][0] == "401"


async def test_a_bad_key_on_a_read_is_refused_not_ignored(client: httpx.AsyncClient) -> None:
    async with public(client) as anyone:
        answer = await anyone.get(f"{BASE}/requests.json", params={"api_key": "gmk_x_y"})
    assert answer.status_code == 401 and answer.json()[0]["code"] == 401


async def test_a_setting_takes_reads_behind_a_key_with_cases_read(client_with: Client) -> None:
    reader = api_key(["cases:read"], subject="open-data-app")
    writer = api_key(["cases:create"], subject="citizen-app")
    async with client_with(open311_keys_for_reads=True) as http:
        bare = {"Authorization": ""}
        for path in ("discovery.xml", "services.json", "services/dispute.neighbour.xml", "requests.xml"):
            assert (await http.get(f"{BASE}/{path}", headers=bare)).status_code == 401, path
            refused = await http.get(f"{BASE}/{path}", params={"api_key": writer}, headers=bare)
            assert refused.status_code == 403, path
            assert (await http.get(f"{BASE}/{path}", params={"api_key": reader}, headers=bare)).status_code == 200
        discovery = (await http.get(f"{BASE}/discovery.json", params={"api_key": reader}, headers=bare)).json()
        assert "needs a key too, with scope cases:read" in discovery["key_service"]


async def test_extensions_return_the_submitted_attributes_and_every_media_url(client: httpx.AsyncClient) -> None:
    form = [
        ("api_key", API_KEY),
        ("service_code", "safety.hazard"),
        ("lat", "38.91"),
        ("long", "100.41"),
        ("attribute[hazard_kind][]", "fire"),
        ("attribute[hazard_kind][]", "gas"),
        ("attribute[urgency]", "urgent"),
        ("media_url", "https://files.example/1.jpg"),
        ("media_url", "https://files.example/2.jpg"),
        ("media_url", "https://files.example/3.mp4"),
    ]
    created = await client.post(
        f"{BASE}/requests.json",
        content=str(httpx.QueryParams(form)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert created.status_code == 201, created.text
    rid = created.json()[0]["service_request_id"]
    media = ["https://files.example/1.jpg", "https://files.example/2.jpg", "https://files.example/3.mp4"]
    async with public(client) as anyone:
        [plain] = (await anyone.get(f"{BASE}/requests/{rid}.json")).json()
        assert plain["media_url"] == media[0]
        assert "extended_attributes" not in plain  # only when asked for
        [extended] = (await anyone.get(f"{BASE}/requests/{rid}.json", params={"extensions": "true"})).json()
        assert extended["extended_attributes"] == {"hazard_kind": ["fire", "gas"], "urgency": "urgent"}
        assert (extended["media_url"], extended["media_urls"]) == (media[0], media)
        root = xml(await anyone.get(f"{BASE}/requests.xml", params={"extensions": "true"}))
    [request] = [r for r in root.findall("request") if r.findtext("service_request_id") == rid]
    assert [v.text for v in request.findall("extended_attributes/hazard_kind/item")] == ["fire", "gas"]
    assert request.findtext("extended_attributes/urgency") == "urgent"
    assert [m.text for m in request.findall("media_urls/media_url")] == media

"""Component tests of the REST API: channel import, search, map, grids; the analytics webhook;
evidence for a case (RecordInfo over SIP); subscriptions and device queries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support import auth_headers
from test_vb_sip import GRID, GRIDS, INSIDE, events_for
from vb_sip_client import SipDevice, new_ids, xml
from vb_support import Bridge

from govmesh_contracts import CaseReceived, Location
from govmesh_runtime.problems import Problem
from govmesh_runtime.roles import Role, scopes_for
from video_bridge import handlers
from video_bridge.adapters.tables import KnownCaseRow

pytestmark = pytest.mark.bridge_settings(keepalive_interval_s=60)


def channels_json(device_id: str, channels: list[str], points: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The city generator's channels.json format."""
    return [
        {
            "channel_id": channel,
            "device_id": device_id,
            "name": f"卡口 {i}",
            "lat": lat,
            "lon": lon,
            "civil_code": "620702",
            "manufacturer": "Hikvision",
            "model": "DS-2CD",
            "extra": "ignored",
        }
        for i, (channel, (lat, lon)) in enumerate(zip(channels, points, strict=True))
    ]


async def test_lists_come_a_page_at_a_time_by_cursor_without_repeats_or_gaps(bridge: Bridge) -> None:
    device_id, channels = new_ids(5)
    imported = await bridge.http.post("/v1/channels/import", json=channels_json(device_id, channels, [INSIDE] * 5))
    assert imported.status_code == 200, imported.text
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"device_id": device_id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = (await bridge.http.get("/v1/channels", params=params)).json()
        assert set(answer) == {"items", "next_cursor"} and len(answer["items"]) <= 2
        seen += [c["channel_id"] for c in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(channels)  # every channel once, in order; the last page says so with null
    devices = (await bridge.http.get("/v1/devices", params={"limit": 1000})).json()
    assert device_id in [d["device_id"] for d in devices["items"]] and devices["next_cursor"] is None


async def test_import_maps_channels_to_grids_and_they_can_be_searched_and_mapped(bridge: Bridge) -> None:
    assert (await bridge.http.put("/v1/grids", json=GRIDS)).json()["grids"] == 1
    device_id, channels = new_ids(2)
    far = (39.5, 101.0)
    imported = await bridge.http.post("/v1/channels/import", json=channels_json(device_id, channels, [INSIDE, far]))
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"channels_created": 2, "channels_updated": 0, "devices_created": 1, "mapped_to_grid": 1}

    on_grid = (await bridge.http.get("/v1/channels", params={"grid_code": GRID, "device_id": device_id})).json()
    assert [c["channel_id"] for c in on_grid["items"]] == [channels[0]]
    assert on_grid["items"][0]["online"] is False  # imported, not yet heard from
    found = (await bridge.http.get("/v1/channels", params={"q": "卡口 1", "device_id": device_id})).json()
    assert [c["channel_id"] for c in found["items"]] == [channels[1]]
    by_prefix = (await bridge.http.get("/v1/channels", params={"q": channels[0][:18]})).json()
    assert channels[0] in [c["channel_id"] for c in by_prefix["items"]]

    box = (await bridge.http.get("/v1/channels/map", params={"bbox": "100.44,38.92,100.46,38.94"})).json()
    points = {f["properties"]["channel_id"]: f for f in box["features"]}
    assert points[channels[0]]["geometry"]["coordinates"] == [INSIDE[1], INSIDE[0]]
    assert channels[1] not in points

    configured = await bridge.http.put(f"/v1/channels/{channels[1]}/grid", json={"grid_code": "620702009009-X"})
    assert configured.json()["grid_source"] == "configuration"
    await bridge.http.put("/v1/grids", json=GRIDS)  # a new grid import keeps configured mappings
    assert (await bridge.http.get(f"/v1/channels/{channels[1]}")).json()["grid_code"] == "620702009009-X"
    back = await bridge.http.put(f"/v1/channels/{channels[1]}/grid", json={"grid_code": None})
    assert (back.json()["grid_code"], back.json()["grid_source"]) == (None, None)  # outside every grid


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ({"channel_id": "123", "device_id": "62070200001180000001"}, "channel_id", "String should match pattern"),
        ({"channel_id": "99070200001310000001", "device_id": "62070200001180000001"}, "channel_id", "province"),
        ({"channel_id": "62070200001310000001", "device_id": "62070200001180000001", "lat": 91}, "lat", "less than"),
        ({"device_id": "62070200001180000001"}, "channel_id", "Field required"),
    ],
)
async def test_a_bad_import_entry_is_a_422_naming_it_and_writes_nothing(
    bridge: Bridge, entry: dict[str, Any], field: str, reason: str
) -> None:
    device_id, channels = new_ids(1)
    good = channels_json(device_id, channels, [INSIDE])[0]
    response = await bridge.http.post("/v1/channels/import", json=[good, entry])
    assert response.status_code == 422
    detail = response.json()["errors"][0]
    assert detail["loc"][-1] == field and reason in detail["msg"]
    assert (await bridge.http.get(f"/v1/channels/{channels[0]}")).status_code == 404


async def test_bad_grids_are_refused_with_the_reason(bridge: Bridge) -> None:
    response = await bridge.http.put("/v1/grids", json={"type": "FeatureCollection", "features": [{"properties": {}}]})
    assert response.status_code == 422
    assert "grid_code is missing" in response.json()["detail"]
    bad_bbox = await bridge.http.get("/v1/channels/map", params={"bbox": "101,38,100,39"})
    assert bad_bbox.status_code == 422 and "bbox" in bad_bbox.json()["detail"]


async def test_webhook_alarm_is_raised_once_with_its_grid(bridge: Bridge) -> None:
    await bridge.http.put("/v1/grids", json=GRIDS)
    device_id, channels = new_ids(1)
    await bridge.http.post("/v1/channels/import", json=channels_json(device_id, channels, [INSIDE]))
    alarm = {
        "event_id": str(uuid.uuid4()),
        "channel_id": channels[0],
        "priority": 2,
        "alarm_type": "crowd",
        "description": "crowd gathering",
        "alarm_time": "2026-11-25T10:00:00Z",
    }
    first = await bridge.http.post("/v1/alarms/webhook", json=alarm)
    assert first.status_code == 202, first.text
    assert (first.json()["grid_code"], first.json()["device_id"], first.json()["method"]) == (GRID, device_id, "5")
    retry = await bridge.http.post("/v1/alarms/webhook", json=alarm)
    assert retry.status_code == 200 and retry.json()["alarm_id"] == first.json()["alarm_id"]
    events = await events_for(bridge, "video.alarms.v1", channels[0], 1)
    assert [(e["alarm_id"], e["grid_code"], e["alarm_type"]) for e in events] == [
        (first.json()["alarm_id"], GRID, "crowd")
    ]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"channel_id": "62070200001310999999"}, "channel_id", "unknown channel"),
        ({"alarm_time": "2026-11-25T10:00:00"}, "alarm_time", "UTC offset"),
        ({"priority": 5}, "priority", "less than or equal to 4"),
        ({"method": "9"}, "method", "pattern"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
async def test_a_bad_webhook_alarm_is_refused_naming_the_field(
    bridge: Bridge, change: dict[str, Any], field: str, reason: str
) -> None:
    device_id, channels = new_ids(1)
    await bridge.http.post("/v1/channels/import", json=channels_json(device_id, channels, [INSIDE]))
    alarm = {"event_id": "e1", "channel_id": channels[0], "priority": 2, "alarm_time": "2026-11-25T10:00:00Z"}
    response = await bridge.http.post("/v1/alarms/webhook", json={**alarm, **change})
    assert response.status_code == 422
    text = response.json()["detail"]  # a problem's sentence names the field and the reason
    assert text.startswith(field) and reason in text
    assert (await bridge.http.get("/v1/alarms", params={"channel_id": channels[0]})).json()["items"] == []


async def learn_case(
    bridge: Bridge,
    point: tuple[float, float] | None,
    *,
    received_at: str = "2026-11-25T10:15:00Z",
    grid_code: str | None = None,
    matter_code: str = "security.incident",
    channel: str = "api",
) -> str:
    """The bridge learns a case as from its CaseReceived (the consumer's handler, in a unit of work)."""
    case_id = uuid.uuid4()
    event = CaseReceived(
        case_id=case_id,
        case_number="620702-20261125-000001",
        matter_code=matter_code,
        channel=channel,
        description="a fight in the street",
        location=Location(lat=point[0], lon=point[1]) if point else None,
        received_at=datetime.fromisoformat(received_at),
        grid_code=grid_code,
    )
    async with bridge.runtime.uow() as uow:
        await handlers.learn_case(uow=uow, event=event, settings=bridge.sip.settings, grids=bridge.app.state.grids)
        await uow.commit()
    return str(case_id)


# the case at 10:15 UTC: its window 10:00–11:00 UTC (18:00–19:00 at the devices, UTC+8)
@pytest.mark.bridge_settings(
    keepalive_interval_s=60, evidence_before_s=900, evidence_after_s=2700, evidence_radius_m=500, evidence_page_size=3
)
async def test_evidence_queries_recordings_around_the_cases_place_and_time_in_pages(bridge: Bridge) -> None:
    device_id, channels = new_ids(3)
    lat, lon = INSIDE
    near, also_near, far = (lat, lon), (lat + 0.001, lon), (lat + 0.05, lon)
    await bridge.http.post("/v1/channels/import", json=channels_json(device_id, channels, [near, also_near, far]))
    silent_device, silent_channels = new_ids(1)
    await bridge.http.post("/v1/channels/import", json=channels_json(silent_device, silent_channels, [near]))
    case_id = await learn_case(bridge, (lat, lon))
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        await device.next_request()  # the catalog query after registration

        async def answer_record_queries() -> list[str]:
            asked = []
            for _ in range(2):
                query = await device.next_request()
                body = query.body.decode("gb2312")
                channel = body.split("<DeviceID>")[1].split("</DeviceID>")[0]
                sn = body.split("<SN>")[1].split("</SN>")[0]
                asked.append(channel)
                assert "<Type>all</Type>" in body and "<StartTime>2026-11-25T18:00:00</StartTime>" in body
                for part in range(2):  # the record list split over two messages
                    item = (
                        f"<Item><DeviceID>{channel}</DeviceID><Name>rec</Name><FilePath>/r/{channel}/{part}</FilePath>"
                        f"<StartTime>2026-11-25T18:{part * 30:02d}:00</StartTime>"
                        f"<EndTime>2026-11-25T18:{part * 30 + 29:02d}:59</EndTime><Type>time</Type></Item>"
                    )
                    inner = f'<SumNum>2</SumNum><RecordList Num="1">{item}</RecordList>'
                    await device.request("MESSAGE", xml("Response", "RecordInfo", sn, channel, inner))
            return asked

        answering = asyncio.create_task(answer_record_queries())
        response = await bridge.http.post("/v1/evidence", json={"case_id": case_id})  # only the case
        asked = await answering
    assert response.status_code == 201, response.text
    evidence = response.json()
    assert sorted(asked) == sorted(channels[:2])
    assert set(evidence["channel_ids"]) == {channels[0], channels[1], silent_channels[0]}
    assert evidence["unanswered_channel_ids"] == [silent_channels[0]]
    assert len(evidence["recordings"]) == 4
    assert {r["file_path"] for r in evidence["recordings"]} >= {f"/r/{channels[0]}/0", f"/r/{channels[0]}/1"}
    assert (evidence["window_start"], evidence["window_end"]) == ("2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z")
    assert evidence["pages"] == 2
    # at most 3 recordings an event: the 4 go out in two pages of one search
    events = sorted(await events_for(bridge, "video.evidence.v1", case_id, 2), key=lambda e: e["page"])
    assert [(e["page"], e["page_count"], len(e["recordings"])) for e in events] == [(1, 2, 3), (2, 2, 1)]
    assert {e["evidence_id"] for e in events} == {evidence["evidence_id"]}
    assert events[0]["requested_by"] == "test-admin"  # the credential's subject
    assert events[0]["recordings"][0]["start_time"].startswith("2026-11-25T10:")  # UTC+8 → UTC


async def test_evidence_names_only_the_case_and_only_a_case_the_bridge_knows(bridge: Bridge) -> None:
    named_place = {"case_id": str(uuid.uuid4()), "lat": 38.9, "lon": 100.4, "start": "2026-11-25T10:00:00Z"}
    response = await bridge.http.post("/v1/evidence", json=named_place)
    assert response.status_code == 422  # the place and time are the case's, never the caller's
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {("body", "lat"), ("body", "lon"), ("body", "start")}
    unknown = str(uuid.uuid4())
    response = await bridge.http.post("/v1/evidence", json={"case_id": unknown})
    assert (response.status_code, response.json()["detail"]) == (404, f"no such case: {unknown}")
    placeless = await learn_case(bridge, None, grid_code=GRID)
    response = await bridge.http.post("/v1/evidence", json={"case_id": placeless})
    assert response.status_code == 422, response.text
    assert Problem.model_validate(response.json()).detail.startswith("case_id: the case has no location")
    assert await events_for(bridge, "video.evidence.v1", placeless, 0) == []


async def test_alarm_subscription_and_device_status_query(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        await device.next_request()  # catalog query
        subscribed = await bridge.http.post(f"/v1/devices/{device_id}/subscriptions", json={"kind": "alarm"})
        assert subscribed.status_code == 200, subscribed.text
        subscribe = await device.next_request()
        assert subscribe.method == "SUBSCRIBE" and (subscribe.get("event") or "").startswith("presence")
        assert b"<CmdType>Alarm</CmdType>" in subscribe.body

        async def answer() -> None:
            query = await device.next_request()
            sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
            inner = "<Result>OK</Result><Online>ONLINE</Online><Status>OK</Status>"
            await device.request("MESSAGE", xml("Response", "DeviceStatus", sn, device_id, inner))

        task = asyncio.create_task(answer())
        status = await bridge.http.post(f"/v1/devices/{device_id}/queries", json={"cmd_type": "DeviceStatus"})
        await task
        assert status.json()["answer"]["Online"] == "ONLINE"
    not_registered, _ = new_ids()
    missing = await bridge.http.post(f"/v1/devices/{not_registered}/queries", json={"cmd_type": "DeviceInfo"})
    assert missing.status_code == 404 and "not registered" in missing.json()["detail"]


# --- access: scopes and places -----------------------------------------------------------------

OTHER_COUNTY_GRID = "620721001002003"


async def _two_grids(bridge: Bridge) -> tuple[tuple[str, str], tuple[str, str]]:
    """A camera in GRID and one configured into another county's grid: (device, channel) each."""
    await bridge.http.put("/v1/grids", json=GRIDS)
    mine_device, [mine] = new_ids(1)
    theirs_device, [theirs] = new_ids(1)
    await bridge.http.post("/v1/channels/import", json=channels_json(mine_device, [mine], [INSIDE]))
    await bridge.http.post("/v1/channels/import", json=channels_json(theirs_device, [theirs], [INSIDE]))
    moved = await bridge.http.put(f"/v1/channels/{theirs}/grid", json={"grid_code": OTHER_COUNTY_GRID})
    assert moved.status_code == 200, moved.text
    return (mine_device, mine), (theirs_device, theirs)


async def test_every_endpoint_needs_a_credential_and_its_scope(bridge: Bridge) -> None:
    bare = {"Authorization": ""}
    assert (await bridge.http.get("/healthz", headers=bare)).status_code == 200
    for path in ("/v1/channels", "/v1/devices", "/v1/alarms", "/v1/sip"):
        assert (await bridge.http.get(path, headers=bare)).status_code == 401, path
    cases = auth_headers(["cases:read", "cases:create", "grid:write"])
    reader = auth_headers(["grid:read"])
    refused = await bridge.http.get("/v1/channels", headers=cases)
    assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'grid:read' is required")
    configure = await bridge.http.put(f"/v1/channels/{'6' * 20}/grid", json={"grid_code": GRID}, headers=reader)
    assert (configure.status_code, configure.json()["detail"]) == (403, "scope 'devices:manage' is required")
    command = await bridge.http.post(f"/v1/devices/{'6' * 20}/queries", json={"cmd_type": "Catalog"}, headers=reader)
    assert (command.status_code, command.json()["detail"]) == (403, "scope 'devices:manage' is required")
    evidence = await bridge.http.post("/v1/evidence", json={"case_id": str(uuid.uuid4())}, headers=reader)
    assert (evidence.status_code, evidence.json()["detail"]) == (403, "scope 'evidence:attach' is required")
    # raising an alarm is for devices' bridges and analytics systems: not even a centre may
    alarm = {"event_id": str(uuid.uuid4()), "channel_id": "6" * 20, "priority": 1, "alarm_type": "crowd"}
    alarm |= {"description": "crowd", "alarm_time": "2026-11-25T10:00:00Z"}
    centre = auth_headers(scopes_for([Role.CITY_CENTRE]), subject="city-centre")
    raised = await bridge.http.post("/v1/alarms/webhook", json=alarm, headers=centre)
    assert (raised.status_code, raised.json()["detail"]) == (403, "scope 'alarms:raise' is required")
    assert (await bridge.http.get("/v1/channels", headers=reader)).status_code == 200


async def test_a_grid_worker_sees_and_configures_their_grids_cameras_only(bridge: Bridge) -> None:
    (mine_device, mine), (theirs_device, theirs) = await _two_grids(bridge)
    worker = auth_headers(["grid:read", "devices:manage", "grid:import"], [GRID], subject="grid-worker")
    listed = (await bridge.http.get("/v1/channels", headers=worker)).json()
    assert [c["channel_id"] for c in listed["items"]] == [mine]
    assert (await bridge.http.get(f"/v1/channels/{mine}", headers=worker)).status_code == 200
    assert (await bridge.http.get(f"/v1/devices/{mine_device}", headers=worker)).status_code == 200
    assert [d["device_id"] for d in (await bridge.http.get("/v1/devices", headers=worker)).json()["items"]] == [
        mine_device
    ]
    for channel in (theirs, "62070200001310999999"):  # another grid's, and one that does not exist
        refused = await bridge.http.get(f"/v1/channels/{channel}", headers=worker)
        assert (refused.status_code, refused.json()["detail"]) == (403, "this channel is not within your places")
    for device in (theirs_device, "62070200001110999999"):
        refused = await bridge.http.post(f"/v1/devices/{device}/queries", json={"cmd_type": "Catalog"}, headers=worker)
        assert (refused.status_code, refused.json()["detail"]) == (403, "this device is not within your places")
    away = await bridge.http.put(f"/v1/channels/{mine}/grid", json={"grid_code": OTHER_COUNTY_GRID}, headers=worker)
    assert away.status_code == 403  # not into another's grid
    imported = await bridge.http.post("/v1/channels/import", json=[], headers=worker)
    assert imported.status_code == 403  # city-wide imports: unbound callers only
    refusals = (await bridge.http.get("/v1/audit", params={"subject": "grid-worker", "action": "refused"})).json()
    assert [r["resource_id"] for r in refusals["items"]][:2] == [theirs, "62070200001310999999"]


async def test_a_county_centre_sees_its_own_county_and_alarms_follow_their_grid(bridge: Bridge) -> None:
    (_, mine), (_, theirs) = await _two_grids(bridge)
    for channel in (mine, theirs):
        alarm = {"event_id": str(uuid.uuid4()), "channel_id": channel, "priority": 2, "alarm_type": "crowd"}
        alarm |= {"description": "crowd", "alarm_time": "2026-11-25T10:00:00Z"}
        assert (await bridge.http.post("/v1/alarms/webhook", json=alarm)).status_code == 202
    county = auth_headers(["grid:read"], ["620702"])
    other = auth_headers(["grid:read"], ["620721"])
    assert [c["channel_id"] for c in (await bridge.http.get("/v1/channels", headers=county)).json()["items"]] == [mine]
    assert [a["channel_id"] for a in (await bridge.http.get("/v1/alarms", headers=county)).json()["items"]] == [mine]
    assert [a["channel_id"] for a in (await bridge.http.get("/v1/alarms", headers=other)).json()["items"]] == [theirs]
    platform = auth_headers(["alarms:raise"], ["620702"], subject="analytics")
    alarm = {"event_id": str(uuid.uuid4()), "channel_id": theirs, "priority": 2, "alarm_type": "crowd"}
    alarm |= {"description": "crowd", "alarm_time": "2026-11-25T10:00:00Z"}
    assert (await bridge.http.post("/v1/alarms/webhook", json=alarm, headers=platform)).status_code == 403


async def test_evidence_is_attached_only_to_a_case_in_the_callers_places(bridge: Bridge) -> None:
    """A case is where the bridge placed it from its CaseReceived (the grid of its point, else the
    grid intake was given): a grid worker of another grid gets the same 403 as for an unknown case."""
    await bridge.http.put("/v1/grids", json=GRIDS)
    mine = await learn_case(bridge, INSIDE)  # in GRID by its point
    theirs = await learn_case(bridge, (39.5, 101.0), grid_code=OTHER_COUNTY_GRID)  # in no grid of ours: intake's
    worker = auth_headers(["evidence:attach"], [GRID], subject="grid-worker-e")
    for case_id in (theirs, str(uuid.uuid4())):
        refused = await bridge.http.post("/v1/evidence", json={"case_id": case_id}, headers=worker)
        assert (refused.status_code, refused.json()["detail"]) == (403, "this case is not within your places")
        assert await events_for(bridge, "video.evidence.v1", case_id, 0) == []
    county = auth_headers(["evidence:attach"], ["620721"], subject="other-county")
    assert (await bridge.http.post("/v1/evidence", json={"case_id": theirs}, headers=county)).status_code == 201
    attached = await bridge.http.post("/v1/evidence", json={"case_id": mine}, headers=worker)
    assert attached.status_code == 201, attached.text
    assert attached.json()["channel_ids"] == []  # no camera of theirs near the point: searched, nothing found
    events = await events_for(bridge, "video.evidence.v1", mine, 1)
    assert [e["requested_by"] for e in events] == ["grid-worker-e"]
    refusals = (await bridge.http.get("/v1/audit", params={"subject": "grid-worker-e", "action": "refused"})).json()
    assert {r["resource_id"] for r in refusals["items"]} >= {theirs}


async def test_the_bridge_searches_by_itself_for_recent_video_and_configured_cases_only(bridge: Bridge) -> None:
    """A bridge reading intake.cases.v1 from its beginning must not query every camera for years of cases."""
    now = datetime.now(UTC)
    learnt = {
        "alarm": await learn_case(
            bridge, INSIDE, received_at=now.isoformat(), channel="video", matter_code="video.alarm"
        ),
        "old alarm": await learn_case(
            bridge,
            INSIDE,
            received_at=(now - timedelta(days=2)).isoformat(),
            channel="video",
            matter_code="video.alarm",
        ),
        "fault": await learn_case(
            bridge, INSIDE, received_at=now.isoformat(), channel="video", matter_code="video.device_fault"
        ),
        "resident": await learn_case(bridge, INSIDE, received_at=now.isoformat(), matter_code="dispute.neighbour"),
        "no point": await learn_case(bridge, None, received_at=now.isoformat(), channel="video", grid_code=GRID),
    }
    async with bridge.runtime.db.sessions() as session:
        due = {name: (await session.get(KnownCaseRow, uuid.UUID(case_id))) for name, case_id in learnt.items()}
    assert {name: row.evidence_due_at is not None for name, row in due.items() if row} == {
        "alarm": True,
        "old alarm": False,
        "fault": False,
        "resident": False,
        "no point": False,
    }

"""The console's screens for mediation, policing, video, assessment and the grid map's layers in
Debian's Chromium, against intake, dispatch, mediation, policing, video-bridge and the console
as real processes on the real broker (the sample city; a police room per community).

Each screen renders data created in the test, one of its actions works, and a role without the
scope sees neither the menu entry nor the page. With GOVMESH_SCREENSHOTS=<dir> each screen is
saved there as a PNG (as test_console_browser.py does for the others)."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support import ADMIN, ROOT, Service, free_port

from dispatch import sample_city

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
GRID = "620702001001001"  # residential: W001's; room PR-A's
COMMERCIAL = "620702001002001"  # room PR-B's
DEADLINE_S = 90.0
SHOTS = os.environ.get("GOVMESH_SCREENSHOTS")
BEIJING = timezone(timedelta(hours=8))
ROOM_A, ROOM_B = "PR-620702001001", "PR-620702001002"
STUDIO = "ST-620702001001"


@dataclass
class Mesh:
    intake: Service
    dispatch: Service
    mediation: Service
    policing: Service
    video: Service
    console: Service
    channels: list[str]

    def case(self, case_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.intake.url}/v1/cases/{case_id}", headers=ADMIN, timeout=10)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def report(self, grid: str, description: str, **fields: Any) -> dict[str, Any]:
        """A case reported over intake's API (a precondition, not what is tested)."""
        lat, lon = sample_city.centre_point(grid)
        body = {
            "matter_code": "safety.hazard",
            "description": description,
            "lat": lat,
            "lon": lon,
            "channel": "hotline",
            "attributes": {"hazard_kind": ["gas"]},
            **fields,
        }
        answer = httpx.post(f"{self.intake.url}/v1/cases", json=body, headers=ADMIN, timeout=10)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


def eventually(check: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"not within {timeout:.0f} s: {what}")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def police_reference() -> dict[str, Any]:
    """The sample city's grids and two police rooms: one per community."""

    def officer(officer_id: str, role: str, on_duty: bool) -> dict[str, Any]:
        return {"officer_id": officer_id, "name": f"警员{officer_id}", "role": role, "on_duty": on_duty}

    grids = sample_city.documents()["grids.geojson"]
    codes = sorted(sample_city.GRIDS)
    rooms = [
        {
            "room_code": ROOM_A,
            "name": "县府街社区警务室",
            "county_code": "620702",
            "grid_codes": codes[:2],
            "officers": [officer("P-1", "officer", True), officer("P-2", "auxiliary", False)],
        },
        {
            "room_code": ROOM_B,
            "name": "南关社区警务室",
            "county_code": "620702",
            "grid_codes": codes[2:],
            "officers": [officer("P-3", "officer", True)],
        },
    ]
    return {"grids": grids, "police_rooms": rooms}


def channel_records() -> list[dict[str, Any]]:
    """Two cameras in each sample grid (their middle, a little apart), under one NVR."""
    serial = uuid.uuid4().int % 900_000 + 100_000
    device = f"62070200001180{serial:06d}"
    records = []
    for n, grid in enumerate(sorted(sample_city.GRIDS)):
        lat, lon = sample_city.centre_point(grid)
        for k in range(2):
            records.append(
                {
                    "channel_id": f"62070200001310{(serial + 2 * n + k + 1) % 1_000_000:06d}",
                    "device_id": device,
                    "name": f"摄像机 {grid[-3:]}-{k + 1}",
                    "lat": lat + 0.001 * (k + 1),
                    "lon": lon,
                }
            )
    return records


@pytest.fixture(scope="module")
def mesh(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    base = tmp_path_factory.mktemp("screens")
    city = sample_city.write(base / "city")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base),
        "DISPATCH_CITY_DATA_DIR": str(city),
        "GOVMESH_ENV": "development",
        "INTAKE_DUPLICATE_WINDOW_S": "0",
        "MEDIATION_SEED_FILE": str(ROOT / "services/mediation/src/mediation/data/seed-small.json"),
        "VIDEO_BRIDGE_SIP_PORT": str(free_port()),
        "VIDEO_BRIDGE_GRIDS_FILE": str(city / "grids.geojson"),
    }
    env.pop("GOVMESH_OIDC_ISSUER", None)
    started: list[Service] = []
    try:
        for package in ("intake", "dispatch", "mediation", "policing", "video_bridge"):
            started.append(Service(package, env, base / f"{package}.log"))
        intake, dispatch, mediation, policing, video = started
        urls = {
            "CONSOLE_INTAKE_URL": intake.url,
            "CONSOLE_DISPATCH_URL": dispatch.url,
            "CONSOLE_MEDIATION_URL": mediation.url,
            "CONSOLE_POLICING_URL": policing.url,
            "CONSOLE_VIDEO_URL": video.url,
        }
        # Five rows a page: the eight cameras take two pages.
        console = Service("console", {**env, **urls, "CONSOLE_PAGE_SIZE": "5"}, base / "console.log")
        started.append(console)
        for service in started:
            service.wait_ready(timeout=120)
        imported = httpx.put(f"{policing.url}/v1/reference", json=police_reference(), headers=ADMIN, timeout=30)
        assert imported.status_code == 200, imported.text
        records = channel_records()
        loaded = httpx.post(f"{video.url}/v1/channels/import", json=records, headers=ADMIN, timeout=30)
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["mapped_to_grid"] == len(records)
        yield Mesh(intake, dispatch, mediation, policing, video, console, [r["channel_id"] for r in records])
    finally:
        for service in started:
            service.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


def sign_in(browser: Browser, mesh: Mesh, role: str, place: str = "", subject: str = "", worker: str = "") -> Page:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}).new_page()
    page.goto(mesh.console.url + "/login")
    page.select_option("#role", role)
    page.fill("#place", place)
    page.fill("#worker_id", worker)
    page.fill("#subject", subject or f"{role}-{uuid.uuid4().hex[:6]}")
    page.click("button[type=submit]")
    expect(page.locator(".sidemenu")).to_be_visible()
    return page


def refused(page: Page, mesh: Mesh, path: str, menu: str) -> None:
    """Neither the menu entry nor the page for this person."""
    expect(page.locator(f".sidemenu a[href='{menu}']")).to_have_count(0)
    assert page.request.get(mesh.console.url + path).status == 403


def test_a_mediator_schedules_a_session_sees_it_in_the_studio_calendar_and_records_an_agreement(
    mesh: Mesh, browser: Browser
) -> None:
    created = mesh.report(
        GRID,
        f"楼上漏水，邻里争执 {uuid.uuid4().hex[:6]}",
        matter_code="dispute.neighbour",
        attributes={"parties_count": 2},
    )
    found: dict[str, Any] = {}

    def assigned() -> bool:
        answer = httpx.get(f"{mesh.mediation.url}/v1/disputes", params={"limit": 500}, headers=ADMIN, timeout=10)
        for d in answer.json():
            if d["case_number"] == created["case_number"] and d["mediator_id"]:
                found.update(d)
        return bool(found)

    eventually(assigned, "mediation opens the dispute and assigns a mediator")
    dispute_id = found["dispute_id"]
    party = {"role": "respondent", "name": "李四", "phone": "13900001111"}
    added = httpx.post(f"{mesh.mediation.url}/v1/disputes/{dispute_id}/parties", json=party, headers=ADMIN, timeout=10)
    assert added.status_code == 201, added.text

    page = sign_in(browser, mesh, "mediator")
    page.goto(f"{mesh.console.url}/mediation?open={dispute_id}")
    actions = page.locator("#med-actions")
    day = (datetime.now(BEIJING) + timedelta(days=2)).date().isoformat()
    start = f"{10 + uuid.uuid4().int % 6}:{uuid.uuid4().int % 4 * 15:02d}"
    actions.locator("summary", has_text="安排调解会议").click()
    form = actions.locator("form[action$='/sessions']")
    form.locator("input[name=day]").fill(day)
    form.locator("input[name=start]").fill(start)
    form.locator("input[name=room]").fill("room 1")
    form.locator("[data-action=schedule]").click()
    expect(page.locator("#action-done")).to_be_visible()
    expect(page.locator("#drawer")).to_contain_text("room 1")

    # The studio's week: the session in its day's column, a link back to the dispute.
    page.goto(f"{mesh.console.url}/mediation/calendar?studio={STUDIO}&week={day}")
    column = page.locator(f"#calendar section[data-date='{day}']")
    slot = column.locator(".slot").filter(has=page.locator(f"a[href='/mediation?open={dispute_id}']"))
    expect(slot).to_have_count(1)
    expect(slot).to_contain_text(start.zfill(5))
    expect(slot).to_contain_text("room 1")
    shot(page, "13-mediation-calendar")

    # The agreement, signed 25 days ago: its confirmation deadline is 5 days away (near).
    page.goto(f"{mesh.console.url}/mediation?open={dispute_id}")
    page.locator("#med-actions summary", has_text="登记调解协议").click()
    form = page.locator("#med-actions form[action$='/agreement']")
    form.locator("select[name=obligor]").select_option("respondent")
    form.locator("input[name=term]").fill("修复漏水管道并赔偿500元")
    form.locator("input[name=due_on]").fill((datetime.now(BEIJING) + timedelta(days=10)).date().isoformat())
    form.locator("input[name=signed_on]").fill((datetime.now(BEIJING) - timedelta(days=25)).date().isoformat())
    form.locator("[data-action=agreement]").click()
    expect(page.locator("#action-done")).to_be_visible()
    expect(page.locator("#detail-status")).to_have_text("已达成协议")
    page.goto(f"{mesh.console.url}/mediation/agreements")
    row = page.locator(f"#agreement-table tr[data-case='{created['case_number']}']")
    expect(row).to_have_attribute("data-tone", "near")
    expect(row.locator("td.near")).to_contain_text("即将到期")
    shot(page, "14-mediation-agreements")

    worker = sign_in(browser, mesh, "grid-worker", GRID, worker="W001")
    refused(worker, mesh, "/mediation/calendar", "/mediation")


def test_a_police_officer_accepts_a_task_on_the_room_board_and_sees_its_response_time(
    mesh: Mesh, browser: Browser
) -> None:
    created = mesh.report(
        GRID,
        f"小区门口有人打架 {uuid.uuid4().hex[:6]}",
        matter_code="security.incident",
        attributes={"in_progress": "yes"},
    )

    def routed() -> bool:
        tasks = httpx.get(f"{mesh.policing.url}/v1/rooms/{ROOM_A}/tasks", headers=ADMIN, timeout=10).json()
        return created["case_number"] in {t["case_number"] for t in tasks}

    eventually(routed, "policing opens the case's police task in the grid's room")
    page = sign_in(browser, mesh, "police-officer", GRID, subject="P-1")
    expect(page.locator(".sidemenu a[href='/policing']")).to_have_count(1)
    # an officer lands on their own room's board, their police tasks first (routed to the officer on duty)
    expect(page).to_have_url(f"{mesh.console.url}/policing/rooms/{ROOM_A}")
    expect(page.locator(f"#my-police-tasks tr[data-case='{created['case_number']}']")).to_be_visible()
    page.goto(mesh.console.url + "/policing")
    expect(page.locator(f"#room-table tr[data-room='{ROOM_A}']")).to_be_visible()
    expect(page.locator(f"#room-table tr[data-room='{ROOM_B}']")).to_have_count(0)  # not the officer's place
    page.locator(f"#room-table tr[data-room='{ROOM_A}'] a").click()
    expect(page.locator("#roster tr[data-officer='P-1'] [data-on-duty]")).to_have_attribute("data-on-duty", "true")
    expect(page.locator("#roster tr[data-officer='P-2'] [data-on-duty]")).to_have_attribute("data-on-duty", "false")
    row = page.locator(f"#police-tasks tr[data-case='{created['case_number']}']")
    expect(row.locator(".badge")).to_have_attribute("data-status", "open")
    row.locator("[data-action=accept]").click()
    expect(row.locator(".badge")).to_have_attribute("data-status", "accepted")
    # the accepted task is now one of the officer's own
    mine = page.locator(f"#my-police-tasks tr[data-case='{created['case_number']}']")
    expect(mine.locator(".badge")).to_have_attribute("data-status", "accepted")
    assert re.fullmatch(r"\d+\.\d", row.locator("td.response").inner_text()), row.locator("td.response").inner_text()
    expect(page.locator("#figures")).to_contain_text("接警用时")
    shot(page, "15-policing-room")
    row.locator("[data-action=on-scene]").click()
    expect(row.locator(".badge")).to_have_attribute("data-status", "on_scene")
    page.goto(mesh.console.url + "/policing?status=on_scene")
    expect(page.locator(f"#police-tasks tr[data-case='{created['case_number']}']")).to_be_visible()
    # Another room is not the officer's; a clerk has no policing at all.
    assert page.request.get(f"{mesh.console.url}/policing/rooms/{ROOM_B}").status == 403
    clerk = sign_in(browser, mesh, "window-clerk")
    refused(clerk, mesh, "/policing", "/policing")


def test_a_centre_pages_channels_sees_alarms_and_requests_evidence_on_a_case(mesh: Mesh, browser: Browser) -> None:
    channel = mesh.channels[0]
    alarm = {
        "event_id": uuid.uuid4().hex,
        "channel_id": channel,
        "priority": 2,
        "alarm_type": "intrusion",
        "description": "周界入侵",
        "alarm_time": datetime.now(UTC).isoformat(),
    }
    raised = httpx.post(f"{mesh.video.url}/v1/alarms/webhook", json=alarm, headers=ADMIN, timeout=10)
    assert raised.status_code == 202, raised.text
    page = sign_in(browser, mesh, "city-centre")
    page.click(".sidemenu a[href='/video']")
    expect(page.locator("#channel-count")).to_have_text("5")  # a page of video-bridge's cursor envelope
    for channel_id in mesh.channels[:4]:
        expect(page.locator(f"#channel-table tr[data-channel='{channel_id}'] [data-online]")).to_have_attribute(
            "data-online", "false"
        )  # imported, never heard on SIP
    expect(page.locator("#device-table tbody tr[data-device]")).to_have_count(1)
    shot(page, "16-video-channels")
    expect(page.locator("#channel-table tbody tr[data-channel]")).to_have_count(5)
    page.locator(".pager a", has_text="下一页").first.click()
    expect(page.locator("#page-no")).to_have_text("2")
    expect(page.locator("#channel-table tbody tr[data-channel]")).to_have_count(3)
    expect(page.locator(f"#channel-table tr[data-channel='{mesh.channels[-1]}']")).to_be_visible()
    page.select_option("#f-online", "true")
    page.click("#filter")
    expect(page.locator("#channel-count")).to_have_text("0")
    page.goto(mesh.console.url + "/video/alarms")
    expect(page.locator(f"#alarm-table tr[data-channel='{channel}']").first).to_contain_text("intrusion")

    created = mesh.report(GRID, f"楼下车辆被划 {uuid.uuid4().hex[:6]}")
    page.goto(mesh.console.url + "/video/evidence")
    page.fill("#f-case", created["case_number"])
    page.click("#find-case")
    expect(page.locator("#evidence-case")).to_contain_text(created["case_number"])
    page.locator("[data-action=evidence]").click()
    result = page.locator("#evidence-result")
    expect(result).to_be_visible()
    near = [c for c in mesh.channels if c in result.locator("#searched").inner_text()]
    assert len(near) == 2  # the two cameras of the case's grid, within 300 m
    shot(page, "17-video-evidence")

    def on_timeline() -> bool:
        page.goto(f"{mesh.console.url}/video/evidence?case={created['case_number']}")
        return page.locator("#evidence-entries li[data-kind=evidence_attached]").count() == 1

    eventually(on_timeline, "the evidence in the case's timeline (intake)")
    clerk = sign_in(browser, mesh, "window-clerk")
    refused(clerk, mesh, "/video", "/video")


def test_a_centre_assesses_grids_and_workers_with_charts_and_exports_csv_and_excel(
    mesh: Mesh, browser: Browser
) -> None:
    created = mesh.report(GRID, f"井盖缺失 {uuid.uuid4().hex[:6]}")
    eventually(lambda: mesh.case(created["id"])["grid_code"] == GRID, "dispatch takes the case")
    page = sign_in(browser, mesh, "county-centre", "620702")
    page.goto(mesh.console.url + "/assessment?by=grid")
    row = page.locator(f"#figures-table tr[data-key='{GRID}']")
    received = int(row.locator("td[data-col=received]").inner_text())
    assert received >= 1
    expect(page.locator("#chart svg polyline")).to_have_count(3)
    shot(page, "18-assessment-figures")
    with page.expect_download() as download:
        page.click("#csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("网格,时段,受理数,办结数,按期办结,按期办结率,升级数")
    assert any(line.startswith(f"{GRID},合计,{received},") for line in lines)
    with page.expect_download() as download:
        page.click("#xlsx")
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "受理数" in sheet and GRID in sheet

    page.goto(mesh.console.url + "/assessment?by=worker")
    expect(page.locator("#figures-table tr[data-key='W001']")).to_be_visible()
    page.goto(mesh.console.url + "/assessment/counts?by=matter")
    expect(page.locator("#counts tr[data-key='safety.hazard']")).to_be_visible()
    worker = sign_in(browser, mesh, "grid-worker", GRID, worker="W001")
    refused(worker, mesh, "/assessment", "/assessment")
    assert worker.request.get(mesh.console.url + "/assessment.xlsx").status == 403


def test_the_grid_map_shows_cameras_and_a_grids_police_room_card(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(COMMERCIAL, f"商铺门前积水 {uuid.uuid4().hex[:6]}")
    eventually(lambda: mesh.case(created["id"])["grid_code"] == COMMERCIAL, "dispatch locates the case")
    page = sign_in(browser, mesh, "county-centre", "620702")
    page.goto(mesh.console.url + "/map")
    expect(page.locator("#gridmap circle.camera")).to_have_count(len(mesh.channels))
    expect(page.locator(f"#gridmap circle.camera[data-channel='{mesh.channels[0]}']")).to_have_attribute(
        "data-online", "false"
    )
    expect(page.locator("#gridmap image.tile")).to_have_count(0)  # no tile service set: vectors alone
    page.locator(f"#gridmap path[data-grid='{COMMERCIAL}']").click()
    card = page.locator("#drawer")
    expect(card.locator("#police-card")).to_contain_text("南关社区警务室")
    expect(card.locator("#police-card")).to_contain_text("P-3")
    expect(card.locator("#workers")).to_contain_text("W003")
    expect(card.locator(f"#grid-cases li[data-case='{created['case_number']}']")).to_be_visible()
    shot(page, "19-grid-map-cameras")
    # A grid worker's map: their grid's cameras only.
    worker = sign_in(browser, mesh, "grid-worker", GRID, worker="W001")
    worker.goto(mesh.console.url + "/map")
    expect(worker.locator("#gridmap circle.camera")).to_have_count(2)


def test_the_screens_speak_english_too(mesh: Mesh, browser: Browser) -> None:
    page = sign_in(browser, mesh, "administrator")
    page.goto(mesh.console.url + "/lang/en?next=/policing")
    expect(page.locator("h1")).to_have_text("Policing")
    for path, words in (
        ("/video", "Devices and channels"),
        ("/assessment", "Assessment"),
        ("/mediation/calendar", "Studio calendar"),
    ):
        page.goto(mesh.console.url + path)
        expect(page.locator("main")).to_contain_text(words)

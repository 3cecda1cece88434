"""The console in a real browser: Debian's Chromium driven by Playwright, against intake,
dispatch and the console as real processes on the real broker (the sample city).

What a clerk, a grid worker at phone width and a careless form-filler see; every check is
read off the page. With GOVMESH_SCREENSHOTS=<dir> (``make screenshots``) each screen is also
saved there as a PNG."""

from __future__ import annotations

import os
import re
import shutil
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support import ADMIN, ROOT, Service

from dispatch import sample_city

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
GRID = "620702001001001"  # residential: safety hazards go to its grid worker W001
OTHER_GRID = "620702001001002"  # W002's
DEADLINE_S = 90.0  # generous: processes on a loaded 2-core machine
SHOTS = os.environ.get("GOVMESH_SCREENSHOTS")


@dataclass
class Mesh:
    intake: Service
    dispatch: Service
    console: Service
    mediation: Service

    def case(self, case_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.intake.url}/v1/cases/{case_id}", headers=ADMIN, timeout=10)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def report(self, grid: str, description: str, **fields: Any) -> dict[str, Any]:
        """A safety hazard reported over intake's API (a precondition, not what is tested)."""
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

    def task_of(self, case_id: str, assignee: str, kind: str = "handling") -> str | None:
        answer = httpx.get(f"{self.dispatch.url}/v1/cases/{case_id}", headers=ADMIN, timeout=10)
        tasks = answer.json().get("tasks", []) if answer.status_code == 200 else []
        found = [t["task_id"] for t in tasks if t["assignee"] == assignee and t["kind"] == kind]
        return found[0] if found else None

    def resolve(self, case_id: str, assignee: str = "W001") -> None:
        """The case's task done over dispatch's API (a precondition), and the case resolved."""
        eventually(lambda: self.task_of(case_id, assignee) is not None, f"the task assigned to {assignee}")
        done = httpx.post(
            f"{self.dispatch.url}/v1/tasks/{self.task_of(case_id, assignee)}/complete",
            json={"outcome": "done", "summary": "已处理"},
            headers=ADMIN,
            timeout=10,
        )
        assert done.status_code == 200, done.text
        eventually(lambda: self.case(case_id)["status"] == "resolved", "the case resolved")


def png(width: int, height: int) -> bytes:
    """A real PNG (a plain colour) the browser can decode, as a phone's camera would give one."""
    rows = b"".join(b"\x00" + b"\x2e\x8b\x57" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


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


@pytest.fixture(scope="module")
def mesh(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    base = tmp_path_factory.mktemp("console")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base),
        "DISPATCH_CITY_DATA_DIR": str(sample_city.write(base / "city")),
        "GOVMESH_ENV": "development",
        "INTAKE_DUPLICATE_WINDOW_S": "0",  # each test's report is its own case, however near the others
        "DISPATCH_RETURN_VISIT_SHARE": "1",  # every closed case gets a return visit (回访) for its grid worker
        "DISPATCH_MAX_WORKER_LOAD": "1000",  # every test's case in GRID stays with W001, however many are open
        "MEDIATION_SEED_FILE": str(ROOT / "services/mediation/src/mediation/data/seed-small.json"),
    }
    env.pop("GOVMESH_OIDC_ISSUER", None)
    started: list[Service] = []
    try:
        intake = Service("intake", env, base / "intake.log")
        started.append(intake)
        dispatch = Service("dispatch", env, base / "dispatch.log")
        started.append(dispatch)
        mediation = Service("mediation", env, base / "mediation.log")
        started.append(mediation)
        urls = {"CONSOLE_INTAKE_URL": intake.url, "CONSOLE_DISPATCH_URL": dispatch.url}
        # No policing or video-bridge here (test_console_screens.py has them): an address nothing answers.
        urls |= {"CONSOLE_POLICING_URL": "http://127.0.0.1:9", "CONSOLE_VIDEO_URL": "http://127.0.0.1:9"}
        console = Service("console", {**env, **urls, "CONSOLE_MEDIATION_URL": mediation.url}, base / "c.log")
        started.append(console)
        for service in started:
            service.wait_ready(timeout=120)
        yield Mesh(intake, dispatch, console, mediation)
    finally:
        for service in started:
            service.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Never skipped: without Chromium the console is untested, so the run fails (make install adds it).
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


def sign_in(browser: Browser, mesh: Mesh, role: str, place: str = "", worker: str = "", **context: Any) -> Page:
    page = browser.new_context(locale="zh-CN", **context).new_page()
    page.goto(mesh.console.url + "/")  # without a session: the sign-in page, then the role's home
    expect(page.locator("h1")).to_have_text("登录")
    shot(page, "01-sign-in") if role == "window-clerk" else None
    page.select_option("#role", role)
    page.fill("#place", place)
    page.fill("#worker_id", worker)
    page.fill("#subject", f"{role}-{uuid.uuid4().hex[:6]}")
    page.click("button[type=submit]")
    return page


def test_a_clerk_accepts_a_case_through_the_form_and_sees_it_dispatched_on_the_board(
    mesh: Mesh, browser: Browser
) -> None:
    page = sign_in(browser, mesh, "window-clerk")
    expect(page).to_have_url(mesh.console.url + "/accept")  # a clerk's home is the acceptance form
    page.select_option("#matter", "safety.hazard")  # reloads with the matter's own fields
    expect(page.locator("input[name=attr_hazard_kind]").first).to_be_visible()
    lat, lon = sample_city.centre_point(GRID)
    description = f"楼道里有燃气味 {uuid.uuid4().hex[:8]}"
    page.fill("#description", description)
    page.check("input[name=attr_hazard_kind][value=gas]")
    page.select_option("#channel", "window")
    page.fill("#reporter_name", "张三")
    page.fill("#reporter_phone", "13812345678")
    page.fill("#address", "甘州区县府街12号3单元")
    # The place by a click on the grid map: the middle of the grid's square.
    page.locator(f"#pickmap path[data-grid='{GRID}']").click()
    picked_lat, picked_lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
    assert abs(picked_lat - lat) < 0.001 and abs(picked_lon - lon) < 0.001, (picked_lat, picked_lon)
    shot(page, "02-accept")
    page.click("#submit")

    number = page.get_by_test_id("case-number")
    expect(number).to_have_text(re.compile(r"^620702-\d{8}-\d{6}$"))
    expect(page.locator("h1")).to_contain_text("受理回执")
    case_number = number.inner_text()
    shot(page, "03-receipt")

    page.goto(mesh.console.url + "/cases?q=" + case_number)
    row = page.locator(f"tr[data-case='{case_number}']")
    expect(row).to_be_visible()

    def dispatched() -> bool:
        page.reload()
        return row.locator(".badge").get_attribute("data-status") in ("dispatched", "in_progress")

    eventually(dispatched, f"case {case_number} shown dispatched on the board")
    assert row.locator("td").nth(4).inner_text() == GRID  # located in its grid by dispatch
    row.get_by_role("link", name="详情").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text(description)
    expect(drawer.locator("#timeline li[data-kind=received]")).to_have_count(1)
    expect(drawer.locator("#timeline li[data-kind=dispatched]")).to_have_count(1)
    shot(page, "04-case-board")


@pytest.mark.exercises("dispatch.tasks.v1", "TaskCompleted", "intake")  # the timeline counts the photo
def test_the_grid_worker_at_phone_width_completes_the_task_and_the_case_resolves(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(GRID, f"消防通道堆放杂物 {uuid.uuid4().hex[:8]}")
    page = sign_in(browser, mesh, "grid-worker", GRID, "W001", viewport={"width": 390, "height": 844})
    expect(page).to_have_url(mesh.console.url + "/tasks")
    card = page.locator(f"article.task[data-case='{created['case_number']}']")

    def listed() -> bool:
        page.reload()
        return card.count() == 1

    eventually(listed, "the task appears in the grid worker's list")
    # Phone width: the menu folds to the top, nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "05-my-tasks-phone")
    card.locator("[data-action=accept]").click()
    expect(card.locator(".badge")).to_have_text("处理中")
    # the completion form takes photos from the phone's camera
    photos = card.locator("input[type=file][name=photos]")
    expect(photos).to_have_attribute("accept", "image/*")
    expect(photos).to_have_attribute("capture", "environment")
    # a file that only calls itself a photo is refused by its bytes, and the task stays open
    card.locator("textarea[name=note]").fill("已到现场清理杂物，通道畅通。")
    photos.set_input_files(files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}])
    card.locator("[data-action=complete]").click()
    expect(page.locator("#tasks-error")).to_contain_text("现场.jpg 不是 JPEG、PNG 或 WebP 图片")
    expect(card.locator(".badge")).to_have_text("处理中")
    card.locator("textarea[name=note]").fill("已到现场清理杂物，通道畅通。")
    card.locator("input[type=file][name=photos]").set_input_files(
        files=[{"name": "通道.png", "mimeType": "image/png", "buffer": png(32, 24)}]
    )
    shot(page, "23-my-tasks-complete-with-photo")
    card.locator("[data-action=complete]").click()
    expect(page.locator(f"article.task.done[data-case='{created['case_number']}']")).to_contain_text("已完成")
    shot(page, "06-my-tasks-done")

    def resolved() -> bool:
        page.goto(f"{mesh.console.url}/cases/{created['id']}")
        return page.locator("#detail-status").get_attribute("data-status") == "resolved"

    eventually(resolved, "the case shown resolved")
    expect(page.locator("#drawer")).to_contain_text("已到现场清理杂物")
    assert mesh.case(created["id"])["status"] == "resolved"
    # the photo shows on the case (decoded by the browser, through the console), and the timeline counts it
    thumb = page.locator("#case-photos img.thumb")
    expect(thumb).to_have_count(1)
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#case-photos img.thumb').naturalWidth === 32")

    def counted() -> bool:
        page.reload()
        return "附现场照片 1 张" in page.locator("#timeline").inner_text()

    eventually(counted, "intake's timeline says one photo")
    shot(page, "22-case-photos-phone")


def test_a_grid_worker_cannot_open_another_grids_case(mesh: Mesh, browser: Browser) -> None:
    elsewhere = mesh.report(OTHER_GRID, f"路灯不亮 {uuid.uuid4().hex[:8]}")
    eventually(lambda: mesh.case(elsewhere["id"])["grid_code"] == OTHER_GRID, "dispatch locates the case")
    page = sign_in(browser, mesh, "grid-worker", GRID, "W001", viewport={"width": 390, "height": 844})
    answer = page.goto(f"{mesh.console.url}/cases/{elsewhere['id']}")
    assert answer is not None and answer.status == 403
    expect(page.get_by_test_id("error")).to_contain_text("无权查看此案件")
    expect(page.locator("body")).not_to_contain_text(elsewhere["description"])
    page.goto(f"{mesh.console.url}/cases?q={elsewhere['case_number']}")
    expect(page.locator(f"tr[data-case='{elsewhere['case_number']}']")).to_have_count(0)
    expect(page.locator("#case-table")).to_contain_text("没有符合条件的案件")


def test_a_bad_form_shows_each_fields_error_in_chinese(mesh: Mesh, browser: Browser) -> None:
    page = sign_in(browser, mesh, "window-clerk")
    page.goto(mesh.console.url + "/accept?matter=safety.hazard")
    # The console's own checks: nothing described, no hazard kind, a bad phone, ID and latitude.
    page.fill("#reporter_phone", "1234")
    page.fill("#reporter_id_number", "123")
    page.fill("#lat", "北纬三十八度")
    page.fill("#lon", "100.45")
    page.click("#submit")
    expected = {
        "description": "此项为必填项",
        "attr_hazard_kind": "此项为必填项",
        "reporter_phone": "电话号码格式不正确",
        "reporter_id_number": "身份证号格式不正确",
        "lat": "须为数字",
    }
    for field, words in expected.items():
        expect(page.locator(f".field-error[data-field={field}]")).to_contain_text(words)
    expect(page.locator("#form-errors")).to_contain_text("表单有误")
    assert page.input_value("#reporter_phone") == "1234"  # what was typed is kept
    shot(page, "07-accept-errors")

    # Intake's own rules, in the clerk's language: outside the city, a wrong ID check digit.
    page.fill("#description", "测试")
    page.check("input[name=attr_hazard_kind][value=fire]")
    page.fill("#reporter_phone", "13812345678")
    page.fill("#reporter_id_number", "110105194912310021")
    page.fill("#lat", "10")
    page.fill("#lon", "10")
    page.click("#submit")
    expect(page.locator(".field-error[data-field=lat]")).to_contain_text("超出本市辖区范围")
    expect(page.locator(".field-error[data-field=lon]")).to_contain_text("超出本市辖区范围")
    expect(page.locator(".field-error[data-field=reporter_id_number]")).to_contain_text("身份证号校验位不正确")
    expect(page.locator("[data-testid=case-number]")).to_have_count(0)


def test_the_clerk_is_warned_of_an_open_case_of_the_same_matter_nearby_before_submitting(
    mesh: Mesh, browser: Browser
) -> None:
    lat, lon = sample_city.centre_point(GRID)
    lat += 0.003  # away from the other tests' reports
    first = mesh.report(
        GRID,
        f"小区门口共享单车乱停 {uuid.uuid4().hex[:6]}",
        matter_code="convenience.service",
        lat=lat,
        attributes={"service_item": "单车"},
    )
    page = sign_in(browser, mesh, "window-clerk")
    page.goto(mesh.console.url + "/accept?matter=convenience.service")
    page.fill("#description", "共享单车堵住小区门口")
    page.fill("#attr_service_item", "单车清理")
    page.fill("#lat", str(lat + 0.0002))  # about 20 m away
    page.fill("#lon", str(lon))
    page.click("#submit")
    warning = page.locator("#duplicates")
    expect(warning).to_contain_text("可能是重复反映")
    expect(warning.locator(f"li[data-case='{first['case_number']}']")).to_be_visible()
    expect(page.locator("[data-testid=case-number]")).to_have_count(0)  # nothing accepted yet
    shot(page, "08-accept-duplicate-warning")
    expect(page.locator("#submit")).to_have_text("确认不是重复，提交受理")
    sent = page.eval_on_selector("#accept-form", "f => Object.fromEntries(new FormData(f))")
    page.click("#submit")
    number = page.get_by_test_id("case-number")
    expect(number).to_be_visible()
    assert number.inner_text() != first["case_number"]
    # The form's idempotency key: the same form sent again (a double click, a resend) accepts nothing new.
    again = page.request.post(mesh.console.url + "/accept", form=sent, max_redirects=0)
    assert again.status == 303
    assert again.headers["location"] == page.url.removeprefix(mesh.console.url)


def test_the_grid_map_colours_grids_by_open_cases_and_opens_a_grids_card(mesh: Mesh, browser: Browser) -> None:
    commercial = "620702001002001"
    created = mesh.report(commercial, f"商铺门前积水 {uuid.uuid4().hex[:6]}")
    eventually(lambda: mesh.case(created["id"])["grid_code"] == commercial, "dispatch locates the case")
    page = sign_in(browser, mesh, "county-centre", "620702")
    page.goto(mesh.console.url + "/map")
    expect(page.locator("#gridmap path.grid")).to_have_count(len(sample_city.GRIDS))
    grid = page.locator(f"#gridmap path[data-grid='{commercial}']")
    assert grid.get_attribute("data-tone") in ("open", "overdue")
    grid.click()
    expect(page).to_have_url(f"{mesh.console.url}/map?grid={commercial}")
    drawer = page.locator("#drawer")
    expect(drawer.locator(f"#grid-cases li[data-case='{created['case_number']}']")).to_be_visible()
    expect(drawer.locator("#workers")).to_contain_text("W003")
    shot(page, "09-grid-map")
    # A grid worker's map is their grid alone; another grid's card is refused.
    worker = sign_in(browser, mesh, "grid-worker", GRID, "W001", viewport={"width": 390, "height": 844})
    worker.goto(mesh.console.url + "/map")
    expect(worker.locator("#gridmap path.grid")).to_have_count(1)
    expect(worker.locator(f"#gridmap path[data-grid='{GRID}']")).to_have_count(1)
    answer = worker.goto(f"{mesh.console.url}/map?grid={commercial}")
    assert answer is not None and answer.status == 403
    expect(worker.get_by_test_id("error")).to_contain_text("无权查看此网格")


def test_a_mediator_sees_the_dispute_of_a_neighbour_case_on_the_mediation_board(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(
        GRID,
        f"楼上漏水，邻里争执 {uuid.uuid4().hex[:6]}",
        matter_code="dispute.neighbour",
        attributes={"parties_count": 2},
    )

    def dispute_opened() -> bool:
        answer = httpx.get(f"{mesh.mediation.url}/v1/disputes", params={"limit": 500}, headers=ADMIN, timeout=10)
        return created["case_number"] in {d["case_number"] for d in answer.json()}

    eventually(dispute_opened, "mediation opens a dispute for the case")
    page = sign_in(browser, mesh, "mediator")
    page.goto(mesh.console.url + "/mediation")
    row = page.locator(f"#dispute-table tr[data-case='{created['case_number']}']")
    # The board is ordered by urgency (the newest dispute's target is the latest): page to it.
    for _ in range(50):
        if row.count() == 1:
            break
        page.get_by_role("link", name="下一页").click()
    row.get_by_role("link", name="详情").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text(created["case_number"])
    expect(drawer.locator("#timeline li").first).to_be_visible()
    shot(page, "10-mediation")


def test_a_centre_counts_cases_by_grid_and_exports_them_as_csv(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(GRID, f"井盖缺失 {uuid.uuid4().hex[:6]}")
    eventually(lambda: mesh.case(created["id"])["grid_code"] == GRID, "dispatch takes the case")
    page = sign_in(browser, mesh, "county-centre", "620702")
    page.goto(mesh.console.url + "/assessment?by=grid")
    cell = page.locator(f"#figures-table tr[data-key='{GRID}'] td[data-col=received]")
    assert int(cell.inner_text()) >= 1
    shot(page, "11-assessment")
    with page.expect_download() as download:
        page.click("#csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("网格,时段,受理数,")
    assert any(line.startswith(f"{GRID},合计,{cell.inner_text()},") for line in lines)
    # Not for a grid worker: neither in the menu nor by address.
    worker = sign_in(browser, mesh, "grid-worker", GRID, "W001")
    expect(worker.locator(".sidemenu a[href='/assessment']")).to_have_count(0)
    assert worker.request.get(mesh.console.url + "/assessment").status == 403


def test_a_community_centre_reassigns_a_grid_workers_task_from_the_case_drawer(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(GRID, f"楼道灯坏了 {uuid.uuid4().hex[:6]}")
    page = sign_in(browser, mesh, "community-centre", GRID[:12])

    def assigned() -> bool:
        page.goto(f"{mesh.console.url}/cases/{created['id']}")
        return page.locator("#drawer li[data-task] .assignee").filter(has_text="W001").count() == 1

    eventually(assigned, "the task assigned to W001 shown in the drawer")
    task = page.locator("#drawer li[data-task]").filter(has_text="W001")
    task.locator("summary").click()
    task.locator("input[name=reason]").fill("W001 本周休假")
    task.locator("[data-action=reassign]").click()
    expect(page).to_have_url(f"{mesh.console.url}/cases/{created['id']}")
    expect(page.locator("#drawer li[data-task] .assignee")).to_have_text("W002")  # the other worker of the community
    shot(page, "12-case-reassign")

    def recorded() -> bool:
        page.reload()
        return page.locator("#timeline li[data-kind=task_reassigned]").count() == 1

    eventually(recorded, "the reassignment in the case's timeline")
    # A clerk has no such action.
    clerk = sign_in(browser, mesh, "window-clerk")
    clerk.goto(f"{mesh.console.url}/cases/{created['id']}")
    expect(clerk.locator("[data-action=reassign]")).to_have_count(0)


def test_english_is_one_switch_away(mesh: Mesh, browser: Browser) -> None:
    page = sign_in(browser, mesh, "county-centre", "620702")
    page.goto(mesh.console.url + "/cases")
    expect(page.locator("h1")).to_have_text("案件管理")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Cases")
    expect(page.locator(".sidemenu")).to_contain_text("Acceptance")


def open_drawer_when(page: Page, mesh: Mesh, case_id: str, check: Callable[[], bool], what: str) -> None:
    def ready() -> bool:
        page.goto(f"{mesh.console.url}/cases/{case_id}")
        return check()

    eventually(ready, what)


def test_a_centre_escalates_a_case_from_the_drawer_and_a_clerk_has_no_such_buttons(
    mesh: Mesh, browser: Browser
) -> None:
    created = mesh.report(GRID, f"小区排水管破裂，涉及多个部门 {uuid.uuid4().hex[:6]}")
    page = sign_in(browser, mesh, "community-centre", GRID[:12])
    level = page.locator("#detail-level")
    open_drawer_when(
        page, mesh, created["id"], lambda: level.count() == 1 and level.inner_text() == "社区", "dispatched"
    )
    drawer = page.locator("#case-actions")
    drawer.locator("[data-action=escalate-open]").click()
    drawer.locator("[data-action=escalate]").click()  # no reason given
    expect(page.locator("#action-error")).to_have_text("请填写上报理由")
    drawer.locator("[data-action=escalate-open]").click()
    drawer.locator("input[name=reason]").fill("涉及水务和住建，社区无法协调")
    drawer.locator("[data-action=escalate]").click()
    expect(page).to_have_url(f"{mesh.console.url}/cases/{created['id']}")
    expect(level).to_have_text("乡镇（街道）")

    def recorded() -> bool:
        page.reload()
        return page.locator("#timeline li[data-kind=escalated]").filter(has_text="社区无法协调").count() == 1

    eventually(recorded, "the escalation and its reason in the case's timeline")
    shot(page, "20-case-escalated")
    # A window clerk reads the case but decides nothing about it.
    clerk = sign_in(browser, mesh, "window-clerk")
    clerk.goto(f"{mesh.console.url}/cases/{created['id']}")
    expect(clerk.locator("#drawer")).to_be_visible()
    expect(clerk.locator("#case-actions")).to_have_count(0)
    clerk.goto(mesh.console.url + "/accept?matter=safety.hazard")  # a form of theirs: the session's CSRF token
    csrf = clerk.locator("input[name=csrf]").first.get_attribute("value") or ""
    by_hand = clerk.request.post(
        f"{mesh.console.url}/cases/{created['id']}/escalate", form={"csrf": csrf, "reason": "x"}, max_redirects=0
    )
    assert by_hand.status == 403


def test_a_centre_cancels_a_case_merged_into_another_by_its_number(mesh: Mesh, browser: Browser) -> None:
    first = mesh.report(GRID, f"路面塌陷 {uuid.uuid4().hex[:6]}")
    second = mesh.report(GRID, f"同一处路面塌陷，又有人反映 {uuid.uuid4().hex[:6]}")
    page = sign_in(browser, mesh, "community-centre", GRID[:12])
    actions = page.locator("#case-actions")
    open_drawer_when(page, mesh, second["id"], lambda: actions.count() == 1, "the case in the drawer")
    drawer = page.locator("#case-actions")
    drawer.locator("[data-action=cancel-open]").click()
    drawer.locator("select[name=reason]").select_option("merged")
    drawer.locator("input[name=merged_into]").fill("620702-20000101-999999")  # no such case
    drawer.locator("[data-action=cancel]").click()
    expect(page.locator("#action-error")).to_contain_text("找不到要合并到的案件")
    expect(page.locator("#detail-status")).not_to_have_attribute("data-status", "cancelled")
    drawer.locator("[data-action=cancel-open]").click()
    drawer.locator("select[name=reason]").select_option("merged")
    drawer.locator("input[name=merged_into]").fill(first["case_number"])
    drawer.locator("[data-action=cancel]").click()
    expect(page.locator("#detail-status")).to_have_text("已撤销")
    expect(page.locator("#case-actions [data-action]")).to_have_count(0)  # nothing more to decide
    expect(page.locator("#timeline li[data-kind=cancelled]")).to_have_count(1)
    assert mesh.case(second["id"])["status"] == "cancelled"
    assert mesh.case(first["id"])["status"] != "cancelled"


def test_a_centre_closes_a_resolved_case_from_the_drawer(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(GRID, f"垃圾桶满溢 {uuid.uuid4().hex[:6]}")
    mesh.resolve(created["id"])
    page = sign_in(browser, mesh, "community-centre", GRID[:12])
    status = page.locator("#detail-status")
    open_drawer_when(page, mesh, created["id"], lambda: status.get_attribute("data-status") == "resolved", "resolved")
    drawer = page.locator("#case-actions")
    expect(drawer.locator("[data-action=escalate-open]")).to_have_count(0)  # a resolved case is not escalated
    drawer.locator("[data-action=close-open]").click()
    drawer.locator("[data-action=close]").click()
    expect(page.locator("#action-error")).to_have_text("请填写结案说明")
    drawer.locator("[data-action=close-open]").click()
    drawer.locator("input[name=note]").fill("电话联系群众，表示满意")
    drawer.locator("[data-action=close]").click()

    def closed() -> bool:
        page.wait_for_load_state()  # the close form's own navigation first: a reload during it is refused
        page.reload()
        return status.get_attribute("data-status") == "closed"

    eventually(closed, "the case shown closed")
    expect(page.locator("#timeline li[data-kind=closed]")).to_contain_text("电话联系群众，表示满意")


def test_the_board_filters_overdue_cases(mesh: Mesh, browser: Browser) -> None:
    created = mesh.report(GRID, f"楼道堆物 {uuid.uuid4().hex[:6]}")  # due in days: not late
    page = sign_in(browser, mesh, "county-centre", "620702")
    page.goto(f"{mesh.console.url}/cases?q={created['case_number']}")
    expect(page.locator(f"tr[data-case='{created['case_number']}']")).to_have_count(1)
    page.check("#f-overdue")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"overdue=1"))
    expect(page.locator("#f-overdue")).to_be_checked()
    expect(page.locator(f"tr[data-case='{created['case_number']}']")).to_have_count(0)


def test_the_grid_worker_answers_a_return_visit_and_records_a_grid_visit_at_phone_width(
    mesh: Mesh, browser: Browser
) -> None:
    created = mesh.report(GRID, f"楼道扶手松动 {uuid.uuid4().hex[:6]}")
    mesh.resolve(created["id"])
    closed = httpx.post(
        f"{mesh.dispatch.url}/v1/cases/{created['id']}/close", json={"note": "已修复"}, headers=ADMIN, timeout=10
    )
    assert closed.status_code == 200, closed.text
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    plan = httpx.post(
        f"{mesh.dispatch.url}/v1/visit-plans",
        json={"grid_code": GRID, "cadre_ref": "W001", "every_days": 7, "first_visit_on": yesterday},
        headers=ADMIN,
        timeout=10,
    )
    assert plan.status_code == 201, plan.text
    page = sign_in(browser, mesh, "grid-worker", GRID, "W001", viewport={"width": 390, "height": 844})
    card = page.locator(f"article.task[data-case='{created['case_number']}']:has([data-kind=return_visit])")

    def listed() -> bool:
        page.goto(mesh.console.url + "/tasks")
        return card.count() == 1

    eventually(listed, "the return visit in the grid worker's list")
    card.locator("[data-action=return-visit]").click()  # nothing chosen
    expect(page.locator("#tasks-error")).to_have_text("请选择是否联系到群众")
    card.locator("input[name=reached][value=yes]").check()
    card.locator("[data-action=return-visit]").click()  # reached, but no satisfaction
    expect(page.locator("#tasks-error")).to_have_text("联系到群众时，请选择满意度")
    card.locator("input[name=reached][value=yes]").check()
    card.locator("select[name=satisfaction]").select_option("4")
    card.locator("textarea[name=comment]").fill("群众表示扶手已修好，希望定期检查")
    card.locator("[data-action=return-visit]").click()
    answered = page.locator(f"article.task.done[data-case='{created['case_number']}'] .satisfaction")
    expect(answered).to_have_text("满意度 4/5")
    eventually(lambda: mesh.case(created["id"])["return_visit_satisfaction"] == 4, "the answer on the case")

    # A grid visit on the (overdue) plan of the grid: the plan's next visit moves on.
    visits = page.locator("#visits")
    expect(visits.locator(f"li[data-plan='{plan.json()['id']}']")).to_have_class(re.compile("overdue"))
    visits.locator("select[name=plan_id]").select_option(plan.json()["id"])
    visits.locator("input[name=households]").fill("十二")
    visits.locator("[data-action=record-visit]").click()
    expect(page.locator("#tasks-error")).to_have_text("走访户数须为 0 到 10000 之间的整数")
    views = f"居民反映路灯不亮 {uuid.uuid4().hex[:6]}"
    visits.locator("select[name=plan_id]").select_option(plan.json()["id"])
    visits.locator("input[name=households]").fill("12")
    visits.locator("textarea[name=views]").fill(views)
    visits.locator("[data-action=record-visit]").click()
    expect(page.locator("#visit-records")).to_contain_text(views)
    expect(page.locator("#visit-records")).to_contain_text("走访 12 户")
    expect(visits.locator(f"li[data-plan='{plan.json()['id']}']")).not_to_have_class(re.compile("overdue"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "21-my-tasks-visits")

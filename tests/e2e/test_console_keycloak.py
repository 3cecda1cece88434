"""The console's sign-in through Keycloak in the browser: authorization code + PKCE S256 with
the public client ``govmesh-console``; the person's Keycloak token then reaches intake, which
verifies it by the realm's keys (the keyring's tokens are refused there)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from support import Service

import citygen

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"


# Function scope: its intake must be gone before the next test's intake starts. Two intakes of two
# databases in one consumer group split the partitions, and an event of one's case lands on the other.
@pytest.fixture
def console(kafka_bootstrap: str, keycloak_issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("console-oidc")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base),
        "GOVMESH_OIDC_ISSUER": keycloak_issuer,
    }
    started: list[Service] = []
    try:
        intake = Service("intake", env, base / "intake.log")
        started.append(intake)
        # Dispatch is not needed by these pages; the console is told where intake is.
        web = Service("console", {**env, "CONSOLE_INTAKE_URL": intake.url}, base / "console.log")
        started.append(web)
        for service in started:
            service.wait_ready(timeout=120)
        yield web.url
    finally:
        for service in started:
            service.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


def test_staff_sign_in_through_keycloak_with_pkce_and_their_token_opens_the_case_board(
    console: str, keycloak_issuer: str, browser: Browser
) -> None:
    page = browser.new_context(locale="zh-CN").new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(console + "/cases")
    expect(page.locator("#role")).to_have_count(0)  # no development sign-in with an issuer
    page.click("#oidc-login")
    page.wait_for_url(keycloak_issuer + "/**")  # Keycloak's own login page
    authorize = next(u for u in requests if "/protocol/openid-connect/auth" in u)
    assert "code_challenge_method=S256" in authorize and "client_id=govmesh-console" in authorize
    page.fill("#username", "community-centre-1")
    page.fill("#password", "govmesh-dev")
    page.click("#kc-login")
    page.wait_for_url(console + "/cases")  # back where the person was going
    expect(page.get_by_test_id("who")).to_contain_text("社区综治中心 · community-centre-1 · 辖区 620702001001")
    expect(page.locator("h1")).to_have_text("案件管理")
    expect(page.locator("#case-table")).to_be_visible()  # intake accepted the Keycloak token
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["govmesh_console"]["httpOnly"] is True
    assert "eyJ" not in cookies["govmesh_console"]["value"]  # an opaque session id, not the JWT
    assert page.evaluate("document.cookie").find("govmesh_console") == -1  # page JS cannot read it
    page.get_by_role("button", name="退出").click()
    expect(page.locator("#oidc-login")).to_be_visible()
    page.goto(console + "/cases")
    expect(page.locator("#oidc-login")).to_be_visible()  # signed out: the board needs a new sign-in


# ------------------------------------------------------------ a grid worker signed in with Keycloak

GRID = "620702001001001"  # of the generated small city; its one worker is W62070200100100101
WORKER_ID = "W62070200100100101"  # grid-worker-1's `worker_id` attribute in the committed realm


@pytest.fixture(scope="module")
def city_console(
    kafka_bootstrap: str, keycloak_issuer: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("console-oidc-city")
    citygen.write(citygen.generate("small", 1), base / "city", elements=0)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base),
        "GOVMESH_OIDC_ISSUER": keycloak_issuer,
        "DISPATCH_CITY_DATA_DIR": str(base / "city"),
    }
    started: list[Service] = []
    try:
        intake = Service("intake", env, base / "intake.log")
        dispatch = Service("dispatch", env, base / "dispatch.log")
        started += [intake, dispatch]
        urls = {"CONSOLE_INTAKE_URL": intake.url, "CONSOLE_DISPATCH_URL": dispatch.url}
        web = Service("console", {**env, **urls}, base / "console.log")
        started.append(web)
        for service in started:
            service.wait_ready(timeout=120)
        yield {"console": web.url, "intake": intake.url, "city": str(base / "city")}
    finally:
        for service in started:
            service.terminate()


def _hotline_token(issuer: str) -> str:
    """A government system's token (client credentials of the development realm)."""
    answer = httpx.post(
        issuer + "/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "city-hotline",
            "client_secret": "city-hotline-dev-secret",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_a_grid_worker_signed_in_with_keycloak_is_their_worker_id_and_sees_their_task(
    city_console: dict[str, str], keycloak_issuer: str, browser: Browser
) -> None:
    features = json.loads((Path(city_console["city"]) / "grids.geojson").read_text())["features"]
    (ring,) = [f["geometry"]["coordinates"][0] for f in features if f["properties"]["grid_code"] == GRID]
    body = {
        "matter_code": "safety.hazard",
        "description": f"楼道堆放杂物 {uuid.uuid4().hex[:8]}",
        "lat": (ring[0][1] + ring[2][1]) / 2,
        "lon": (ring[0][0] + ring[2][0]) / 2,
        "channel": "hotline",
        "attributes": {"hazard_kind": ["gas"]},
    }
    headers = {"Authorization": f"Bearer {_hotline_token(keycloak_issuer)}"}
    answer = httpx.post(city_console["intake"] + "/v1/cases", json=body, headers=headers, timeout=10)
    assert answer.status_code == 201, answer.text
    case_number = answer.json()["case_number"]

    page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    page.goto(city_console["console"] + "/tasks")
    page.click("#oidc-login")
    page.wait_for_url(keycloak_issuer + "/**")
    page.fill("#username", "grid-worker-1")
    page.fill("#password", "govmesh-dev")
    page.click("#kc-login")
    page.wait_for_url(city_console["console"] + "/tasks")
    expect(page.get_by_test_id("who")).to_contain_text(WORKER_ID)  # the worker id, as with the dev sign-in
    card = page.locator(f"article.task[data-case='{case_number}']")
    deadline = time.monotonic() + 180  # generous: Keycloak's JVM and the services share 2 loaded cores
    while card.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        page.reload()
    expect(card).to_have_count(1)  # dispatch gave the task to W62070200100100101: it is theirs
    card.locator("[data-action=accept]").click()  # dispatch takes the Keycloak subject as the assignee
    expect(card.locator(".badge")).to_have_text("处理中")

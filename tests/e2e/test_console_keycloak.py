"""The console's sign-in through Keycloak in the browser: authorization code + PKCE S256 with
the public client ``govmesh-console``; the person's Keycloak token then reaches intake, which
verifies it by the realm's keys (the keyring's tokens are refused there)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from support import Service

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
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

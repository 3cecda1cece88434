"""Staff sign in with Keycloak and the mesh verifies their tokens by Keycloak's keys.

A real Keycloak (infra/keycloak/keycloak.sh, the committed development realm) and intake
in-process with ``GOVMESH_OIDC_ISSUER`` pointing at it: a grid worker signs in through the
authorization-code flow with PKCE (as the browser console would, driven with httpx) and
sees only their grid's cases; a government system gets a token by client credentials; a
key rotation in Keycloak reaches the running service; HS256 tokens and tokens for another
service's audience are refused.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from support import Service, api_key, auth_headers, eventually

from govmesh_runtime.access import SCOPES
from intake.bootstrap import create_app
from intake.settings import IntakeSettings

pytestmark = pytest.mark.integration

REDIRECT_URI = "http://127.0.0.1/callback"  # never opened: the code is read from the redirect
PASSWORD = "govmesh-dev"  # noqa: S105 the development realm's demo password (infra/keycloak/realm.py)
GRID = "620702001001001"  # grid-worker-1's grid (a grid of the generated small city)
OTHER_GRID = "620702001001002"  # grid-worker-2's
ADMIN_KEY = api_key(SCOPES, subject="oidc-test-admin")  # API keys stay with the keyring


def sign_in(issuer: str, username: str, password: str = PASSWORD) -> str:
    """The browser console's sign-in, without a browser: authorization code + PKCE (S256)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    with httpx.Client(timeout=30) as browser:
        page = browser.get(
            f"{issuer}/protocol/openid-connect/auth",
            params={
                "client_id": "govmesh-console",
                "response_type": "code",
                "scope": "openid",
                "redirect_uri": REDIRECT_URI,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200, page.text[:500]
        form = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
        assert form, "Keycloak's login page has no login form"
        # Keycloak marks its session cookies Secure; browsers send them to a loopback address
        # (a secure context) over plain HTTP, httpx does not: send them as a browser would.
        session = "; ".join(f"{cookie.name}={cookie.value}" for cookie in page.cookies.jar)
        login = browser.post(
            html.unescape(form.group(1)),
            data={"username": username, "password": password},
            headers={"Cookie": session},
        )
        assert login.status_code == 302, login.text[:500]
        redirect = urlsplit(login.headers["location"])
        assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == REDIRECT_URI
        answer = parse_qs(redirect.query)
        assert answer["state"] == [state]
        tokens = browser.post(
            f"{issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "authorization_code",
                "code": answer["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": "govmesh-console",
                "code_verifier": verifier,
            },
        )
        assert tokens.status_code == 200, tokens.text
        token: str = tokens.json()["access_token"]
        return token


def client_credentials(issuer: str, client_id: str) -> str:
    """A government system's token: its client id and (development) secret."""
    answer = httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": f"{client_id}-dev-secret"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def published_keys(issuer: str) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = httpx.get(f"{issuer}/protocol/openid-connect/certs", timeout=30).json()["keys"]
    return keys


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def intake(tmp_path: Path, kafka_bootstrap: str, keycloak_issuer: str) -> AsyncIterator[httpx.AsyncClient]:
    """Intake in-process, configured with the one setting that points it at Keycloak."""
    settings = IntakeSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        oidc_issuer=keycloak_issuer,
        oidc_jwks_min_refresh_s=2,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield http


async def create_case(intake: httpx.AsyncClient, grid_code: str) -> str:
    spot = uuid.uuid4().int
    body = {
        "matter_code": "dispute.neighbour",
        "description": "Water leaks from above.",
        "lat": 38.0 + spot % 1700 / 1000,
        "lon": 98.0 + spot // 1700 % 4000 / 1000,
        "grid_code": grid_code,
    }
    answer = await intake.post("/v1/cases", json=body, headers={"X-API-Key": ADMIN_KEY})
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["id"]
    return case_id


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def test_a_grid_worker_signs_in_with_pkce_and_sees_only_their_grid(
    intake: httpx.AsyncClient, keycloak_issuer: str
) -> None:
    mine, theirs = await create_case(intake, GRID), await create_case(intake, OTHER_GRID)
    token = sign_in(keycloak_issuer, "grid-worker-1")
    assert claims(token)["place"] == GRID
    assert "grid-worker" in claims(token)["realm_access"]["roles"]

    listed = await intake.get("/v1/cases", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert [case["id"] for case in listed.json()["items"]] == [mine]
    assert (await intake.get(f"/v1/cases/{mine}", headers=bearer(token))).status_code == 200
    outside = await intake.get(f"/v1/cases/{theirs}", headers=bearer(token))
    # a caller who names no language reads intake's words in Chinese (zh-CN, the default)
    assert (outside.status_code, outside.json()["detail"]) == (403, "此案件不在您的辖区内")

    # The audit log names the worker who signed in: a grid worker is their worker id (the realm's
    # `worker_id` claim), as with the development sign-in, so their tasks and their acts agree.
    auditor = sign_in(keycloak_issuer, "auditor-1")
    refused = await intake.get("/v1/audit", params={"action": "refused"}, headers=bearer(auditor))
    assert refused.status_code == 200, refused.text
    assert [(row["subject"], row["via"]) for row in refused.json()["items"]] == [("W62070200100100101", "oidc")]


async def test_a_government_system_calls_with_a_client_credentials_token(
    intake: httpx.AsyncClient, keycloak_issuer: str
) -> None:
    case = await create_case(intake, GRID)
    token = client_credentials(keycloak_issuer, "city-hotline")
    assert claims(token)["aud"] == "govmesh-intake"
    listed = await intake.get("/v1/cases", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert case in [item["id"] for item in listed.json()["items"]]  # a city-wide system: every grid
    # Its role gives no access to the audit log.
    assert (await intake.get("/v1/audit", headers=bearer(token))).status_code == 403


async def test_a_token_for_another_service_is_refused(intake: httpx.AsyncClient, keycloak_issuer: str) -> None:
    token = client_credentials(keycloak_issuer, "video-analytics")  # audience govmesh-video-bridge only
    answer = await intake.get("/v1/cases", headers=bearer(token))
    assert answer.status_code == 401
    assert "not meant for this service (audience govmesh-intake)" in answer.json()["detail"]


async def test_hs256_tokens_are_refused_when_an_issuer_is_configured(
    intake: httpx.AsyncClient, keycloak_issuer: str
) -> None:
    keyring_token = auth_headers(SCOPES, subject="keyring-admin")  # valid for a keyring-only mesh
    answer = await intake.get("/v1/cases", headers=keyring_token)
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("tokens signed with HS256 are not accepted")

    # Algorithm confusion: Keycloak's own public key used as an HS256 secret, with its kid.
    signed = sign_in(keycloak_issuer, "administrator-1")
    kid = jwt.get_unverified_header(signed)["kid"]
    public = next(key for key in published_keys(keycloak_issuer) if key["kid"] == kid)
    forged = jwt.encode(claims(signed), public["n"], algorithm="HS256", headers={"kid": kid})
    answer = await intake.get("/v1/cases", headers=bearer(forged))
    assert answer.status_code == 401
    assert "HS256" in answer.json()["detail"]
    # The administrator's real token is accepted.
    assert (await intake.get("/v1/cases", headers=bearer(signed))).status_code == 200


class KeycloakAdmin:
    """The admin REST API of the test Keycloak (the bootstrap admin of keycloak.sh)."""

    def __init__(self, issuer: str) -> None:
        self.base = issuer.split("/realms/")[0]
        token = httpx.post(
            f"{self.base}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": "govmesh-dev-admin",
            },
            timeout=30,
        )
        assert token.status_code == 200, token.text
        self.http = httpx.Client(
            base_url=f"{self.base}/admin/realms/govmesh", headers=bearer(token.json()["access_token"]), timeout=30
        )

    def active_rs256_kid(self) -> str:
        keys = self.http.get("/keys").json()
        kid: str = keys["active"]["RS256"]
        return kid

    def rotate(self) -> None:
        """Add a new RSA key of higher priority, then remove every older RSA signing key."""
        realm_id = self.http.get("").json()["id"]
        providers = "org.keycloak.keys.KeyProvider"
        old = [
            c["id"]
            for c in self.http.get("/components", params={"parent": realm_id, "type": providers}).json()
            if c["providerId"] == "rsa-generated"
        ]
        name = f"rotated-{uuid.uuid4().hex[:8]}"
        added = self.http.post(
            "/components",
            json={
                "name": name,
                "providerId": "rsa-generated",
                "providerType": providers,
                "parentId": realm_id,
                "config": {"priority": ["1000"], "enabled": ["true"], "active": ["true"], "algorithm": ["RS256"]},
            },
        )
        assert added.status_code == 201, added.text
        for component in old:
            assert self.http.delete(f"/components/{component}").status_code == 204


async def test_a_key_rotation_reaches_the_running_service(intake: httpx.AsyncClient, keycloak_issuer: str) -> None:
    admin = KeycloakAdmin(keycloak_issuer)
    before = sign_in(keycloak_issuer, "administrator-1")
    assert (await intake.get("/v1/cases", headers=bearer(before))).status_code == 200

    old_kid = admin.active_rs256_kid()
    admin.rotate()
    after = sign_in(keycloak_issuer, "administrator-1")
    assert jwt.get_unverified_header(after)["kid"] != old_kid  # signed by the new key

    async def accepted() -> bool:
        return (await intake.get("/v1/cases", headers=bearer(after))).status_code == 200

    # The service refetches the keys on the unknown kid (at most every 2 s here): no restart.
    await eventually(accepted, timeout=60)
    # The old key is no longer published: a token it signed stops verifying.
    old = await intake.get("/v1/cases", headers=bearer(before))
    assert old.status_code == 401
    assert f"does not publish (kid {old_kid})" in old.json()["detail"]


@pytest.mark.e2e
def test_policing_as_a_process_takes_its_issuer_and_audience_from_the_environment(
    tmp_path: Path, kafka_bootstrap: str, keycloak_issuer: str
) -> None:
    """The one setting (GOVMESH_OIDC_ISSUER) and a service's own audience, as `make run
    OIDC=keycloak` passes them: policing accepts only tokens for govmesh-policing."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(tmp_path),
        "GOVMESH_OIDC_ISSUER": keycloak_issuer,
    }
    policing = Service("policing", env, tmp_path / "policing.log")
    try:
        policing.wait_ready()
        officer = sign_in(keycloak_issuer, "police-officer-1")  # the console's token: every service's audience
        answer = httpx.get(f"{policing.url}/v1/rooms", headers=bearer(officer), timeout=30)
        assert answer.status_code == 200, answer.text
        hotline = client_credentials(keycloak_issuer, "city-hotline")  # for intake only
        refused = httpx.get(f"{policing.url}/v1/rooms", headers=bearer(hotline), timeout=30)
        assert refused.status_code == 401
        assert "audience govmesh-policing" in refused.json()["detail"]
        keyring = httpx.get(f"{policing.url}/v1/rooms", headers=auth_headers(SCOPES), timeout=30)
        assert keyring.status_code == 401
    finally:
        assert policing.terminate() == -15

"""The console without services: sign-in rules, the session cookie, the form's checks."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.forms import AcceptForm, build_request, field_of
from console.i18n import service_message
from console.sessions import COOKIE, pkce_pair
from console.settings import ConsoleSettings
from govmesh_runtime.auth import Keyring

HAZARD = {
    "code": "safety.hazard",
    "anonymous_allowed": True,
    "attributes": [
        {"code": "hazard_kind", "datatype": "multivaluelist", "required": True, "values": [{"key": "gas"}]},
        {"code": "floors", "datatype": "number", "required": False, "values": []},
    ],
}


def _client(tmp_path: Path, **settings: object) -> TestClient:
    base = {"data_dir": tmp_path, "keyring": tmp_path / "keyring.json", "intake_url": "http://127.0.0.1:9"}
    return TestClient(create_app(ConsoleSettings(**{**base, **settings})))


@pytest.mark.parametrize("path", ["/", "/accept", "/cases", "/cases/abc", "/tasks", "/map", "/soon/video"])
def test_every_page_needs_a_session(tmp_path: Path, path: str) -> None:
    answer = _client(tmp_path).get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_development_sign_in_mints_the_roles_scopes_for_the_place_and_keeps_the_token_server_side(
    tmp_path: Path,
) -> None:
    client = _client(tmp_path)
    form = {"role": "grid-worker", "place": "620702001001001", "worker_id": "W001", "subject": "li"}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/tasks")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    sid = client.cookies[COOKIE]
    with pytest.raises(jwt.DecodeError):  # the cookie is an opaque id, never the token
        jwt.decode(sid, options={"verify_signature": False})
    session = client.app.state.console.sessions.get(sid)  # type: ignore[attr-defined]
    ring = Keyring.load(tmp_path / "keyring.json", development=False)
    claims = ring.verify_token(session.access_token)
    assert claims.subject == "W001" and list(claims.places) == ["620702001001001"]  # a worker acts as their id
    assert {"cases:create", "cases:read", "tasks:work", "grid:read"} <= set(claims.scopes)
    assert "personal-data" not in claims.scopes and "cases:manage" not in claims.scopes


def test_a_police_officer_lands_on_their_room_board_not_a_generic_page(tmp_path: Path) -> None:
    client = _client(tmp_path)
    form = {"role": "police-officer", "place": "620702001001001", "subject": "P-1"}
    answer = client.post("/login", data=form, follow_redirects=False)
    # /policing/home answers with the officer's one room's board (the browser test follows it)
    assert (answer.status_code, answer.headers["location"]) == (303, "/policing/home")
    clerk = _client(tmp_path / "clerk").post("/login", data={"role": "window-clerk"}, follow_redirects=False)
    assert clerk.headers["location"] == "/accept"


def test_development_sign_in_is_refused_in_production(tmp_path: Path) -> None:
    client = _client(tmp_path, environment="production")
    answer = client.post("/login", data={"role": "administrator"}, follow_redirects=False)
    assert answer.status_code == 403
    assert "生产环境不提供开发登录" in answer.text
    assert COOKIE not in client.cookies


def test_a_system_role_or_a_malformed_place_cannot_sign_in(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.post("/login", data={"role": "video-analytics"}, follow_redirects=False).status_code == 422
    bad = {"role": "grid-worker", "place": "62070x"}
    assert client.post("/login", data=bad, follow_redirects=False).status_code == 422


def test_a_post_without_the_sessions_csrf_token_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    client.post("/login", data={"role": "grid-worker", "place": "620702001001001", "worker_id": "W001"})
    answer = client.post("/tasks/00000000-0000-0000-0000-000000000000/accept", data={"csrf": "forged"})
    assert answer.status_code == 403


def test_the_form_names_each_bad_field_in_chinese() -> None:
    form = AcceptForm(values={"description": " ", "lat": "x", "lon": "100", "reporter_phone": "1234"})
    assert build_request(form, HAZARD, "zh") is None
    assert form.errors == {
        "description": "此项为必填项",
        "lat": "须为数字",
        "reporter_phone": "电话号码格式不正确：须为11位手机号（13-19开头）或带区号的固定电话",
        "attr_hazard_kind": "此项为必填项",
    }


def test_a_good_form_becomes_intakes_request() -> None:
    form = AcceptForm(
        values={"description": "燃气味", "address": "县府街12号", "attr_floors": "3", "reporter_phone": "13812345678"},
        multi={"attr_hazard_kind": ["gas"]},
    )
    assert build_request(form, HAZARD, "zh") == {
        "matter_code": "safety.hazard",
        "description": "燃气味",
        "channel": "window",
        "attributes": {"hazard_kind": ["gas"], "floors": 3.0},
        "address": "县府街12号",
        "reporter": {"phone": "13812345678"},
    }


def test_intakes_reasons_map_to_fields_and_chinese() -> None:
    assert field_of(["body", "reporter", "id_number"]) == "reporter_id_number"
    assert field_of(["body", "attributes", "hazard_kind"]) == "attr_hazard_kind"
    assert field_of(["body", "lat"]) == "lat"
    assert (
        service_message("zh", "outside the jurisdiction (latitude 37.9–39.9)") == "超出本市辖区范围（纬度 37.9–39.9）"
    )
    assert service_message("zh", "something new") == "填写有误：something new"
    assert service_message("en", "something new") == "something new"
    # Intake answers the console in the reader's language: its Chinese reason is shown as it is.
    assert service_message("zh", "身份证号校验位不正确") == "身份证号校验位不正确"


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    import base64
    import hashlib

    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected


def test_a_session_survives_a_console_restart_and_signing_out_revokes_it_on_the_server(tmp_path: Path) -> None:
    client = _client(tmp_path)
    form = {"role": "community-centre", "place": "620702001001", "subject": "zhang"}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    sid = client.cookies[COOKIE]
    stored = (tmp_path / "console" / "sessions.sqlite").read_bytes()
    assert sid.encode() not in stored  # only its hash is kept
    assert (tmp_path / "console" / "sessions.sqlite").stat().st_mode & 0o077 == 0

    restarted = _client(tmp_path)  # a new process on the same data directory
    restarted.cookies.set(COOKIE, sid)
    session = restarted.app.state.console.sessions.get(sid)  # type: ignore[attr-defined]
    assert session is not None and (session.subject, session.place) == ("zhang", "620702001001")
    assert restarted.get("/", follow_redirects=False).headers["location"] != "/login?next=%2F"

    restarted.post("/logout", follow_redirects=False)
    again = _client(tmp_path)
    again.cookies.set(COOKIE, sid)
    answer = again.get("/", follow_redirects=False)
    assert answer.headers["location"].startswith("/login?next=")  # revoked: the copied cookie is worthless


def test_sessions_in_memory_only_end_with_the_process(tmp_path: Path) -> None:
    client = _client(tmp_path, sessions_file="memory")
    client.post("/login", data={"role": "auditor", "subject": "wu"}, follow_redirects=False)
    restarted = _client(tmp_path, sessions_file="memory")
    restarted.cookies.set(COOKIE, client.cookies[COOKIE])
    assert restarted.get("/", follow_redirects=False).headers["location"].startswith("/login?next=")
    assert not (tmp_path / "console" / "sessions.sqlite").exists()

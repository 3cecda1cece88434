"""Client credentials: tokens and API keys verified locally, revocation, scopes and places."""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jwt
import pytest

from govmesh_runtime import auth_cli
from govmesh_runtime.auth import AuthError, Forbidden, Keyring, Principal, Verifier
from govmesh_runtime.roles import Role, scopes_for


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    return Keyring.load(tmp_path / "keyring.json", development=True)


def test_a_token_carries_subject_scopes_and_places(ring: Keyring) -> None:
    token = ring.issue_token("city-hotline", ["cases:create", "cases:read"], ["620702"])
    principal = ring.authenticate(f"Bearer {token}", None)
    assert principal == Principal("city-hotline", frozenset({"cases:create", "cases:read"}), ("620702",), "jwt")


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (
            lambda t, r: jwt.encode(
                {**jwt.decode(t, options={"verify_signature": False})},
                "another-secret-of-the-same-length-as-the-real-one",
                "HS256",
            ),
            "invalid token",
        ),
        (
            lambda t, r: jwt.encode(
                {**jwt.decode(t, options={"verify_signature": False}), "aud": "x"}, r.secret, "HS256"
            ),
            "invalid token",
        ),
        (
            lambda t, r: jwt.encode(
                {**jwt.decode(t, options={"verify_signature": False}), "exp": 1}, r.secret, "HS256"
            ),
            "expired",
        ),
        (lambda t, r: t[:-2], "invalid token"),
    ],
)
def test_forged_expired_or_foreign_tokens_are_refused(ring: Keyring, mangle: object, reason: str) -> None:
    token = ring.issue_token("x", ["cases:read"], [])
    with pytest.raises(AuthError, match=reason):
        ring.authenticate(f"Bearer {mangle(token, ring)}", None)  # type: ignore[operator]


def test_missing_or_malformed_credentials_are_refused_with_a_reason(ring: Keyring) -> None:
    with pytest.raises(AuthError, match="credential required"):
        ring.authenticate(None, None)
    with pytest.raises(AuthError, match="Bearer"):
        ring.authenticate("Basic abc", None)


def test_api_keys_are_stored_hashed_and_verified(ring: Keyring) -> None:
    _, key = ring.issue_api_key("open311-app", ["cases:create"], [])
    ring.save()
    assert key not in ring.path.read_text()  # only the hash is stored
    assert ring.authenticate(None, key).subject == "open311-app"
    with pytest.raises(AuthError, match="invalid API key"):
        ring.authenticate(None, key[:-1] + ("A" if key[-1] != "A" else "B"))
    with pytest.raises(AuthError, match="invalid API key"):
        ring.authenticate(None, "gmk_deadbeef_nothing")


def test_revocation_reaches_a_running_service_without_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keyring.json"
    monkeypatch.setenv("GOVMESH_KEYRING", str(path))
    verifier = Verifier(path, development=True)
    token = verifier.keyring.issue_token("w-0001", ["cases:read"], ["620702001001001"])
    key_id, key = verifier.keyring.issue_api_key("app", ["cases:read"], [])
    verifier.keyring.save()
    assert verifier.authenticate(f"Bearer {token}", None).subject == "w-0001"
    assert verifier.authenticate(None, key).subject == "app"
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    time.sleep(0.01)  # a distinct file mtime
    assert auth_cli.main(["revoke", jti]) == 0
    assert auth_cli.main(["revoke", key_id]) == 0
    with pytest.raises(AuthError, match="revoked"):
        verifier.authenticate(f"Bearer {token}", None)
    with pytest.raises(AuthError, match="revoked"):
        verifier.authenticate(None, key)


def test_outside_development_there_is_no_default_secret(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no default secrets"):
        Keyring.load(tmp_path / "missing.json", development=False)


def test_scopes_and_places() -> None:
    worker = Principal("w-1", frozenset({"cases:read"}), ("620702001001001",))
    centre = Principal("centre", frozenset({"cases:read", "personal-data"}), ("620702",))
    assert worker.may_act_in("620702001001001")
    assert not worker.may_act_in("620702001001002")
    assert centre.may_act_in("620702001001002")
    assert not centre.may_act_in("620721001001001")
    assert not worker.may_act_in(None)
    assert Principal("city", frozenset()).may_act_in("620721001001001")
    with pytest.raises(Forbidden, match="personal-data"):
        worker.require("personal-data")
    centre.require("personal-data")


def test_services_starting_together_share_one_development_keyring(tmp_path: Path) -> None:
    # Five services on one data folder create the missing keyring at the same moment (CI
    # once saw two of them collide on one temporary file); all must end with one secret.
    path = tmp_path / "auth" / "keyring.json"
    with ProcessPoolExecutor(max_workers=5) as pool:
        secrets_seen = set(pool.map(_load_secret, [path] * 20))
    assert secrets_seen == {json.loads(path.read_text())["secret"]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json"]
    assert path.stat().st_mode & 0o777 == 0o600


def _load_secret(path: Path) -> str:
    return Keyring.load(path, development=True).secret


def test_the_cli_issues_a_roles_scopes_and_refuses_unknown_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyring.json"
    monkeypatch.setenv("GOVMESH_KEYRING", str(path))
    ring = Keyring.load(path, development=True)
    args = ["token", "--client", "W001", "--role", "grid-worker", "--place", "620702001001001"]
    assert auth_cli.main([*args, "--scope", "audit:read"]) == 0
    principal = ring.verify_token(capsys.readouterr().out.strip())
    assert principal.subject == "W001" and principal.places == ("620702001001001",)
    assert principal.scopes == scopes_for([Role.GRID_WORKER]) | {"audit:read"}
    assert auth_cli.main(["api-key", "--client", "open311-app", "--role", "open311-client"]) == 0
    key = capsys.readouterr().out.splitlines()[0]
    assert Keyring.load(path, development=False).verify_api_key(key).scopes == {"cases:create", "cases:read"}
    for wrong in (["--role", "mayor"], ["--scope", "cases:write"], []):
        with pytest.raises(SystemExit):  # argparse names the bad value; no scope at all is refused too
            auth_cli.main(["token", "--client", "x", *wrong])

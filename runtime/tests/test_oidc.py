"""The OIDC verifier on its own: keys found by kid, refetched on an unknown kid at most once
per interval (a controllable clock), roles and places mapped through the one table.

The provider here is an in-memory HTTP transport serving a discovery document and a JWKS;
tests/integration/test_oidc_keycloak.py runs the same verifier against a real Keycloak."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from govmesh_runtime.auth import AuthError
from govmesh_runtime.oidc import OidcVerifier
from govmesh_runtime.roles import scopes_for

ISSUER = "https://id.example.gov.cn/realms/govmesh"
AUDIENCE = "govmesh-intake"


class Provider:
    """An OIDC provider's two documents; ``keys`` is what its JWKS publishes right now."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.fetches = 0

    def add_rsa(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_ec(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            algorithm = (
                jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "use": "sig"})
        # An encryption key, as Keycloak publishes one: never used to verify.
        published.append({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc-1", "n": "AQAB", "e": "AQAB"})
        return {"keys": published}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs"})
        self.fetches += 1
        return httpx.Response(200, json=self.jwks())

    def token(self, kid: str, **claims: Any) -> str:
        key = self.keys[kid]
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        now = int(time.time())
        body = {"iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "0b1c", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(provider: Provider, clock: Clock) -> OidcVerifier:
    return OidcVerifier(
        ISSUER, AUDIENCE, min_refresh_s=10, clock=clock, transport=httpx.MockTransport(provider.handler)
    )


WORKER = {"preferred_username": "grid-worker-1", "realm_access": {"roles": ["grid-worker"]}, "place": "620702001001001"}


async def test_roles_and_place_become_scopes_and_places() -> None:
    provider, clock = Provider(), Clock()
    provider.add_rsa("k1")
    principal = await verifier(provider, clock).verify(provider.token("k1", **WORKER))
    assert principal.subject == "grid-worker-1"
    assert principal.scopes == scopes_for(["grid-worker"])
    assert principal.places == ("620702001001001",)
    assert principal.via == "oidc"


async def test_a_grid_worker_is_their_worker_id_and_only_a_grid_worker_is() -> None:
    provider, clock = Provider(), Clock()
    provider.add_rsa("k1")
    oidc = verifier(provider, clock)
    worker = await oidc.verify(provider.token("k1", **WORKER, worker_id="W62070200100100101"))
    assert worker.subject == "W62070200100100101"  # the assignee of their tasks, as with the keyring
    centre = {"preferred_username": "centre-1", "realm_access": {"roles": ["community-centre"]}, "place": "620702"}
    other = await oidc.verify(provider.token("k1", **centre, worker_id="W62070200100100101"))
    assert other.subject == "centre-1"  # a worker id claim on anyone else changes nothing


async def test_es256_tokens_verify() -> None:
    provider, clock = Provider(), Clock()
    provider.add_ec("ec-1")
    assert (await verifier(provider, clock).verify(provider.token("ec-1", **WORKER))).subject == "grid-worker-1"


async def test_an_unknown_kid_refetches_the_keys_at_most_once_per_interval() -> None:
    provider, clock = Provider(), Clock()
    provider.add_rsa("k1")
    oidc = verifier(provider, clock)
    await oidc.prime()
    assert provider.fetches == 1
    await oidc.verify(provider.token("k1", **WORKER))
    assert provider.fetches == 1  # cached: no fetch per request

    provider.add_rsa("k2")  # the provider rotates: a new key...
    new_token = provider.token("k2", **WORKER)
    del provider.keys["k1"]  # ...and drops the old one
    with pytest.raises(AuthError, match="does not publish"):
        await oidc.verify(new_token)  # within 10 s of the last fetch: refused, nothing fetched
    assert provider.fetches == 1

    clock.now += 10
    # Many requests with the new kid at once: one fetch between them.
    principals = await asyncio.gather(*(oidc.verify(new_token) for _ in range(5)))
    assert {p.subject for p in principals} == {"grid-worker-1"}
    assert provider.fetches == 2

    clock.now += 60
    forged = jwt.encode({"sub": "x"}, provider.keys["k2"], algorithm="RS256", headers={"kid": "made-up"})
    for _ in range(3):  # made-up kids cost at most one fetch per interval
        with pytest.raises(AuthError, match="does not publish"):
            await oidc.verify(forged)
    assert provider.fetches == 3


async def test_a_place_bound_role_without_a_place_is_refused() -> None:
    provider, clock = Provider(), Clock()
    provider.add_rsa("k1")
    oidc = verifier(provider, clock)
    no_place = {**WORKER, "place": None}
    with pytest.raises(AuthError, match="role 'grid-worker' needs a 'place' claim"):
        await oidc.verify(provider.token("k1", **no_place))
    with pytest.raises(AuthError, match="must be grid or division codes"):
        await oidc.verify(provider.token("k1", **{**WORKER, "place": ""}))  # "" would prefix every code
    # A city-wide role without a place: everywhere; an unknown role: no scopes.
    auditor = await oidc.verify(provider.token("k1", realm_access={"roles": ["auditor", "offline_access"]}))
    assert (auditor.places, auditor.scopes) == ((), scopes_for(["auditor"]))


async def test_wrong_audience_issuer_and_symmetric_algorithms_are_refused() -> None:
    provider, clock = Provider(), Clock()
    provider.add_rsa("k1")
    oidc = verifier(provider, clock)
    with pytest.raises(AuthError, match="not meant for this service"):
        await oidc.verify(provider.token("k1", **{**WORKER, "aud": "govmesh-policing"}))
    with pytest.raises(AuthError, match="Invalid issuer"):
        await oidc.verify(provider.token("k1", **{**WORKER, "iss": "https://elsewhere.example"}))
    hs256 = jwt.encode({**WORKER, "sub": "x"}, "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256")
    with pytest.raises(AuthError, match="tokens signed with HS256 are not accepted"):
        await oidc.verify(hs256)
    with pytest.raises(ValueError, match="only asymmetric algorithms"):
        OidcVerifier(ISSUER, AUDIENCE, algorithms=["RS256", "HS256"])


def test_the_issuer_is_mesh_wide_and_the_audience_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsConfigDict

    from govmesh_runtime.app import oidc_verifier
    from govmesh_runtime.settings import ServiceSettings

    class DemoSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", populate_by_name=True)
        service_name: str = "demo"

    assert oidc_verifier(DemoSettings()) is None  # no issuer: the keyring only
    monkeypatch.setenv("GOVMESH_OIDC_ISSUER", ISSUER)
    default = oidc_verifier(DemoSettings())
    assert default is not None and (default.issuer, default.audience) == (ISSUER, "govmesh-demo")
    monkeypatch.setenv("DEMO_OIDC_AUDIENCE", "api://demo")
    monkeypatch.setenv("GOVMESH_OIDC_ROLES_CLAIM", "roles")
    custom = oidc_verifier(DemoSettings())
    assert custom is not None and (custom.audience, custom.roles_claim) == ("api://demo", "roles")

"""Tokens of an OpenID Connect provider (Keycloak, or the province's own), verified by the
issuer's published keys.

With ``GOVMESH_OIDC_ISSUER`` set, every bearer token a service receives must be a JWT of
that issuer: signed RS256 or ES256 by a key of the issuer's JWKS (found through
``<issuer>/.well-known/openid-configuration``), naming the service's own audience
(``<SERVICE>_OIDC_AUDIENCE``, default ``govmesh-<service>``), unexpired. HS256 tokens of the
local keyring are refused then (API keys still come from the keyring). The token's roles
(``realm_access.roles`` in Keycloak) become scopes through ``roles.scopes_for`` — the one
table — and its ``place`` claim (a grid or division code) becomes the principal's place.

The keys are cached. A token signed by a key not in the cache makes the verifier fetch the
JWKS again — at most once per ``GOVMESH_OIDC_JWKS_MIN_REFRESH_S`` — so a provider's key
rotation reaches running services without a restart, while a flood of tokens with made-up
key ids cannot turn into a flood of fetches. Fetches are asynchronous (httpx) and one at a
time; a request whose key is cached never waits for the network.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from govmesh_runtime.auth import AuthError, Principal
from govmesh_runtime.logging import get_logger
from govmesh_runtime.roles import Role, scopes_for

log = get_logger(__name__)

DEFAULT_ALGORITHMS = ("RS256", "ES256")
# Roles whose scopes only make sense in a place: a token without a place claim is refused,
# rather than read as "everywhere" (a grid worker must never see the whole city).
PLACE_BOUND_ROLES = frozenset({Role.GRID_WORKER, Role.COMMUNITY_CENTRE, Role.TOWNSHIP_CENTRE, Role.COUNTY_CENTRE})
_PLACE = re.compile(r"[0-9]{6,15}")  # a division (6, 9, 12 digits) or grid (15 digits) code


class OidcVerifier:
    """Verifies bearer tokens of one issuer for one audience."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        roles_claim: str = "realm_access.roles",
        place_claim: str = "place",
        subject_claim: str = "preferred_username",
        worker_claim: str = "worker_id",
        min_refresh_s: float = 10.0,
        http_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        bad = [alg for alg in algorithms if not alg.startswith(("RS", "ES", "PS"))]
        if bad:
            raise ValueError(f"GOVMESH_OIDC_ALGORITHMS: only asymmetric algorithms are allowed, not {bad}")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.roles_claim = roles_claim
        self.place_claim = place_claim
        self.subject_claim = subject_claim
        self.worker_claim = worker_claim
        self.min_refresh_s = min_refresh_s
        self.http_timeout_s = http_timeout_s
        self._clock = clock
        self._transport = transport
        self._keys: dict[str, PyJWK] = {}
        self._jwks_uri: str | None = None
        self._last_fetch: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # JWKS fetches so far (tests and metrics)

    async def prime(self) -> None:
        """Fetch the discovery document and the keys at startup. A provider that is down
        does not stop the service: the first token retries (rate-limited)."""
        try:
            async with self._lock:
                await self._refresh()
        except AuthError as exc:
            log.warning("oidc_keys_unavailable", issuer=self.issuer, error=str(exc))

    async def authenticate(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization must be 'Bearer <token>'")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthError(
                f"tokens signed with {alg} are not accepted: this mesh accepts only tokens of {self.issuer}"
                f" ({', '.join(self.algorithms)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("invalid token: no key id (kid) in its header")
        key = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub"]},
                leeway=30,  # clocks of the provider and the service differ a little
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(f"invalid token: it is not meant for this service (audience {self.audience})") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        return self.principal(claims)

    def principal(self, claims: dict[str, Any]) -> Principal:
        """Roles → scopes (``roles.scopes_for``), place claim → places, subject claim → subject."""
        roles = _path(claims, self.roles_claim)
        role_names = [str(role) for role in roles] if isinstance(roles, list) else []
        raw_place = claims.get(self.place_claim)
        places = (raw_place,) if isinstance(raw_place, str) else tuple(raw_place or ())
        for place in places:
            if not isinstance(place, str) or not _PLACE.fullmatch(place):
                raise AuthError(f"invalid token: claim '{self.place_claim}' must be grid or division codes")
        bound = sorted(PLACE_BOUND_ROLES.intersection(role_names))
        if bound and not places:
            raise AuthError(
                f"invalid token: role '{bound[0]}' needs a '{self.place_claim}' claim (its grid or division)"
            )
        # A grid worker is their worker id in the mesh (tasks' assignee), as with the keyring's tokens.
        worker = claims.get(self.worker_claim) if Role.GRID_WORKER in role_names else None
        subject = worker or claims.get(self.subject_claim) or claims["sub"]
        return Principal(subject=str(subject), scopes=scopes_for(role_names), places=places, via="oidc")

    async def _key(self, kid: str) -> PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)  # fetched meanwhile by another request
            if key is None and self._may_refresh():
                await self._refresh()
                key = self._keys.get(kid)
        if key is None:
            raise AuthError(f"invalid token: signed by a key {self.issuer} does not publish (kid {kid})")
        return key

    def _may_refresh(self) -> bool:
        return self._last_fetch is None or self._clock() - self._last_fetch >= self.min_refresh_s

    async def _refresh(self) -> None:
        """Fetch the JWKS (and, the first time, the discovery document); hold the lock."""
        self._last_fetch = self._clock()
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self.http_timeout_s, transport=self._transport) as http:
                if self._jwks_uri is None:
                    discovery = await _get_json(http, self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                    if discovery.get("issuer") != self.issuer:
                        raise AuthError(
                            f"the provider names itself {discovery.get('issuer')!r}, not GOVMESH_OIDC_ISSUER"
                            f" {self.issuer!r}"
                        )
                    self._jwks_uri = str(discovery["jwks_uri"])
                jwks = await _get_json(http, self._jwks_uri)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise AuthError(f"cannot verify tokens now: the keys of {self.issuer} are unavailable ({exc})") from exc
        keys: dict[str, PyJWK] = {}
        for entry in jwks.get("keys", []):
            if entry.get("use", "sig") != "sig" or not entry.get("kid"):
                continue  # encryption keys (Keycloak publishes an RSA-OAEP one) sign nothing
            try:
                keys[str(entry["kid"])] = PyJWK(entry)
            except jwt.PyJWTError:
                continue  # an algorithm this service does not know
        added, removed = keys.keys() - self._keys.keys(), self._keys.keys() - keys.keys()
        self._keys = keys  # keys the issuer no longer publishes stop verifying
        log.info("oidc_keys_fetched", issuer=self.issuer, keys=len(keys), added=len(added), removed=len(removed))


def _path(claims: dict[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    answer = await http.get(url)
    answer.raise_for_status()
    data = answer.json()
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return data

"""Who is calling: client credentials verified locally, scopes and places.

Other government systems call with a signed JWT (``Authorization: Bearer …``, HS256
with the mesh's secret, ``aud=govmesh``); Open311 clients and simple integrations
with an API key (``X-API-Key`` or ``api_key``). Both are issued and revoked with
``govmesh-auth`` and verified locally — no call to another service.

A principal carries scopes (``cases:read``, ``cases:create``, ``personal-data``,
``policing``, ``dispatch:admin`` …) and places: administrative or grid code
prefixes it may act in (empty = everywhere). A grid worker's token carries their
grid code; a centre's its division code, which covers every grid below it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

AUDIENCE = "govmesh"
ISSUER = "govmesh-auth"
_KEY_PREFIX = "gmk_"


class AuthError(Exception):
    """Missing or invalid credential (HTTP 401)."""


class Forbidden(Exception):
    """Valid credential without the right (HTTP 403); the message is the reason."""


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    places: tuple[str, ...] = ()
    via: str = "jwt"  # jwt or api_key

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"scope '{scope}' is required")

    def may_act_in(self, code: str | None) -> bool:
        """True when the principal's places cover a grid or division code (prefix match)."""
        if not self.places:
            return True
        return code is not None and any(code.startswith(place) for place in self.places)


@dataclass
class Keyring:
    """The mesh's signing secret, API keys (hashed) and revoked token ids, in one JSON file."""

    path: Path
    secret: str
    api_keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # key id -> {hash, subject, scopes, places}
    revoked: set[str] = field(default_factory=set)  # JWT ids (jti) and API key ids
    development: bool = False  # created on the fly by a service in development: refused in production

    @classmethod
    def load(cls, path: Path, *, development: bool) -> Keyring:
        """Read the keyring; in development a missing one is created with a random secret.

        Outside development there is no default secret: a missing keyring is an error."""
        if not path.exists():
            if not development:
                raise RuntimeError(f"no keyring at {path}: create one with `govmesh-auth init` (no default secrets)")
            ring = cls(path=path, secret=secrets.token_urlsafe(48), development=True)
            if ring._create():
                return ring
            # Another process (a sibling service starting at the same moment) made it first.
        data = json.loads(path.read_text())
        return cls(
            path=path,
            secret=data["secret"],
            api_keys=data.get("api_keys", {}),
            revoked=set(data.get("revoked", [])),
            development=bool(data.get("development", False)),
        )

    @classmethod
    def init(cls, path: Path) -> Keyring | None:
        """A new keyring with a random secret, fit for production; None if one exists already."""
        ring = cls(path=path, secret=secrets.token_urlsafe(48))
        return ring if ring._create() else None

    def save(self) -> None:
        """Replace the file atomically (readers never see half a keyring)."""
        tmp = self._write_temp()
        tmp.replace(self.path)

    def _create(self) -> bool:
        """Create the file only if it does not exist yet; False when another process won."""
        tmp = self._write_temp()
        try:
            os.link(tmp, self.path)  # atomic create-if-absent, unlike replace()
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _write_temp(self) -> Path:
        # A unique temporary name per writer: services sharing a data folder start together.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".keyring-", dir=self.path.parent)
        with os.fdopen(fd, "w") as out:  # mkstemp creates it 0600
            state: dict[str, Any] = {"secret": self.secret, "api_keys": self.api_keys, "revoked": sorted(self.revoked)}
            if self.development:
                state["development"] = True
            json.dump(state, out, indent=2)
        return Path(name)

    def issue_token(self, subject: str, scopes: list[str], places: list[str], ttl_s: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "scope": " ".join(sorted(scopes)),
            "places": places,
            "iat": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def issue_api_key(self, subject: str, scopes: list[str], places: list[str]) -> tuple[str, str]:
        key_id = secrets.token_hex(4)
        key = f"{_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
        self.api_keys[key_id] = {
            "hash": hashlib.sha256(key.encode()).hexdigest(),
            "subject": subject,
            "scopes": sorted(scopes),
            "places": places,
        }
        return key_id, key

    def revoke(self, identifier: str) -> None:
        self.revoked.add(identifier)

    def verify_token(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        if claims["jti"] in self.revoked:
            raise AuthError("token revoked")
        return Principal(
            subject=str(claims["sub"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            places=tuple(claims.get("places") or ()),
        )

    def verify_api_key(self, key: str) -> Principal:
        parts = key.split("_")
        if not key.startswith(_KEY_PREFIX) or len(parts) < 3:
            raise AuthError("invalid API key")
        key_id = parts[1]
        entry = self.api_keys.get(key_id)
        # Compare digests in constant time; an unknown id costs the same as a wrong key.
        expected = entry["hash"] if entry else "0" * 64
        if not secrets.compare_digest(expected, hashlib.sha256(key.encode()).hexdigest()) or entry is None:
            raise AuthError("invalid API key")
        if key_id in self.revoked:
            raise AuthError("API key revoked")
        return Principal(
            subject=entry["subject"], scopes=frozenset(entry["scopes"]), places=tuple(entry["places"]), via="api_key"
        )

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise AuthError("Authorization must be 'Bearer <token>'")
            return self.verify_token(token.strip())
        if api_key:
            return self.verify_api_key(api_key)
        raise AuthError("credential required: Authorization: Bearer <token> or X-API-Key")


class Verifier:
    """The keyring as seen by a running service: re-read when the file changes, so a
    revocation by ``govmesh-auth revoke`` takes effect without a restart."""

    def __init__(self, path: Path, *, development: bool) -> None:
        self.path = path
        self.keyring = Keyring.load(path, development=development)
        self._mtime = path.stat().st_mtime_ns

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        mtime = self.path.stat().st_mtime_ns
        if mtime != self._mtime:
            self.keyring = Keyring.load(self.path, development=False)
            self._mtime = mtime
        return self.keyring.authenticate(authorization, api_key)

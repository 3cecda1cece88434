"""Who is signed in: a server-side session per browser, and the two ways to get one.

The browser holds only a random session id in an HttpOnly, SameSite=Lax cookie; the
access token stays on the server (page scripts can never read it). Sessions are kept in
memory and written through to a small SQLite file (``CONSOLE_SESSIONS_FILE``, owner-only),
so a console restart signs nobody out; signing out deletes the row (server-side
revocation). The file holds the SHA-256 of each session id, never the id the cookie carries.

- With ``GOVMESH_OIDC_ISSUER``: OpenID Connect authorization code + PKCE S256 with the
  public client ``govmesh-console``; the token's roles and ``place`` claim say what the
  person sees, and the services enforce the same from the same token.
- In development without an issuer: the person picks a role and a place, and the console
  mints a short-lived token from the local keyring with exactly ``roles.scopes_for(role)``.
  Refused outside development.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from govmesh_runtime.auth import Keyring
from govmesh_runtime.roles import Role, scopes_for

COOKIE = "govmesh_console"


# Roles a person can sign in as (systems' roles are not people's).
PEOPLE_ROLES: tuple[Role, ...] = (
    Role.WINDOW_CLERK,
    Role.GRID_WORKER,
    Role.COMMUNITY_CENTRE,
    Role.TOWNSHIP_CENTRE,
    Role.COUNTY_CENTRE,
    Role.CITY_CENTRE,
    Role.MEDIATOR,
    Role.POLICE_OFFICER,
    Role.DEPARTMENT,
    Role.AUDITOR,
    Role.ADMINISTRATOR,
)


@dataclass
class Session:
    subject: str
    role: str
    place: str | None
    scopes: frozenset[str]
    access_token: str
    expires_at: float
    worker_id: str | None = None
    refresh_token: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    last_seen: float = field(default_factory=time.time)

    def has(self, scope: str) -> bool:
        return scope in self.scopes


class SessionStore:
    """Sessions by id: in memory, and in ``path`` (SQLite) when given, so they outlive a restart."""

    TOUCH_EVERY_S = 60.0  # last_seen is written to the file at most this often per session

    def __init__(self, idle_s: int, path: Path | None = None) -> None:
        self.idle_s = idle_s
        self._sessions: dict[str, Session] = {}
        self._written: dict[str, float] = {}  # sid -> last_seen as last written
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600, exist_ok=True)
            path.chmod(0o600)  # access tokens: the console's owner only
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS console_sessions"
                " (sid_hash TEXT PRIMARY KEY, body TEXT NOT NULL, last_seen REAL NOT NULL)"
            )

    @staticmethod
    def _key(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    def create(self, session: Session) -> str:
        self._forget_idle()
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = session
        self.save(sid, session)
        return sid

    def save(self, sid: str, session: Session) -> None:
        """Write the session through (after sign-in, and after a token refresh)."""
        if self._db is not None:
            body = json.dumps({**asdict(session), "scopes": sorted(session.scopes)})
            self._db.execute(
                "INSERT OR REPLACE INTO console_sessions (sid_hash, body, last_seen) VALUES (?, ?, ?)",
                (self._key(sid), body, session.last_seen),
            )
            self._written[sid] = session.last_seen

    def _load(self, sid: str) -> Session | None:
        if self._db is None:
            return None
        row = self._db.execute("SELECT body FROM console_sessions WHERE sid_hash = ?", (self._key(sid),)).fetchone()
        if row is None:
            return None
        fields = json.loads(row[0])
        session = Session(**{**fields, "scopes": frozenset(fields["scopes"])})
        self._sessions[sid] = session
        self._written[sid] = session.last_seen
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._sessions.get(sid) or self._load(sid)
        now = time.time()
        if session is None or now - session.last_seen > self.idle_s:
            self.drop(sid)
            return None
        session.last_seen = now
        if self._db is not None and now - self._written.get(sid, 0.0) > self.TOUCH_EVERY_S:
            self._db.execute("UPDATE console_sessions SET last_seen = ? WHERE sid_hash = ?", (now, self._key(sid)))
            self._written[sid] = now
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)
            self._written.pop(sid, None)
            if self._db is not None:
                self._db.execute("DELETE FROM console_sessions WHERE sid_hash = ?", (self._key(sid),))

    def _forget_idle(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if now - v.last_seen > self.idle_s]:
            del self._sessions[sid]
            self._written.pop(sid, None)
        if self._db is not None:
            self._db.execute("DELETE FROM console_sessions WHERE last_seen < ?", (now - self.idle_s,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def dev_session(
    keyring: Keyring, role: Role, place: str | None, worker_id: str | None, subject: str, ttl_s: int
) -> Session:
    """A development session: a keyring token with the role's scopes, for the chosen place."""
    scopes = scopes_for([role.value])
    places = [place] if place else []
    token = keyring.issue_token(subject, sorted(scopes), places, ttl_s=ttl_s)
    return Session(
        subject=subject,
        role=role.value,
        place=place,
        scopes=scopes,
        access_token=token,
        expires_at=time.time() + ttl_s,
        worker_id=worker_id,
    )


# ---------------------------------------------------------------------------------- OIDC + PKCE


@dataclass
class PendingLogin:
    verifier: str
    nonce: str
    next_url: str
    started: float = field(default_factory=time.time)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """The console as a public OIDC client of one issuer."""

    def __init__(self, issuer: str, client_id: str, http_timeout_s: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.timeout = http_timeout_s
        self._config: dict[str, Any] | None = None
        self.pending: dict[str, PendingLogin] = {}

    async def config(self) -> dict[str, Any]:
        if self._config is None:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                answer = await http.get(self.issuer + "/.well-known/openid-configuration")
                answer.raise_for_status()
                self._config = answer.json()
        return self._config

    async def authorization_url(self, redirect_uri: str, next_url: str) -> tuple[str, str]:
        """(URL to send the browser to, state)."""
        now = time.time()
        for state in [s for s, p in self.pending.items() if now - p.started > 600]:
            del self.pending[state]
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.pending[state] = PendingLogin(verifier, nonce, next_url)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{(await self.config())['authorization_endpoint']}?{urlencode(query)}", state

    async def exchange(self, state: str, code: str, redirect_uri: str) -> tuple[Session, str]:
        """The session for an authorization code, and where the person was going."""
        pending = self.pending.pop(state, None)
        if pending is None:
            raise PermissionError("unknown or expired sign-in (state)")
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            answer = await http.post(
                (await self.config())["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": self.client_id,
                    "code_verifier": pending.verifier,
                },
            )
        if answer.status_code != 200:
            raise PermissionError(f"the identity provider refused the code: {answer.text[:200]}")
        tokens = answer.json()
        return self._session(tokens), pending.next_url

    async def refresh(self, session: Session) -> bool:
        if not session.refresh_token:
            return False
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            answer = await http.post(
                (await self.config())["token_endpoint"],
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": session.refresh_token,
                    "client_id": self.client_id,
                },
            )
        if answer.status_code != 200:
            return False
        fresh = self._session(answer.json())
        session.access_token, session.refresh_token, session.expires_at = (
            fresh.access_token,
            fresh.refresh_token,
            fresh.expires_at,
        )
        return True

    def _session(self, tokens: dict[str, Any]) -> Session:
        access = str(tokens["access_token"])
        # Received straight from the token endpoint (back channel), so not verified again here:
        # the console reads roles and place only to shape its pages; every service verifies
        # the token's signature and audience itself on each call.
        claims = jwt.decode(access, options={"verify_signature": False})
        roles = [str(r) for r in claims.get("realm_access", {}).get("roles", [])]
        person_roles = [r for r in roles if r in {role.value for role in PEOPLE_ROLES}]
        place = claims.get("place")
        worker_id = str(claims["worker_id"]) if claims.get("worker_id") and Role.GRID_WORKER in roles else None
        return Session(
            # a grid worker is their worker id, as the services take it (runtime.oidc)
            subject=worker_id or str(claims.get("preferred_username") or claims.get("sub")),
            role=person_roles[0] if person_roles else (roles[0] if roles else ""),
            place=str(place) if place else None,
            scopes=scopes_for(roles),
            access_token=access,
            expires_at=time.time() + float(tokens.get("expires_in", 300)),
            worker_id=worker_id,
            refresh_token=tokens.get("refresh_token"),
        )

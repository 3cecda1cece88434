"""Who is signed in: a server-side session per browser, and the two ways to get one.

The browser holds only a random session id in an HttpOnly, SameSite=Lax cookie; the
access token stays on the server (page scripts can never read it). Sessions live in this
process's memory: a restart signs everyone out, which is acceptable for one console
process per centre (a shared store is left for when the console is scaled out).

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
import secrets
import time
from dataclasses import dataclass, field
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
    def __init__(self, idle_s: int) -> None:
        self.idle_s = idle_s
        self._sessions: dict[str, Session] = {}

    def create(self, session: Session) -> str:
        self._forget_idle()
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = session
        return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._sessions.get(sid)
        now = time.time()
        if session is None or now - session.last_seen > self.idle_s:
            self._sessions.pop(sid, None)
            return None
        session.last_seen = now
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)

    def _forget_idle(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if now - v.last_seen > self.idle_s]:
            del self._sessions[sid]


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
        return Session(
            subject=str(claims.get("preferred_username") or claims.get("sub")),
            role=person_roles[0] if person_roles else (roles[0] if roles else ""),
            place=str(place) if place else None,
            scopes=scopes_for(roles),
            access_token=access,
            expires_at=time.time() + float(tokens.get("expires_in", 300)),
            worker_id=str(claims["worker_id"]) if claims.get("worker_id") else None,
            refresh_token=tokens.get("refresh_token"),
        )

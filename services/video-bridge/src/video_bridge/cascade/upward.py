"""The bridge as a lower platform: registration to one upper platform, kept alive.

One task per upper platform: digest REGISTER (the 401 challenge answered), a Keepalive
MESSAGE every interval, a refresh before the registration expires, and a new registration
after a failure (keepalives unanswered ``keepalive_max_missed`` times, a 4xx to a keepalive,
a refused or unanswered REGISTER), waiting longer after each failure (doubling, capped).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from govmesh_runtime.logging import get_logger
from video_bridge.cascade import bodies
from video_bridge.domain.digest import expected_response, parse_authorization
from video_bridge.domain.sip import Peer, SipMessage
from video_bridge.settings import UpperPlatform

log = get_logger(__name__)

USER_AGENT = "govmesh-video-bridge"
CONTENT_TYPE = "Application/MANSCDP+xml"


class Endpoint(Protocol):
    """What the cascade needs of the SIP endpoint (video_bridge.sip_server.SipServer)."""

    server_id: str

    def via_address(self, transport: str) -> tuple[str, int]: ...

    async def transact(self, request: SipMessage, peer: Peer) -> SipMessage: ...

    def respond(self, request: SipMessage, response: SipMessage, peer: Peer) -> None: ...


class RegistrationFailed(Exception):
    """The upper platform refused or did not answer our REGISTER."""


def refresh_after(expires_s: float) -> float:
    """When to refresh a registration granted for ``expires_s``: well before it runs out
    (a minute early, or half-way for short ones)."""
    return max(expires_s - 60.0, expires_s / 2)


def backoff(failures: int, minimum: float, maximum: float) -> float:
    """The wait before the next registration after ``failures`` failures in a row."""
    return float(min(maximum, minimum * 2 ** max(0, failures - 1)))


def new_tag() -> str:
    return secrets.token_hex(6)


@dataclass
class LinkState:
    registered: bool = False
    registered_at: datetime | None = None
    expires_s: int = 0
    failures: int = 0
    last_error: str | None = None
    keepalives_sent: int = 0
    registrations: int = 0


@dataclass
class UpwardLink:
    platform: UpperPlatform
    endpoint: Endpoint
    retry_min_s: float
    retry_max_s: float
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    state: LinkState = field(default_factory=LinkState)
    # one REGISTER dialog (Call-ID, From tag, CSeq) per run: refreshes continue it (RFC 3261 10.2)
    _call_id: str = field(default_factory=lambda: secrets.token_hex(12))
    _tag: str = field(default_factory=new_tag)
    _cseq: int = field(default_factory=lambda: secrets.randbelow(1000) + 1)
    _sn: int = field(default_factory=lambda: secrets.randbelow(100_000) + 1)
    _lost: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def peer(self) -> Peer:
        return Peer(self.platform.transport, self.platform.host, self.platform.port)

    @property
    def platform_id(self) -> str:
        return self.platform.platform_id

    def next_sn(self) -> str:
        self._sn += 1
        return str(self._sn)

    def lost(self, reason: str) -> None:
        """The upper platform no longer knows us (e.g. it answered a message 404): register again now."""
        self.state.last_error = reason
        self._lost.set()

    # --- requests ---------------------------------------------------------------------

    def request(self, method: str, *, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> SipMessage:
        """An out-of-dialog request to the upper platform (MESSAGE, REGISTER)."""
        server_id = self.endpoint.server_id
        host, port = self.endpoint.via_address(self.platform.transport)
        message = SipMessage(method=method, uri=f"sip:{self.platform_id}@{self.platform.domain}")
        message.add(
            "via", f"SIP/2.0/{self.platform.transport} {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}"
        )
        if method == "REGISTER":
            self._cseq += 1
            message.add("from", f"<sip:{server_id}@{server_id[:10]}>;tag={self._tag}")
            message.add("to", f"<sip:{server_id}@{server_id[:10]}>")
            message.add("call-id", self._call_id)
            message.add("cseq", f"{self._cseq} REGISTER")
            message.add("contact", f"<sip:{server_id}@{host}:{port}>")
        else:
            message.add("from", f"<sip:{server_id}@{server_id[:10]}>;tag={new_tag()}")
            message.add("to", f"<sip:{self.platform_id}@{self.platform.domain}>")
            message.add("call-id", f"{secrets.token_hex(12)}@{server_id}")
            message.add("cseq", f"{secrets.randbelow(10_000) + 1} {method}")
        message.add("max-forwards", "70")
        message.add("user-agent", USER_AGENT)
        for name, value in headers or []:
            message.add(name, value)
        if body:
            message.add("content-type", CONTENT_TYPE)
        message.body = body
        return message

    async def send_message(self, body: bytes) -> SipMessage:
        """A MANSCDP MESSAGE to the upper platform; its final answer (QueryFailed if none)."""
        return await self.endpoint.transact(self.request("MESSAGE", body=body), self.peer)

    # --- registration -----------------------------------------------------------------

    async def register(self, expires: int) -> int:
        """Digest registration; returns the lifetime granted. RegistrationFailed otherwise."""
        headers = [("expires", str(expires))]
        try:
            answer = await self.endpoint.transact(self.request("REGISTER", headers=headers), self.peer)
            if answer.status in (401, 407):
                challenge = answer.get("www-authenticate" if answer.status == 401 else "proxy-authenticate") or ""
                authorization = self._authorization(challenge)
                name = "authorization" if answer.status == 401 else "proxy-authorization"
                answer = await self.endpoint.transact(
                    self.request("REGISTER", headers=[*headers, (name, authorization)]), self.peer
                )
            if answer.status == 423 and expires:
                minimum = (answer.get("min-expires") or "").strip()
                if minimum.isdigit() and int(minimum) > expires:
                    return await self.register(int(minimum))
        except RegistrationFailed:
            raise
        except Exception as exc:  # QueryFailed (no answer) or a connection error
            raise RegistrationFailed(str(exc) or repr(exc)) from exc
        if answer.status != 200:
            raise RegistrationFailed(f"upper platform answered {answer.status} {answer.reason}")
        granted = (answer.get("expires") or "").strip()
        return int(granted) if granted.isdigit() else expires

    def _authorization(self, challenge: str) -> str:
        params = parse_authorization(challenge)
        if "nonce" not in params:
            raise RegistrationFailed("the upper platform's challenge has no digest nonce")
        username = self.platform.username or self.endpoint.server_id
        realm = params.get("realm", self.platform.domain)
        uri = f"sip:{self.platform_id}@{self.platform.domain}"
        qop = "auth" if "auth" in [q.strip() for q in params.get("qop", "").split(",")] else None
        cnonce = secrets.token_hex(8)
        response = expected_response(
            username=username,
            realm=realm,
            password=self.platform.password,
            method="REGISTER",
            uri=uri,
            nonce=params["nonce"],
            qop=qop,
            nc="00000001" if qop else None,
            cnonce=cnonce if qop else None,
        )
        value = (
            f'Digest username="{username}", realm="{realm}", nonce="{params["nonce"]}", uri="{uri}", '
            f'response="{response}", algorithm=MD5'
        )
        if qop:
            value += f', cnonce="{cnonce}", qop=auth, nc=00000001'
        if "opaque" in params:
            value += f', opaque="{params["opaque"]}"'
        return value

    async def keepalive(self) -> bool | None:
        """True: answered 200; False: answered with a refusal (we must register again);
        None: not answered."""
        self.state.keepalives_sent += 1
        try:
            answer = await self.send_message(bodies.keepalive(self.endpoint.server_id, self.next_sn()))
        except Exception:
            return None
        return answer.status == 200

    # --- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Register, keep alive, refresh; after any failure register again (backoff)."""
        while True:
            self._lost.clear()
            try:
                granted = await self.register(self.platform.register_expires_s)
            except RegistrationFailed as exc:
                self._failed(str(exc))
                await self.sleep(backoff(self.state.failures, self.retry_min_s, self.retry_max_s))
                continue
            self._registered(granted)
            reason = await self._keep_alive(granted)
            if reason is not None:
                self._failed(reason)
                await self.sleep(backoff(self.state.failures, self.retry_min_s, self.retry_max_s))
            # else: time to refresh the registration (same Call-ID, next CSeq)

    async def _keep_alive(self, granted: int) -> str | None:
        """Keepalives until the refresh is due (None) or the link is lost (the reason)."""
        refresh_at = time.monotonic() + refresh_after(granted)
        missed = 0
        while True:
            answered = await self.keepalive()
            if answered is False:
                return "the upper platform refused a keepalive"
            if answered:
                missed, self.state.failures = 0, 0  # the link works: the backoff starts over
            else:
                missed += 1
            if missed >= self.platform.keepalive_max_missed:
                return f"{missed} keepalives unanswered"
            wait = min(self.platform.keepalive_interval_s, refresh_at - time.monotonic())
            if wait <= 0:
                return None
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=wait)
            except TimeoutError:
                if time.monotonic() >= refresh_at:
                    return None
                continue
            return self.state.last_error or "lost"

    def _registered(self, granted: int) -> None:
        fresh = not self.state.registered
        self.state.registered = True
        self.state.registered_at = datetime.now(UTC)
        self.state.expires_s = granted
        self.state.registrations += 1
        self.state.last_error = None
        log.info("cascade_registered", platform_id=self.platform_id, expires=granted, fresh=fresh)

    def _failed(self, reason: str) -> None:
        self.state.registered = False
        self.state.failures += 1
        self.state.last_error = reason
        self._call_id, self._tag = secrets.token_hex(12), new_tag()  # a new registration dialog
        log.warning("cascade_link_down", platform_id=self.platform_id, reason=reason, failures=self.state.failures)

    async def unregister(self) -> None:
        """Expires: 0 at shutdown (best effort): the upper platform shows us offline at once."""
        if not self.state.registered:
            return
        self.state.registered = False
        try:
            await asyncio.wait_for(self.register(0), timeout=3)
        except (RegistrationFailed, TimeoutError) as exc:
            log.info("cascade_unregister_failed", platform_id=self.platform_id, error=str(exc))

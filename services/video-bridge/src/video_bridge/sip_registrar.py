"""The SIP registrar: REGISTER with digest auth, device admission, and who is online from where.

A device is admitted (known, or admitted unknown by settings), proves its secret (its own
from the registry, else a configured password, else the shared one), and may then speak
only from the address it registered from. Lock-outs and challenge rates are per device and
per source host. Keepalives of devices known online are answered at once and written in
batches (``flush_seen``); the database stays the truth: the batch is flushed before every
liveness check, and a device the check takes offline leaves the cache.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import datetime

from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.domain import manscdp
from video_bridge.domain.device_id import InvalidDeviceId, parse_device_id
from video_bridge.domain.digest import Verdict, ha1
from video_bridge.domain.manscdp import ManscdpError
from video_bridge.domain.sip import Peer, SipMessage, response_to
from video_bridge.handlers import devices
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_auth import Lockouts, PeerNonces, device_secret, digest_uri_names, verify_register
from video_bridge.sip_limits import TokenBuckets
from video_bridge.sip_transport import SipTransport, new_tag

log = get_logger(__name__)


class Registrar:
    def __init__(
        self,
        settings: VideoBridgeSettings,
        transport: SipTransport,
        uow_factory: Callable[..., UnitOfWork],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.stats = transport.stats
        self._uow = uow_factory
        self._clock = clock
        self.server_id = settings.sip_server_id
        self.realm = settings.realm
        secret = settings.sip_nonce_secret.encode() or secrets.token_bytes(32)
        # admission (sip_auth) and limits (sip_limits); per source = per source host
        self._nonces = PeerNonces(settings.sip_nonce_lifetime_s, secret=secret)
        self._lockouts = Lockouts(settings.sip_lockout_failures, settings.sip_lockout_window_s, settings.sip_lockout_s)
        self._challenges = TokenBuckets(settings.sip_challenge_rate, settings.sip_challenge_burst)
        # where each registered device registered from: its MESSAGE/NOTIFY must come from there
        self.peers: dict[str, Peer] = {}
        self.online: set[str] = set()
        self._seen: dict[str, tuple[Peer, datetime]] = {}
        self._flush_lock = asyncio.Lock()
        # set by the endpoint: what to do once a device registered afresh (ask its catalog)
        self.on_fresh: Callable[[str], None] | None = None

    # --- REGISTER ----------------------------------------------------------------------

    async def on_register(self, request: SipMessage, peer: Peer) -> None:
        respond = self.transport.respond
        try:
            device_id = parse_device_id(request.from_user).value
        except InvalidDeviceId as exc:
            respond(request, response_to(request, 400, f"Bad device id: {exc}"[:100], to_tag=new_tag()), peer)
            return
        expires = _expires(request)
        if expires is None:
            respond(request, response_to(request, 400, "Bad Expires", to_tag=new_tag()), peer)
            return
        now = time.monotonic()
        keys = (f"device:{device_id}", f"source:{peer.host}")
        if self._lockouts.locked(keys, now):
            self.refuse(request, peer, 403, "Locked out", device_id)
            return
        async with self._uow() as uow:
            admitted = await devices.is_admitted(
                uow,
                device_id,
                admit_unknown=self.settings.admits_unknown,
                configured=self.settings.known_devices,
            )
            own_secret = await device_secret(uow, device_id) if admitted else None
        if not admitted:
            self.refuse(request, peer, 403, "Unknown device", device_id)
            return
        # the device's own secret from the registry, else a configured password, else the shared one
        secret = own_secret or ha1(
            device_id, self.realm, self.settings.sip_device_passwords.get(device_id, self.settings.sip_password)
        )
        verdict = verify_register(
            request.get("authorization"),
            nonces=self._nonces,
            method="REGISTER",
            uri_ok=lambda uri: self._names_us(uri, request.uri or ""),
            realm=self.realm,
            username=device_id,
            secret_ha1=secret,
            host=peer.host,
            now=now,
        )
        if verdict in (Verdict.MISSING, Verdict.STALE):
            if not self._challenges.take(peer.host, now):
                self.stats["throttled"] += 1  # challenges to one source are rate-limited: no answer
                return
            challenge = response_to(request, 401, to_tag=new_tag())
            challenge.add(
                "www-authenticate",
                self._nonces.challenge(self.realm, peer.host, now, stale=verdict is Verdict.STALE),
            )
            respond(request, challenge, peer)
            return
        if verdict is Verdict.WRONG:
            self._lockouts.failed(keys, now)
            self.refuse(request, peer, 403, "Wrong credentials", device_id)
            return
        self._lockouts.succeeded(f"device:{device_id}")
        if expires == 0:
            self.online.discard(device_id)
            self.peers.pop(device_id, None)
            self._seen.pop(device_id, None)
            async with self._uow() as uow:
                await devices.unregister(uow, device_id, now=self._clock())
                await uow.commit()
            log.info("sip_unregistered", device_id=device_id)
            respond(request, self._register_ok(request, 0), peer)
            return
        if expires < self.settings.register_expires_min_s:
            brief = response_to(request, 423, to_tag=new_tag())
            brief.add("min-expires", str(self.settings.register_expires_min_s))
            respond(request, brief, peer)
            return
        expires = min(expires, self.settings.register_expires_max_s)
        async with self._uow() as uow:
            fresh = await devices.register(uow, device_id, peer, expires, now=self._clock())
            await uow.commit()
        self.online.add(device_id)
        self.peers[device_id] = peer
        log.info("sip_registered", device_id=device_id, transport=peer.transport, expires=expires, fresh=fresh)
        respond(request, self._register_ok(request, expires), peer)
        if fresh and self.settings.catalog_on_register and self.on_fresh is not None:
            self.on_fresh(device_id)

    def _names_us(self, uri: str, request_uri: str) -> bool:
        hosts = {self.realm, self.server_id[:10], self.settings.sip_host, self.settings.sip_advertised_host} - {""}
        ports = {self.transport.udp_port, self.transport.tcp_port}
        return digest_uri_names(uri, request_uri, server_id=self.server_id, hosts=hosts, ports=ports)

    def refuse(self, request: SipMessage, peer: Peer, status: int, reason: str, device_id: str) -> None:
        self.stats["refused"] += 1
        source = f"{peer.transport}:{peer.host}:{peer.port}"
        log.info("sip_refused", device_id=device_id[:40], source=source, reason=reason)
        self.transport.respond(request, response_to(request, status, reason, to_tag=new_tag()), peer)

    def _register_ok(self, request: SipMessage, expires: int) -> SipMessage:
        ok = response_to(request, 200, to_tag=new_tag())
        contact = request.get("contact")
        if contact:
            ok.add("contact", contact.split(";expires=")[0])
        ok.add("expires", str(expires))
        # GB/T 28181 devices set their clock from the Date of the 200 (local time, ms).
        ok.add("date", datetime.now(manscdp.CHINA).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])
        return ok

    # --- who may speak -------------------------------------------------------------------

    async def admit_message(self, request: SipMessage, peer: Peer, device_id: str) -> bool:
        """A MESSAGE/NOTIFY is taken only from a registered device, from where it registered;
        otherwise it is answered here (404 or 403) and False returned."""
        registered_from = self.peers.get(device_id) if device_id in self.online else None
        if registered_from is None:
            async with self._uow() as uow:
                row = await devices.registered_device(uow, device_id)
                if row is not None and row.transport and row.host and row.port is not None:
                    registered_from = Peer(row.transport, row.host, row.port)
        if registered_from is None:
            # not registered (or expired): 404 makes the device register again
            answer = response_to(request, 404, "Device not registered", to_tag=new_tag())
            self.transport.respond(request, answer, peer)
            return False
        if registered_from != peer:
            # a device speaks only from where it registered (transport, host, port); one that
            # moved (NAT rebinding) registers again, and its new address is then the one. Not
            # counted towards a lock-out: a NAT box that rebinds all its devices at once would
            # lock out a whole site.
            self.refuse(request, peer, 403, "Not the registered address", device_id)
            return False
        self.peers[device_id] = peer
        return True

    # --- keepalives ----------------------------------------------------------------------

    def answer_keepalive_at_once(self, message: SipMessage, peer: Peer) -> bool:
        """The hot path: a keepalive (every device, every minute) from a device known online
        with nothing of that device in flight is answered here, without a task, a slot or a
        lock; its last-seen time joins the next batch write. Anything else, or anything
        unexpected, returns False and takes the ordinary path (which answers it the same)."""
        if message.method != "MESSAGE" or b"Keepalive" not in message.body:
            return False
        device_id = message.from_user or ""
        if device_id not in self.online or self.peers.get(device_id) != peer:
            return False  # not known online, or not from where it registered: the checked path
        if device_id in self.transport.pending:
            return False  # an earlier message of the device is in flight: stay in order behind it
        try:
            doc = manscdp.parse(message.body)
        except ManscdpError:
            return False
        if doc.root != "Notify" or doc.cmd_type != "Keepalive":
            return False
        try:
            if self.transport.open_transaction(message, peer):
                self._note_keepalive(device_id, peer)
                self.transport.respond(message, response_to(message, 200, to_tag=new_tag()), peer)
        except Exception as exc:
            self.transport.failed(message, peer, exc)
        return True

    async def keepalive(self, device_id: str, peer: Peer) -> None:
        """A keepalive that passed admission: batched if the device is known online, else written now."""
        if device_id in self.online:
            self._note_keepalive(device_id, peer)
            return
        async with self._uow() as uow:
            await devices.keepalive(uow, device_id, peer, now=self._clock())
            await uow.commit()
        self.online.add(device_id)

    def _note_keepalive(self, device_id: str, peer: Peer) -> None:
        """A keepalive of a device already online: last seen now, written with the next batch."""
        self._seen[device_id] = (peer, self._clock())
        if len(self._seen) >= 2000:
            self.transport.spawn(self.flush_seen())

    async def flush_seen(self) -> None:
        """Write the batched keepalives (one transaction)."""
        async with self._flush_lock:
            if not self._seen:
                return
            batch, self._seen = self._seen, {}
            try:
                async with self._uow() as uow:
                    await devices.record_seen(uow, batch)
                    await uow.commit()
            except Exception:
                for device_id, entry in batch.items():  # keep them for the next flush
                    self._seen.setdefault(device_id, entry)
                raise

    def went_offline(self, device_ids: list[str]) -> None:
        """Devices the liveness check took offline leave the cache (their next message is checked)."""
        self.online.difference_update(device_ids)
        for device_id in device_ids:
            self.peers.pop(device_id, None)


def _expires(request: SipMessage) -> int | None:
    """The requested registration lifetime: Contact ;expires= wins over Expires; 3600 if neither."""
    contact = request.get("contact") or ""
    for param in contact.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "expires":
            value = value.strip().strip(">")
            return int(value) if value.isdigit() and len(value) <= 9 else None
    header = request.get("expires")
    if header is None:
        return 3600
    header = header.strip()
    return int(header) if header.isdigit() and len(header) <= 9 else None

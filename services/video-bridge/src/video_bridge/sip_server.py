"""The GB/T 28181 SIP endpoint: asyncio UDP and TCP, REGISTER with digest auth,
MANSCDP MESSAGE/NOTIFY, and queries we send to devices (Catalog, DeviceInfo,
DeviceStatus, RecordInfo).

Every incoming message is handled in its own task (bounded); per device, messages
are handled in order. Whatever arrives, the endpoint keeps serving: unparseable
input is dropped (UDP) or ends the connection (TCP), a request we can answer but not
use gets 400, and a failure inside a handler gets 500 and a log line.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from govmesh_kit.clock import Clock, system_clock
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge import handlers
from video_bridge.adapters import metrics
from video_bridge.adapters.grids import GridLocator
from video_bridge.domain import manscdp
from video_bridge.domain.assembly import Assembler
from video_bridge.domain.device_id import InvalidDeviceId, parse_device_id
from video_bridge.domain.digest import Verdict, ha1
from video_bridge.domain.manscdp import AlarmNotice, CatalogItem, ManscdpError, RecordItem
from video_bridge.domain.sip import (
    MAX_MESSAGE_BYTES,
    SipMessage,
    SipParseError,
    content_length,
    parse_datagram,
    parse_head,
    response_to,
    via_with_received,
)
from video_bridge.handlers import Peer
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_auth import (
    Lockouts,
    PeerNonces,
    device_secret,
    digest_uri_names,
    foreign_channels,
    owns_channel,
    verify_register,
)
from video_bridge.sip_limits import ConnectionCounts, TokenBuckets

log = get_logger(__name__)

ALLOW = "REGISTER, MESSAGE, NOTIFY, OPTIONS, ACK, BYE, CANCEL"
CONTENT_TYPE = "Application/MANSCDP+xml"
MAX_CONCURRENT = 256
MAX_HEAD_BYTES = 16_384
_RETRANSMIT_S = (0.5, 1.0, 2.0, 4.0)


class QueryFailed(Exception):
    """A query a device did not accept or did not answer in time."""


class DeviceNotRegistered(QueryFailed):
    """No device with this id is registered now (unknown, or its registration expired)."""


class PlatformHooks(Protocol):
    """The cascade to upper platforms (video_bridge.cascade.platforms.Cascade), set by bootstrap."""

    async def on_request(self, request: SipMessage, peer: Peer) -> bool: ...

    def alarm_raised(self, notice: AlarmNotice) -> None: ...


@dataclass
class _Waiter:
    future: asyncio.Future[list[Any]]


class SipServer:
    def __init__(
        self,
        settings: VideoBridgeSettings,
        uow_factory: Callable[..., UnitOfWork],
        grids: GridLocator,
    ) -> None:
        self.settings = settings
        self._uow = uow_factory
        # What "now" is for liveness (registration, keepalives, silence): tests move it instead
        # of waiting, so no test depends on the machine being idle.
        self.clock: Clock = system_clock
        self.grids = grids
        self.server_id = settings.sip_server_id
        self.realm = settings.realm
        secret = settings.sip_nonce_secret.encode() or secrets.token_bytes(32)
        # admission (sip_auth) and limits (sip_limits); per source = per source host
        self._nonces = PeerNonces(settings.sip_nonce_lifetime_s, secret=secret)
        self._lockouts = Lockouts(settings.sip_lockout_failures, settings.sip_lockout_window_s, settings.sip_lockout_s)
        self._challenges = TokenBuckets(settings.sip_challenge_rate, settings.sip_challenge_burst)
        self._sources = TokenBuckets(settings.sip_source_rate, settings.sip_source_burst)
        self._connections = ConnectionCounts(settings.sip_tcp_max_connections, settings.sip_tcp_max_per_source)
        self._pending_by_host: dict[str, int] = {}
        self._pending_total = 0
        # where each registered device registered from: its MESSAGE/NOTIFY must come from there
        self._peers: dict[str, Peer] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tcp_conns: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._device_locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, int] = {}  # sender -> messages spawned and not yet handled
        self._answered: OrderedDict[tuple[str, int, str, str], bytes | None] = OrderedDict()
        self._client_tx: dict[tuple[str, int], asyncio.Future[SipMessage]] = {}
        self._query_waiters: dict[tuple[str, str, str], _Waiter] = {}  # (device, CmdType, SN)
        self._catalogs: Assembler[CatalogItem] = Assembler(settings.assembly_timeout_s)
        self._records: Assembler[RecordItem] = Assembler(settings.assembly_timeout_s)
        self._cseq = secrets.randbelow(10_000) + 1
        # Keepalives of devices known online are answered at once and written in batches
        # (record_seen); the database stays the truth: the batch is flushed before every
        # liveness check, and a device the check takes offline leaves the cache.
        self._online_cache: set[str] = set()
        self._seen: dict[str, tuple[Peer, datetime]] = {}
        self._flush_lock = asyncio.Lock()
        self.udp_port = 0
        self.tcp_port = 0
        self.stats: dict[str, int] = {
            "received": 0,
            "dropped": 0,
            "answered": 0,
            "errors": 0,
            "throttled": 0,  # over a source's rate, or the backlogs full: dropped before parsing
            "refused": 0,  # admission refused (address, lock-out, foreign channel, credentials)
            "tcp_refused": 0,  # connections over the caps
            "tcp_timeouts": 0,  # connections closed idle or mid-message
        }
        self.cascade: PlatformHooks | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.settings.sip_host, self.settings.sip_port
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, port))
        self._udp = transport
        self.udp_port = int(transport.get_extra_info("sockname")[1])
        receive_buffer = self._size_receive_buffer(transport)
        self._tcp = await asyncio.start_server(self._serve_tcp, host, port, limit=MAX_MESSAGE_BYTES * 2)
        self.tcp_port = int(self._tcp.sockets[0].getsockname()[1])
        self._spawn(self._liveness_loop())
        self._spawn(self._flush_loop())
        log.info(
            "sip_started",
            host=host,
            udp_port=self.udp_port,
            tcp_port=self.tcp_port,
            server_id=self.server_id,
            udp_receive_buffer=receive_buffer,
        )

    def _size_receive_buffer(self, transport: asyncio.DatagramTransport) -> int:
        """A receive buffer that rides out a pause of the event loop (a batch flush, a burst of
        re-registrations) instead of dropping datagrams, which devices only retransmit after
        500 ms. The kernel caps it at net.core.rmem_max; returns what it granted."""
        sock = transport.get_extra_info("socket")
        if sock is None:
            return 0
        if self.settings.sip_udp_receive_buffer_bytes:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.settings.sip_udp_receive_buffer_bytes)
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        try:
            await self.flush_seen()
        except Exception as exc:
            log.warning("keepalive_flush_failed", error=repr(exc))
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._tcp_conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
        log.info("sip_stopped", **self.stats)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- transport ---------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats["received"] += 1
        if not self._sources.take(addr[0], time.monotonic()):
            self.stats["throttled"] += 1  # one source's flood costs it, not the others
            return
        if not data.strip():
            return  # keep-alive CRLFs
        try:
            message = parse_datagram(data)
        except SipParseError as exc:
            self.stats["dropped"] += 1
            log.info("sip_dropped", transport="UDP", source=f"{addr[0]}:{addr[1]}", reason=str(exc)[:200])
            return
        peer = Peer("UDP", addr[0], addr[1])
        self._dispatch(message, peer)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        if not self._connections.open(host):
            self.stats["tcp_refused"] += 1  # over the caps: closed at once, nothing read
            writer.close()
            return
        peer = Peer("TCP", host, int(port))
        self._tcp_conns[(host, int(port))] = writer
        try:
            while True:
                message = await self._read_tcp_message(reader, peer)
                if message is None:
                    break
                self.stats["received"] += 1
                await self._tcp_pace(host)
                self._dispatch(message, peer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except TimeoutError:
            self.stats["tcp_timeouts"] += 1
        except SipParseError as exc:
            self.stats["dropped"] += 1
            log.info("sip_dropped", transport="TCP", source=f"{host}:{port}", reason=str(exc)[:200])
        finally:
            self._connections.close(host)
            self._tcp_conns.pop((host, int(port)), None)
            writer.close()

    async def _tcp_pace(self, host: str) -> None:
        """A TCP source over its rate is read more slowly (back-pressure), never cut off."""
        while not self._sources.take(host, time.monotonic()):
            self.stats["throttled"] += 1
            await asyncio.sleep(max(self._sources.wait_s(host, time.monotonic()), 0.001))

    async def _read_tcp_message(self, reader: asyncio.StreamReader, peer: Peer) -> SipMessage | None:
        """One message off the stream (framed by Content-Length); None at the end of the stream.
        The first byte may take the idle timeout; the whole message then the read timeout
        (a connection held open, or fed a byte at a time, is closed: TimeoutError)."""
        while True:
            first = await asyncio.wait_for(reader.read(1), self.settings.sip_tcp_idle_timeout_s)
            if not first:
                return None
            if first not in (b"\r", b"\n"):  # CRLFs between messages are keep-alives
                break
        return await asyncio.wait_for(self._read_rest(first, reader), self.settings.sip_tcp_read_timeout_s)

    async def _read_rest(self, first: bytes, reader: asyncio.StreamReader) -> SipMessage:
        try:
            head = first + await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise SipParseError("connection closed inside a message") from exc
        if len(head) > MAX_HEAD_BYTES:
            raise SipParseError("header too large")
        message = parse_head(head[:-4])
        length = content_length(message) or 0
        if length > MAX_MESSAGE_BYTES:
            raise SipParseError("body too large")
        message.body = await reader.readexactly(length) if length else b""
        return message

    def _send(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "TCP":
            writer = self._tcp_conns.get((peer.host, peer.port))
            if writer is None or writer.is_closing():
                self._spawn(self._send_new_tcp(data, peer))
                return
            writer.write(data)
        elif self._udp is not None:
            self._udp.sendto(data, (peer.host, peer.port))

    async def _send_new_tcp(self, data: bytes, peer: Peer) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(peer.host, peer.port), timeout=5)
        except (OSError, TimeoutError) as exc:
            log.info("sip_tcp_connect_failed", device=f"{peer.host}:{peer.port}", error=repr(exc))
            return
        writer.write(data)
        self._spawn(self._serve_tcp_outbound(reader, writer, peer))

    async def _serve_tcp_outbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer) -> None:
        self._tcp_conns[(peer.host, peer.port)] = writer
        try:
            while (message := await self._read_tcp_message(reader, peer)) is not None:
                self._dispatch(message, peer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, SipParseError, TimeoutError):
            pass
        finally:
            self._tcp_conns.pop((peer.host, peer.port), None)
            writer.close()

    def _respond(self, request: SipMessage, response: SipMessage, peer: Peer) -> None:
        data = response.encode()
        key = self._tx_key(request)
        if key is not None:
            self._answered[key] = data
        self.stats["answered"] += 1
        self._send(data, peer)

    @staticmethod
    def _tx_key(request: SipMessage) -> tuple[str, int, str, str] | None:
        number, method = request.cseq
        if not request.call_id or not number:
            return None
        return (request.call_id, number, method, request.from_tag or "")

    # --- dispatch ----------------------------------------------------------------------

    def _dispatch(self, message: SipMessage, peer: Peer) -> None:
        """Keepalives of online devices at once; everything else in a task of its own."""
        if self._answer_keepalive_at_once(message, peer):
            return
        # bounded backlog, and no source may fill it alone: over either cap the message is
        # dropped (a UDP device retransmits; an answer is retransmitted by its sender)
        from_host = self._pending_by_host.get(peer.host, 0)
        limits = self.settings
        if self._pending_total >= limits.sip_max_pending or from_host >= limits.sip_max_pending_per_source:
            self.stats["throttled"] += 1
            return
        self._pending_total += 1
        self._pending_by_host[peer.host] = from_host + 1
        sender = message.from_user or ""
        self._pending[sender] = self._pending.get(sender, 0) + 1
        self._spawn(self._handle_guarded(message, peer, sender))

    async def _handle_guarded(self, message: SipMessage, peer: Peer, sender: str) -> None:
        try:
            async with self._slots:
                try:
                    if message.is_request:
                        await self._handle_request(message, peer)
                    else:
                        self._handle_response(message)
                except Exception as exc:
                    self._failed(message, peer, exc)
        finally:
            left = self._pending.pop(sender) - 1
            if left:
                self._pending[sender] = left
            self._pending_total -= 1
            from_host = self._pending_by_host.pop(peer.host) - 1
            if from_host:
                self._pending_by_host[peer.host] = from_host

    def _failed(self, message: SipMessage, peer: Peer, exc: Exception) -> None:
        self.stats["errors"] += 1
        log.exception("sip_handler_failed", method=message.method, error=repr(exc))
        if message.is_request and message.method != "ACK" and not message.missing_headers():
            self._respond(message, response_to(message, 500), peer)

    def _answer_keepalive_at_once(self, message: SipMessage, peer: Peer) -> bool:
        """The hot path: a keepalive (every device, every minute) from a device known online
        with nothing of that device in flight is answered here, without a task, a slot or a
        lock; its last-seen time joins the next batch write. Anything else, or anything
        unexpected, returns False and takes the ordinary path (which answers it the same)."""
        if message.method != "MESSAGE" or b"Keepalive" not in message.body:
            return False
        device_id = message.from_user or ""
        if device_id not in self._online_cache or self._peers.get(device_id) != peer:
            return False  # not known online, or not from where it registered: the checked path
        if device_id in self._pending:
            return False  # an earlier message of the device is in flight: stay in order behind it
        try:
            doc = manscdp.parse(message.body)
        except ManscdpError:
            return False
        if doc.root != "Notify" or doc.cmd_type != "Keepalive":
            return False
        try:
            if self._open_transaction(message, peer):
                self._note_keepalive(device_id, peer)
                self._respond(message, response_to(message, 200, to_tag=_tag()), peer)
        except Exception as exc:
            self._failed(message, peer, exc)
        return True

    def _open_transaction(self, request: SipMessage, peer: Peer) -> bool:
        """What every request passes first: mandatory headers (else 400), the answer's address
        in the Via, and retransmissions (answered again, no second effect). False when the
        request needs nothing more."""
        missing = request.missing_headers()
        if missing or not request.cseq[0]:
            if request.get("via") and request.method != "ACK":
                bad = response_to(request, 400, f"Missing or bad header: {(missing or ['cseq'])[0]}")
                self._send(bad.encode(), peer)
            self.stats["dropped"] += 1
            return False
        # the answer goes where the request came from (RFC 3581 rport), recorded in the Via
        vias = request.get_all("via")
        request.headers = [(k, v) for k, v in request.headers if k != "via"]
        request.headers[0:0] = [("via", via_with_received(vias[0], peer.host, peer.port))] + [
            ("via", v) for v in vias[1:]
        ]
        key = self._tx_key(request)
        if key is not None and key in self._answered:
            previous = self._answered[key]
            if previous is not None:
                self._send(previous, peer)  # a retransmission: same answer, no second effect
            return False
        if key is not None:
            self._answered[key] = None
            while len(self._answered) > 20_000:
                self._answered.popitem(last=False)
        metrics.SIP_MESSAGES.labels(metrics.sip_method(request.method or "")).inc()
        return True

    async def _handle_request(self, request: SipMessage, peer: Peer) -> None:
        if not self._open_transaction(request, peer):
            return
        method = request.method or ""
        if method == "ACK":
            return
        if self.cascade is not None and await self.cascade.on_request(request, peer):
            return  # a request of an upper platform (cascade)
        device = request.from_user or ""
        lock = self._device_locks.setdefault(device, asyncio.Lock())
        async with lock:
            if method == "REGISTER":
                await self._on_register(request, peer)
            elif method in ("MESSAGE", "NOTIFY"):
                await self._on_manscdp(request, peer)
            elif method in ("OPTIONS", "BYE", "CANCEL"):
                self._respond(request, response_to(request, 200, to_tag=_tag()), peer)
            elif method in ("INVITE", "SUBSCRIBE", "INFO", "UPDATE", "PRACK", "REFER", "PUBLISH"):
                answer = response_to(request, 501, to_tag=_tag())
                answer.add("allow", ALLOW)
                self._respond(request, answer, peer)
            else:
                answer = response_to(request, 405, to_tag=_tag())
                answer.add("allow", ALLOW)
                self._respond(request, answer, peer)
        if len(self._device_locks) > 50_000:
            self._device_locks = {k: v for k, v in self._device_locks.items() if v.locked()}

    def _handle_response(self, response: SipMessage) -> None:
        number, _ = response.cseq
        future = self._client_tx.get((response.call_id, number))
        if future is not None and not future.done() and (response.status or 0) >= 200:
            future.set_result(response)

    # --- REGISTER ----------------------------------------------------------------------

    async def _on_register(self, request: SipMessage, peer: Peer) -> None:
        try:
            device_id = parse_device_id(request.from_user).value
        except InvalidDeviceId as exc:
            self._respond(request, response_to(request, 400, f"Bad device id: {exc}"[:100], to_tag=_tag()), peer)
            return
        expires = _expires(request)
        if expires is None:
            self._respond(request, response_to(request, 400, "Bad Expires", to_tag=_tag()), peer)
            return
        now = time.monotonic()
        keys = (f"device:{device_id}", f"source:{peer.host}")
        if self._lockouts.locked(keys, now):
            self._refuse(request, peer, 403, "Locked out", device_id)
            return
        async with self._uow() as uow:
            admitted = await handlers.is_admitted(
                uow,
                device_id,
                admit_unknown=self.settings.admits_unknown,
                configured=self.settings.known_devices,
            )
            own_secret = await device_secret(uow, device_id) if admitted else None
        if not admitted:
            self._refuse(request, peer, 403, "Unknown device", device_id)
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
            challenge = response_to(request, 401, to_tag=_tag())
            challenge.add(
                "www-authenticate",
                self._nonces.challenge(self.realm, peer.host, now, stale=verdict is Verdict.STALE),
            )
            self._respond(request, challenge, peer)
            return
        if verdict is Verdict.WRONG:
            self._lockouts.failed(keys, now)
            self._refuse(request, peer, 403, "Wrong credentials", device_id)
            return
        self._lockouts.succeeded(f"device:{device_id}")
        if expires == 0:
            self._online_cache.discard(device_id)
            self._peers.pop(device_id, None)
            self._seen.pop(device_id, None)
            async with self._uow() as uow:
                await handlers.unregister(uow, device_id, now=self.clock())
                await uow.commit()
            log.info("sip_unregistered", device_id=device_id)
            self._respond(request, self._register_ok(request, 0), peer)
            return
        if expires < self.settings.register_expires_min_s:
            brief = response_to(request, 423, to_tag=_tag())
            brief.add("min-expires", str(self.settings.register_expires_min_s))
            self._respond(request, brief, peer)
            return
        expires = min(expires, self.settings.register_expires_max_s)
        async with self._uow() as uow:
            fresh = await handlers.register(uow, device_id, peer, expires, now=self.clock())
            await uow.commit()
        self._online_cache.add(device_id)
        self._peers[device_id] = peer
        log.info("sip_registered", device_id=device_id, transport=peer.transport, expires=expires, fresh=fresh)
        self._respond(request, self._register_ok(request, expires), peer)
        if fresh and self.settings.catalog_on_register:
            self._spawn(self._catalog_after_register(device_id))

    def _names_us(self, uri: str, request_uri: str) -> bool:
        hosts = {self.realm, self.server_id[:10], self.settings.sip_host, self.settings.sip_advertised_host} - {""}
        ports = {self.udp_port, self.tcp_port}
        return digest_uri_names(uri, request_uri, server_id=self.server_id, hosts=hosts, ports=ports)

    def _refuse(self, request: SipMessage, peer: Peer, status: int, reason: str, device_id: str) -> None:
        self.stats["refused"] += 1
        source = f"{peer.transport}:{peer.host}:{peer.port}"
        log.info("sip_refused", device_id=device_id[:40], source=source, reason=reason)
        self._respond(request, response_to(request, status, reason, to_tag=_tag()), peer)

    def _register_ok(self, request: SipMessage, expires: int) -> SipMessage:
        ok = response_to(request, 200, to_tag=_tag())
        contact = request.get("contact")
        if contact:
            ok.add("contact", contact.split(";expires=")[0])
        ok.add("expires", str(expires))
        # GB/T 28181 devices set their clock from the Date of the 200 (local time, ms).
        ok.add("date", datetime.now(manscdp.CHINA).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])
        return ok

    async def _catalog_after_register(self, device_id: str) -> None:
        try:
            await self.send_query(device_id, "Catalog", wait=False)
        except Exception as exc:  # a background task: log, never raise into the void
            log.info("catalog_query_failed", device_id=device_id, error=str(exc))

    # --- MANSCDP -----------------------------------------------------------------------

    async def _on_manscdp(self, request: SipMessage, peer: Peer) -> None:
        try:
            doc = manscdp.parse(request.body)
        except ManscdpError as exc:
            status = 415 if str(exc).startswith("unknown root") else 400
            self._respond(request, response_to(request, status, str(exc)[:100], to_tag=_tag()), peer)
            return
        device_id = request.from_user or doc.device_id
        registered_from = self._peers.get(device_id) if device_id in self._online_cache else None
        if registered_from is None:
            async with self._uow() as uow:
                row = await handlers.registered_device(uow, device_id)
                if row is not None and row.transport and row.host and row.port is not None:
                    registered_from = Peer(row.transport, row.host, row.port)
        if registered_from is None:
            # not registered (or expired): 404 makes the device register again
            self._respond(request, response_to(request, 404, "Device not registered", to_tag=_tag()), peer)
            return
        if registered_from != peer:
            # a device speaks only from where it registered (transport, host, port); one that
            # moved (NAT rebinding) registers again, and its new address is then the one. Not
            # counted towards a lock-out: a NAT box that rebinds all its devices at once would
            # lock out a whole site.
            self._refuse(request, peer, 403, "Not the registered address", device_id)
            return
        self._peers[device_id] = peer
        ok = response_to(request, 200, to_tag=_tag())
        if doc.root == "Notify" and doc.cmd_type == "Keepalive":
            if device_id in self._online_cache:
                self._note_keepalive(device_id, peer)
            else:
                async with self._uow() as uow:
                    await handlers.keepalive(uow, device_id, peer, now=self.clock())
                    await uow.commit()
                self._online_cache.add(device_id)
        elif doc.root == "Notify" and doc.cmd_type == "Alarm":
            notice = manscdp.alarm_notice(doc)
            if not notice.device_id:
                self._respond(request, response_to(request, 400, "Alarm without DeviceID", to_tag=_tag()), peer)
                return
            async with self._uow() as uow:
                if not await owns_channel(uow, device_id, notice.device_id):
                    self._refuse(request, peer, 403, "Channel not of this device", device_id)
                    return
                alarm = await handlers.record_alarm(
                    uow,
                    notice,
                    reporting_device=device_id,
                    source="sip",
                    grids=self.grids,
                    dedupe=f"{device_id}:{doc.sn}:{notice.device_id}:{notice.alarm_time}",
                )
                await uow.commit()
            log.info("alarm_received", channel_id=notice.device_id, repeat=alarm is None, priority=notice.priority)
            if alarm is not None and self.cascade is not None:
                self.cascade.alarm_raised(notice)
        elif doc.cmd_type == "Catalog" and doc.root in ("Response", "Notify"):
            await self._on_catalog(device_id, doc)
        elif doc.root == "Response" and doc.cmd_type == "RecordInfo":
            total, records = manscdp.record_items(doc)
            whole = self._records.add(
                (device_id, doc.sn),
                total,
                [(f"{r.channel_id}:{r.start_time}:{r.end_time}:{r.file_path}", r) for r in records],
                time.monotonic(),
            )
            if whole is not None:
                self._resolve((device_id, "RecordInfo", doc.sn), whole)
        elif doc.root == "Response" and doc.cmd_type in ("DeviceInfo", "DeviceStatus"):
            fields = manscdp.flat_fields(doc)
            async with self._uow() as uow:
                await handlers.store_device_answer(uow, device_id, doc.cmd_type, fields)
                await uow.commit()
            self._resolve((device_id, doc.cmd_type, doc.sn), [fields])
        else:
            log.info("manscdp_ignored", root=doc.root, cmd_type=doc.cmd_type[:40])
        self._respond(request, ok, peer)

    def _note_keepalive(self, device_id: str, peer: Peer) -> None:
        """A keepalive of a device already online: last seen now, written with the next batch."""
        self._seen[device_id] = (peer, self.clock())
        if len(self._seen) >= 2000:
            self._spawn(self.flush_seen())

    async def _on_catalog(self, device_id: str, doc: manscdp.Manscdp) -> None:
        total, items = manscdp.catalog_items(doc)
        async with self._uow() as uow:
            foreign = await foreign_channels(uow, device_id, [i.channel_id for i in items])
        if foreign:
            # a device's catalog changes only its own channels, never another device's
            self.stats["refused"] += 1
            log.info("catalog_foreign_channels", device_id=device_id, count=len(foreign), channels=sorted(foreign)[:10])
            items = [i for i in items if i.channel_id not in foreign]
        if doc.root == "Notify" or any(item.event for item in items):
            # change notification: applied as it comes
            async with self._uow() as uow:
                await handlers.apply_catalog(uow, device_id, items, self.grids)
                await uow.commit()
            return
        whole = self._catalogs.add((device_id, doc.sn), total, [(i.channel_id, i) for i in items], time.monotonic())
        if whole is None:
            return
        async with self._uow() as uow:
            await handlers.apply_catalog(uow, device_id, whole, self.grids)
            await uow.commit()
        log.info("catalog_assembled", device_id=device_id, channels=len(whole), sum_num=total)
        self._resolve((device_id, "Catalog", doc.sn), whole)

    def _resolve(self, key: tuple[str, str, str], items: list[Any]) -> None:
        waiter = self._query_waiters.pop(key, None)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(items)

    # --- queries we send ---------------------------------------------------------------

    def next_sn(self) -> int:
        """Unpredictable: an answer must name the SN of a query it never saw."""
        return secrets.randbelow(2_000_000_000) + 1

    async def send_query(
        self,
        device_id: str,
        cmd_type: str,
        *,
        target_id: str | None = None,
        fields: list[tuple[str, str]] | None = None,
        wait: bool = True,
    ) -> list[Any]:
        """Send a MANSCDP Query to a registered device; with ``wait`` return the answer's
        items (assembled by SumNum), else return once the device accepted the MESSAGE."""
        async with self._uow() as uow:
            device = await handlers.registered_device(uow, device_id)
            if device is None or device.host is None or device.port is None or device.transport is None:
                raise DeviceNotRegistered(f"device {device_id} is not registered")
            peer = Peer(device.transport, device.host, device.port)
        sn = str(self.next_sn())
        body = manscdp.build("Query", cmd_type, sn, target_id or device_id, fields or [])
        key = (device_id, cmd_type, sn)
        waiter = _Waiter(asyncio.get_running_loop().create_future())
        if wait:
            self._query_waiters[key] = waiter
        try:
            response = await self._request("MESSAGE", device_id, peer, body)
            if response.status != 200:
                raise QueryFailed(f"device answered {response.status} {response.reason}")
            if not wait:
                return []
            try:
                return await asyncio.wait_for(waiter.future, timeout=self.settings.query_timeout_s)
            except TimeoutError as exc:
                raise QueryFailed(f"no {cmd_type} answer within {self.settings.query_timeout_s} s") from exc
        finally:
            self._query_waiters.pop(key, None)

    async def subscribe(self, device_id: str, kind: str, expires_s: int) -> int:
        """SUBSCRIBE to a device's alarms (Event: presence) or catalog changes (Event: Catalog);
        the device then NOTIFYs, handled like MESSAGE. Returns the device's status code."""
        async with self._uow() as uow:
            device = await handlers.registered_device(uow, device_id)
            if device is None or device.host is None or device.port is None or device.transport is None:
                raise DeviceNotRegistered(f"device {device_id} is not registered")
            peer = Peer(device.transport, device.host, device.port)
        if kind == "alarm":
            fields = [("StartAlarmPriority", "1"), ("EndAlarmPriority", "4"), ("AlarmMethod", "0")]
            body = manscdp.build("Query", "Alarm", self.next_sn(), device_id, fields)
            event = "presence"
        else:
            body = manscdp.build("Query", "Catalog", self.next_sn(), device_id)
            event = "Catalog"
        response = await self._request(
            "SUBSCRIBE",
            device_id,
            peer,
            body,
            headers=[("event", f"{event};id={self.next_sn()}"), ("expires", str(expires_s))],
        )
        return response.status or 0

    async def _request(
        self, method: str, device_id: str, peer: Peer, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> SipMessage:
        """A client transaction: send, retransmit over UDP, wait for the final response."""
        if len(self._client_tx) >= self.settings.sip_max_client_transactions:
            raise QueryFailed(f"too many requests awaiting answers ({len(self._client_tx)}); {method} not sent")
        self._cseq += 1
        call_id = f"{secrets.token_hex(12)}@{self.server_id}"
        host = self.settings.sip_advertised_host or self.settings.sip_host
        port = self.udp_port if peer.transport == "UDP" else self.tcp_port
        domain = self.server_id[:10]
        request = SipMessage(method=method, uri=f"sip:{device_id}@{peer.host}:{peer.port}")
        request.add("via", f"SIP/2.0/{peer.transport} {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}")
        request.add("from", f"<sip:{self.server_id}@{domain}>;tag={_tag()}")
        request.add("to", f"<sip:{device_id}@{device_id[:10]}>")
        request.add("call-id", call_id)
        request.add("cseq", f"{self._cseq} {method}")
        request.add("max-forwards", "70")
        request.add("user-agent", "govmesh-video-bridge")
        if method == "SUBSCRIBE":
            request.add("contact", f"<sip:{self.server_id}@{host}:{port}>")
        for name, value in headers or []:
            request.add(name, value)
        request.add("content-type", CONTENT_TYPE)
        request.body = body
        return await self._client_transaction((call_id, self._cseq), request.encode(), peer, f"{method} to {device_id}")

    # --- for the cascade (video_bridge.cascade) ------------------------------------------

    def via_address(self, transport: str) -> tuple[str, int]:
        """Our address in Via/Contact for requests over ``transport``."""
        host = self.settings.sip_advertised_host or self.settings.sip_host
        return host, self.udp_port if transport == "UDP" else self.tcp_port

    def respond(self, request: SipMessage, response: SipMessage, peer: Peer) -> None:
        self._respond(request, response, peer)

    async def transact(self, request: SipMessage, peer: Peer) -> SipMessage:
        """A client transaction for a request built elsewhere: send, retransmit over UDP,
        return the final response (QueryFailed if none)."""
        number, method = request.cseq
        what = f"{method} to {peer.host}:{peer.port}"
        return await self._client_transaction((request.call_id, number), request.encode(), peer, what)

    async def _client_transaction(self, key: tuple[str, int], data: bytes, peer: Peer, what: str) -> SipMessage:
        """Send, retransmit over UDP on the timer, return the final response (QueryFailed if none)."""
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._client_tx[key] = future
        try:
            self._send(data, peer)
            delays = _RETRANSMIT_S if peer.transport == "UDP" else (sum(_RETRANSMIT_S),)
            for delay in delays:
                try:
                    return await asyncio.wait_for(asyncio.shield(future), timeout=delay)
                except TimeoutError:
                    if peer.transport == "UDP":
                        self._send(data, peer)
            raise QueryFailed(f"{what} was not answered")
        finally:
            self._client_tx.pop(key, None)

    # --- liveness ----------------------------------------------------------------------

    async def _liveness_loop(self) -> None:
        every = self.settings.liveness_check_every_s
        while True:
            await asyncio.sleep(every)
            try:
                await self.check_liveness()
                now = time.monotonic()
                for (device_id, sn), items in self._catalogs.expire(now):
                    # devices often send fewer items than their SumNum: keep what arrived
                    log.warning("catalog_incomplete", device_id=device_id, sn=sn, received=len(items))
                    async with self._uow() as uow:
                        await handlers.apply_catalog(uow, device_id, items, self.grids)
                        await uow.commit()
                self._records.expire(now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("liveness_check_failed", error=repr(exc))

    async def check_liveness(self) -> list[str]:
        """Devices silent for too long (by ``self.clock``) go offline; returns their ids."""
        await self.flush_seen()
        async with self._uow() as uow:
            gone = await handlers.mark_timed_out(
                uow,
                interval_s=self.settings.keepalive_interval_s,
                max_missed=self.settings.keepalive_max_missed,
                now=self.clock(),
            )
            await uow.commit()
        if gone:
            self._online_cache.difference_update(gone)
            for device_id in gone:
                self._peers.pop(device_id, None)
            log.info("devices_offline", count=len(gone), devices=gone[:20])
        return gone

    async def flush_seen(self) -> None:
        """Write the batched keepalives (one transaction)."""
        async with self._flush_lock:
            if not self._seen:
                return
            batch, self._seen = self._seen, {}
            try:
                async with self._uow() as uow:
                    await handlers.record_seen(uow, batch)
                    await uow.commit()
            except Exception:
                for device_id, entry in batch.items():  # keep them for the next flush
                    self._seen.setdefault(device_id, entry)
                raise

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.settings.liveness_check_every_s))
            try:
                await self.flush_seen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("keepalive_flush_failed", error=repr(exc))

    def status(self) -> dict[str, Any]:
        return {"udp_port": self.udp_port, "tcp_port": self.tcp_port, "server_id": self.server_id, **self.stats}


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: SipServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.server.datagram_received(data, (str(addr[0]), int(addr[1])))
        except Exception as exc:  # never let a datagram take the endpoint down
            log.exception("sip_udp_failed", error=repr(exc))

    def error_received(self, exc: Exception) -> None:
        log.info("sip_udp_error", error=repr(exc))


# To tags: 32 random bits per start and a counter. Unique is what they must be; one
# os.urandom call per answer was a measurable part of a keepalive's cost.
_TAG_PREFIX = secrets.token_hex(4)
_TAG_SERIAL = itertools.count(1)


def _tag() -> str:
    return f"{_TAG_PREFIX}{next(_TAG_SERIAL):x}"


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

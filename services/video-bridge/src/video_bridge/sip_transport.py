"""The SIP transport: asyncio UDP and TCP endpoints, their limits, server and client transactions.

What arrives is framed and parsed here, then passed on: ``fast_path`` may answer it at once
(a keepalive of a device known online), else it runs in a task of its own (bounded, and no
source may fill the backlog alone), requests to ``on_request``, responses to the client
transaction waiting for them. Whatever arrives, the endpoint keeps serving: unparseable
input is dropped (UDP) or ends the connection (TCP), a failure inside a handler gets 500 and
a log line. Retransmitted requests get the same answer again, never a second effect.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from govmesh_runtime.logging import get_logger
from video_bridge.adapters import metrics
from video_bridge.domain.sip import (
    MAX_MESSAGE_BYTES,
    Peer,
    SipMessage,
    SipParseError,
    content_length,
    parse_datagram,
    parse_head,
    response_to,
    via_with_received,
)
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_limits import ConnectionCounts, TokenBuckets

log = get_logger(__name__)

MAX_CONCURRENT = 256
MAX_HEAD_BYTES = 16_384
_RETRANSMIT_S = (0.5, 1.0, 2.0, 4.0)

# To tags: 32 random bits per start and a counter. Unique is what they must be; one
# os.urandom call per answer was a measurable part of a keepalive's cost.
_TAG_PREFIX = secrets.token_hex(4)
_TAG_SERIAL = itertools.count(1)


def new_tag() -> str:
    return f"{_TAG_PREFIX}{next(_TAG_SERIAL):x}"


class QueryFailed(Exception):
    """A query a device did not accept or did not answer in time."""


class DeviceNotRegistered(QueryFailed):
    """No device with this id is registered now (unknown, or its registration expired)."""


def new_stats() -> dict[str, int]:
    return {
        "received": 0,
        "dropped": 0,
        "answered": 0,
        "errors": 0,
        "throttled": 0,  # over a source's rate, or the backlogs full: dropped before parsing
        "refused": 0,  # admission refused (address, lock-out, foreign channel, credentials)
        "tcp_refused": 0,  # connections over the caps
        "tcp_timeouts": 0,  # connections closed idle or mid-message
    }


class SipTransport:
    def __init__(
        self,
        settings: VideoBridgeSettings,
        stats: dict[str, int],
        *,
        fast_path: Callable[[SipMessage, Peer], bool],
        on_request: Callable[[SipMessage, Peer], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self._fast_path = fast_path
        self._on_request = on_request
        # limits; per source = per source host
        self._sources = TokenBuckets(settings.sip_source_rate, settings.sip_source_burst)
        self._connections = ConnectionCounts(settings.sip_tcp_max_connections, settings.sip_tcp_max_per_source)
        self._pending_by_host: dict[str, int] = {}
        self._pending_total = 0
        self.pending: dict[str, int] = {}  # sender -> messages spawned and not yet handled
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tcp_conns: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._answered: OrderedDict[tuple[str, int, str, str], bytes | None] = OrderedDict()
        self._client_tx: dict[tuple[str, int], asyncio.Future[SipMessage]] = {}
        self.udp_port = 0
        self.tcp_port = 0

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> int:
        """Bind UDP and TCP; returns the UDP receive buffer the kernel granted."""
        loop = asyncio.get_running_loop()
        host, port = self.settings.sip_host, self.settings.sip_port
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, port))
        self._udp = transport
        self.udp_port = int(transport.get_extra_info("sockname")[1])
        receive_buffer = self._size_receive_buffer(transport)
        self._tcp = await asyncio.start_server(self._serve_tcp, host, port, limit=MAX_MESSAGE_BYTES * 2)
        self.tcp_port = int(self._tcp.sockets[0].getsockname()[1])
        return receive_buffer

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

    def close_udp(self) -> None:
        if self._udp is not None:
            self._udp.close()

    async def stop(self) -> None:
        """Close the TCP listener and connections and cancel every task (UDP is closed before)."""
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._tcp_conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- receiving ----------------------------------------------------------------------

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

    # --- sending ------------------------------------------------------------------------

    def send(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "TCP":
            writer = self._tcp_conns.get((peer.host, peer.port))
            if writer is None or writer.is_closing():
                self.spawn(self._send_new_tcp(data, peer))
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
        self.spawn(self._serve_tcp_outbound(reader, writer, peer))

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

    def respond(self, request: SipMessage, response: SipMessage, peer: Peer) -> None:
        data = response.encode()
        key = _tx_key(request)
        if key is not None:
            self._answered[key] = data
        self.stats["answered"] += 1
        self.send(data, peer)

    # --- server transactions --------------------------------------------------------------

    def _dispatch(self, message: SipMessage, peer: Peer) -> None:
        """Keepalives of online devices at once; everything else in a task of its own."""
        if self._fast_path(message, peer):
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
        self.pending[sender] = self.pending.get(sender, 0) + 1
        self.spawn(self._handle_guarded(message, peer, sender))

    async def _handle_guarded(self, message: SipMessage, peer: Peer, sender: str) -> None:
        try:
            async with self._slots:
                try:
                    if message.is_request:
                        if self.open_transaction(message, peer):
                            await self._on_request(message, peer)
                    else:
                        self._handle_response(message)
                except Exception as exc:
                    self.failed(message, peer, exc)
        finally:
            left = self.pending.pop(sender) - 1
            if left:
                self.pending[sender] = left
            self._pending_total -= 1
            from_host = self._pending_by_host.pop(peer.host) - 1
            if from_host:
                self._pending_by_host[peer.host] = from_host

    def failed(self, message: SipMessage, peer: Peer, exc: Exception) -> None:
        self.stats["errors"] += 1
        log.exception("sip_handler_failed", method=message.method, error=repr(exc))
        if message.is_request and message.method != "ACK" and not message.missing_headers():
            self.respond(message, response_to(message, 500), peer)

    def open_transaction(self, request: SipMessage, peer: Peer) -> bool:
        """What every request passes first: mandatory headers (else 400), the answer's address
        in the Via, and retransmissions (answered again, no second effect). False when the
        request needs nothing more."""
        missing = request.missing_headers()
        if missing or not request.cseq[0]:
            if request.get("via") and request.method != "ACK":
                bad = response_to(request, 400, f"Missing or bad header: {(missing or ['cseq'])[0]}")
                self.send(bad.encode(), peer)
            self.stats["dropped"] += 1
            return False
        # the answer goes where the request came from (RFC 3581 rport), recorded in the Via
        vias = request.get_all("via")
        request.headers = [(k, v) for k, v in request.headers if k != "via"]
        request.headers[0:0] = [("via", via_with_received(vias[0], peer.host, peer.port))] + [
            ("via", v) for v in vias[1:]
        ]
        key = _tx_key(request)
        if key is not None and key in self._answered:
            previous = self._answered[key]
            if previous is not None:
                self.send(previous, peer)  # a retransmission: same answer, no second effect
            return False
        if key is not None:
            self._answered[key] = None
            while len(self._answered) > 20_000:
                self._answered.popitem(last=False)
        metrics.SIP_MESSAGES.labels(metrics.sip_method(request.method or "")).inc()
        return True

    # --- client transactions --------------------------------------------------------------

    def _handle_response(self, response: SipMessage) -> None:
        number, _ = response.cseq
        future = self._client_tx.get((response.call_id, number))
        if future is not None and not future.done() and (response.status or 0) >= 200:
            future.set_result(response)

    def client_transactions(self) -> int:
        return len(self._client_tx)

    async def client_transaction(self, key: tuple[str, int], data: bytes, peer: Peer, what: str) -> SipMessage:
        """Send, retransmit over UDP on the timer, return the final response (QueryFailed if none)."""
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._client_tx[key] = future
        try:
            self.send(data, peer)
            delays = _RETRANSMIT_S if peer.transport == "UDP" else (sum(_RETRANSMIT_S),)
            for delay in delays:
                try:
                    return await asyncio.wait_for(asyncio.shield(future), timeout=delay)
                except TimeoutError:
                    if peer.transport == "UDP":
                        self.send(data, peer)
            raise QueryFailed(f"{what} was not answered")
        finally:
            self._client_tx.pop(key, None)


def _tx_key(request: SipMessage) -> tuple[str, int, str, str] | None:
    number, method = request.cseq
    if not request.call_id or not number:
        return None
    return (request.call_id, number, method, request.from_tag or "")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, transport: SipTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.transport.datagram_received(data, (str(addr[0]), int(addr[1])))
        except Exception as exc:  # never let a datagram take the endpoint down
            log.exception("sip_udp_failed", error=repr(exc))

    def error_received(self, exc: Exception) -> None:
        log.info("sip_udp_error", error=repr(exc))

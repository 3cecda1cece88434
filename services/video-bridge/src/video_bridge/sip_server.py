"""The GB/T 28181 SIP endpoint: the transport (``sip_transport``: asyncio UDP and TCP, limits,
transactions), the registrar (``sip_registrar``: REGISTER with digest auth, admission, who is
online from where), the device client (``sip_device_client``: MANSCDP MESSAGE/NOTIFY from
devices, and the queries we send them: Catalog, DeviceInfo, DeviceStatus, RecordInfo) and
the background loops (``sip_jobs``: liveness, keepalive batches), put together here.

Every incoming message is handled in its own task (bounded); per device, messages
are handled in order. Whatever arrives, the endpoint keeps serving: unparseable
input is dropped (UDP) or ends the connection (TCP), a request we can answer but not
use gets 400, and a failure inside a handler gets 500 and a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from govmesh_kit.clock import Clock, system_clock
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.grids import GridLocator
from video_bridge.domain.manscdp import AlarmNotice
from video_bridge.domain.sip import Peer, SipMessage, response_to
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_device_client import DeviceClient
from video_bridge.sip_jobs import SipJobs
from video_bridge.sip_registrar import Registrar
from video_bridge.sip_transport import DeviceNotRegistered, QueryFailed, SipTransport, new_stats, new_tag

__all__ = ["DeviceNotRegistered", "PlatformHooks", "QueryFailed", "SipServer"]

log = get_logger(__name__)

ALLOW = "REGISTER, MESSAGE, NOTIFY, OPTIONS, ACK, BYE, CANCEL"


class PlatformHooks(Protocol):
    """The cascade to upper platforms (video_bridge.cascade.platforms.Cascade), set by bootstrap."""

    async def on_request(self, request: SipMessage, peer: Peer) -> bool: ...

    def alarm_raised(self, notice: AlarmNotice) -> None: ...


class SipServer:
    def __init__(
        self,
        settings: VideoBridgeSettings,
        uow_factory: Callable[..., UnitOfWork],
        grids: GridLocator,
    ) -> None:
        self.settings = settings
        # What "now" is for liveness (registration, keepalives, silence): tests move it instead
        # of waiting, so no test depends on the machine being idle.
        self.clock: Clock = system_clock
        self.grids = grids
        self.server_id = settings.sip_server_id
        self.realm = settings.realm
        self.stats = new_stats()
        self._device_locks: dict[str, asyncio.Lock] = {}
        self._cascade: PlatformHooks | None = None
        self.transport = SipTransport(
            settings, self.stats, fast_path=self._answer_at_once, on_request=self._handle_request
        )
        self.registrar = Registrar(settings, self.transport, uow_factory, lambda: self.clock())
        self.client = DeviceClient(settings, self.transport, self.registrar, uow_factory, grids)
        self.registrar.on_fresh = self.client.catalog_after_register
        self.jobs = SipJobs(settings, self.registrar, self.client, uow_factory, lambda: self.clock())

    @property
    def cascade(self) -> PlatformHooks | None:
        return self._cascade

    @cascade.setter
    def cascade(self, hooks: PlatformHooks | None) -> None:
        self._cascade = hooks
        self.client.alarms = hooks  # new alarms go up the cascade

    @property
    def udp_port(self) -> int:
        return self.transport.udp_port

    @property
    def tcp_port(self) -> int:
        return self.transport.tcp_port

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        receive_buffer = await self.transport.start()
        self.transport.spawn(self.jobs.liveness_loop())
        self.transport.spawn(self.jobs.flush_loop())
        log.info(
            "sip_started",
            host=self.settings.sip_host,
            udp_port=self.udp_port,
            tcp_port=self.tcp_port,
            server_id=self.server_id,
            udp_receive_buffer=receive_buffer,
        )

    async def stop(self) -> None:
        self.transport.close_udp()
        try:
            await self.flush_seen()
        except Exception as exc:
            log.warning("keepalive_flush_failed", error=repr(exc))
        await self.transport.stop()
        log.info("sip_stopped", **self.stats)

    # --- requests, by method ----------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.datagram_received(data, addr)

    def _answer_at_once(self, message: SipMessage, peer: Peer) -> bool:
        return self.registrar.answer_keepalive_at_once(message, peer)

    async def _handle_request(self, request: SipMessage, peer: Peer) -> None:
        method = request.method or ""
        if method == "ACK":
            return
        if self._cascade is not None and await self._cascade.on_request(request, peer):
            return  # a request of an upper platform (cascade)
        device = request.from_user or ""
        lock = self._device_locks.setdefault(device, asyncio.Lock())
        async with lock:
            if method == "REGISTER":
                await self.registrar.on_register(request, peer)
            elif method in ("MESSAGE", "NOTIFY"):
                await self.client.on_manscdp(request, peer)
            elif method in ("OPTIONS", "BYE", "CANCEL"):
                self.respond(request, response_to(request, 200, to_tag=new_tag()), peer)
            elif method in ("INVITE", "SUBSCRIBE", "INFO", "UPDATE", "PRACK", "REFER", "PUBLISH"):
                answer = response_to(request, 501, to_tag=new_tag())
                answer.add("allow", ALLOW)
                self.respond(request, answer, peer)
            else:
                answer = response_to(request, 405, to_tag=new_tag())
                answer.add("allow", ALLOW)
                self.respond(request, answer, peer)
        if len(self._device_locks) > 50_000:
            self._device_locks = {k: v for k, v in self._device_locks.items() if v.locked()}

    # --- queries we send (sip_device_client) --------------------------------------------

    def next_sn(self) -> int:
        return self.client.next_sn()

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
        return await self.client.send_query(device_id, cmd_type, target_id=target_id, fields=fields, wait=wait)

    async def subscribe(self, device_id: str, kind: str, expires_s: int) -> int:
        """SUBSCRIBE to a device's alarms or catalog changes; returns the device's status code."""
        return await self.client.subscribe(device_id, kind, expires_s)

    # --- for the cascade (video_bridge.cascade) ------------------------------------------

    def via_address(self, transport: str) -> tuple[str, int]:
        """Our address in Via/Contact for requests over ``transport``."""
        host = self.settings.sip_advertised_host or self.settings.sip_host
        return host, self.udp_port if transport == "UDP" else self.tcp_port

    def respond(self, request: SipMessage, response: SipMessage, peer: Peer) -> None:
        self.transport.respond(request, response, peer)

    async def transact(self, request: SipMessage, peer: Peer) -> SipMessage:
        """A client transaction for a request built elsewhere: send, retransmit over UDP,
        return the final response (QueryFailed if none)."""
        number, method = request.cseq
        what = f"{method} to {peer.host}:{peer.port}"
        return await self.transport.client_transaction((request.call_id, number), request.encode(), peer, what)

    # --- liveness (sip_jobs) -----------------------------------------------------------

    async def check_liveness(self) -> list[str]:
        """Devices silent for too long (by ``self.clock``) go offline; returns their ids."""
        return await self.jobs.check_liveness()

    async def flush_seen(self) -> None:
        """Write the batched keepalives (one transaction)."""
        await self.registrar.flush_seen()

    def status(self) -> dict[str, Any]:
        return {"udp_port": self.udp_port, "tcp_port": self.tcp_port, "server_id": self.server_id, **self.stats}


def _utc_now() -> datetime:
    return datetime.now(UTC)

"""The device client: what we ask devices (MANSCDP Query: Catalog, DeviceInfo, DeviceStatus,
RecordInfo; SUBSCRIBE) and what they tell us (MESSAGE/NOTIFY: keepalives, alarms, catalogs
and the answers to our queries).

A query waits for its answer by (device, CmdType, SN); answers that come in parts (SumNum)
are assembled first. The SN is unpredictable: an answer must name a query it never saw.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.grids import GridLocator
from video_bridge.domain import manscdp
from video_bridge.domain.assembly import Assembler
from video_bridge.domain.manscdp import AlarmNotice, CatalogItem, ManscdpError, RecordItem
from video_bridge.domain.sip import Peer, SipMessage, response_to
from video_bridge.handlers import alarms, channels, devices
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_auth import foreign_channels, owns_channel
from video_bridge.sip_registrar import Registrar
from video_bridge.sip_transport import DeviceNotRegistered, QueryFailed, SipTransport, new_tag

log = get_logger(__name__)

CONTENT_TYPE = "Application/MANSCDP+xml"


class AlarmListener(Protocol):
    """Who hears of each new alarm (the cascade, which passes it to upper platforms)."""

    def alarm_raised(self, notice: AlarmNotice) -> None: ...


@dataclass
class _Waiter:
    future: asyncio.Future[list[Any]]


class DeviceClient:
    def __init__(
        self,
        settings: VideoBridgeSettings,
        transport: SipTransport,
        registrar: Registrar,
        uow_factory: Callable[..., UnitOfWork],
        grids: GridLocator,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.registrar = registrar
        self.stats = transport.stats
        self._uow = uow_factory
        self.grids = grids
        self.server_id = settings.sip_server_id
        self.alarms: AlarmListener | None = None
        self._query_waiters: dict[tuple[str, str, str], _Waiter] = {}  # (device, CmdType, SN)
        self._catalogs: Assembler[CatalogItem] = Assembler(settings.assembly_timeout_s)
        self._records: Assembler[RecordItem] = Assembler(settings.assembly_timeout_s)
        self._cseq = secrets.randbelow(10_000) + 1

    # --- what devices tell us ------------------------------------------------------------

    async def on_manscdp(self, request: SipMessage, peer: Peer) -> None:
        respond = self.transport.respond
        try:
            doc = manscdp.parse(request.body)
        except ManscdpError as exc:
            status = 415 if str(exc).startswith("unknown root") else 400
            respond(request, response_to(request, status, str(exc)[:100], to_tag=new_tag()), peer)
            return
        device_id = request.from_user or doc.device_id
        if not await self.registrar.admit_message(request, peer, device_id):
            return
        ok = response_to(request, 200, to_tag=new_tag())
        if doc.root == "Notify" and doc.cmd_type == "Keepalive":
            await self.registrar.keepalive(device_id, peer)
        elif doc.root == "Notify" and doc.cmd_type == "Alarm":
            notice = manscdp.alarm_notice(doc)
            if not notice.device_id:
                respond(request, response_to(request, 400, "Alarm without DeviceID", to_tag=new_tag()), peer)
                return
            async with self._uow() as uow:
                if not await owns_channel(uow, device_id, notice.device_id):
                    self.registrar.refuse(request, peer, 403, "Channel not of this device", device_id)
                    return
                alarm = await alarms.record_alarm(
                    uow,
                    notice,
                    reporting_device=device_id,
                    source="sip",
                    grids=self.grids,
                    dedupe=f"{device_id}:{doc.sn}:{notice.device_id}:{notice.alarm_time}",
                )
                await uow.commit()
            log.info("alarm_received", channel_id=notice.device_id, repeat=alarm is None, priority=notice.priority)
            if alarm is not None and self.alarms is not None:
                self.alarms.alarm_raised(notice)
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
                await channels.store_device_answer(uow, device_id, doc.cmd_type, fields)
                await uow.commit()
            self._resolve((device_id, doc.cmd_type, doc.sn), [fields])
        else:
            log.info("manscdp_ignored", root=doc.root, cmd_type=doc.cmd_type[:40])
        respond(request, ok, peer)

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
                await channels.apply_catalog(uow, device_id, items, self.grids)
                await uow.commit()
            return
        whole = self._catalogs.add((device_id, doc.sn), total, [(i.channel_id, i) for i in items], time.monotonic())
        if whole is None:
            return
        async with self._uow() as uow:
            await channels.apply_catalog(uow, device_id, whole, self.grids)
            await uow.commit()
        log.info("catalog_assembled", device_id=device_id, channels=len(whole), sum_num=total)
        self._resolve((device_id, "Catalog", doc.sn), whole)

    def _resolve(self, key: tuple[str, str, str], items: list[Any]) -> None:
        waiter = self._query_waiters.pop(key, None)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(items)

    async def expire_assemblies(self, now: float) -> None:
        """Catalogs and record lists whose parts stopped coming: a catalog keeps what arrived."""
        for (device_id, sn), items in self._catalogs.expire(now):
            # devices often send fewer items than their SumNum: keep what arrived
            log.warning("catalog_incomplete", device_id=device_id, sn=sn, received=len(items))
            async with self._uow() as uow:
                await channels.apply_catalog(uow, device_id, items, self.grids)
                await uow.commit()
        self._records.expire(now)

    # --- what we ask ---------------------------------------------------------------------

    def next_sn(self) -> int:
        """Unpredictable: an answer must name the SN of a query it never saw."""
        return secrets.randbelow(2_000_000_000) + 1

    async def _peer_of(self, device_id: str) -> Peer:
        async with self._uow() as uow:
            device = await devices.registered_device(uow, device_id)
            if device is None or device.host is None or device.port is None or device.transport is None:
                raise DeviceNotRegistered(f"device {device_id} is not registered")
            return Peer(device.transport, device.host, device.port)

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
        peer = await self._peer_of(device_id)
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
        peer = await self._peer_of(device_id)
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

    def catalog_after_register(self, device_id: str) -> None:
        """A device registered afresh: ask its catalog in the background."""
        self.transport.spawn(self._catalog_query(device_id))

    async def _catalog_query(self, device_id: str) -> None:
        try:
            await self.send_query(device_id, "Catalog", wait=False)
        except Exception as exc:  # a background task: log, never raise into the void
            log.info("catalog_query_failed", device_id=device_id, error=str(exc))

    async def _request(
        self, method: str, device_id: str, peer: Peer, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> SipMessage:
        """A client transaction: send, retransmit over UDP, wait for the final response."""
        in_flight = self.transport.client_transactions()
        if in_flight >= self.settings.sip_max_client_transactions:
            raise QueryFailed(f"too many requests awaiting answers ({in_flight}); {method} not sent")
        self._cseq += 1
        call_id = f"{secrets.token_hex(12)}@{self.server_id}"
        host = self.settings.sip_advertised_host or self.settings.sip_host
        port = self.transport.udp_port if peer.transport == "UDP" else self.transport.tcp_port
        domain = self.server_id[:10]
        request = SipMessage(method=method, uri=f"sip:{device_id}@{peer.host}:{peer.port}")
        request.add("via", f"SIP/2.0/{peer.transport} {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}")
        request.add("from", f"<sip:{self.server_id}@{domain}>;tag={new_tag()}")
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
        what = f"{method} to {device_id}"
        return await self.transport.client_transaction((call_id, self._cseq), request.encode(), peer, what)

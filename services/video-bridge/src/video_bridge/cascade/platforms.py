"""GB/T 28181 inter-platform cascade: the bridge as a lower platform of one or more upper
platforms (provincial / public-security video platforms).

It registers upward (``upward.UpwardLink``, one per configured platform) and serves what
an upper platform asks over SIP: the city's channels (Catalog, in pages of at most
``cascade_catalog_items_per_message`` items), DeviceInfo and DeviceStatus of the bridge,
RecordInfo of a channel (asked of the device that owns it, relayed under the upper
platform's SN), catalog and alarm subscriptions (SUBSCRIBE, then NOTIFYs). Alarms the
bridge takes in are forwarded to every registered upper platform: by NOTIFY to those
that subscribed to alarms, by MESSAGE to the others.

Requests whose From is a configured upper platform come here (``on_request``) instead of
the device handling; they are accepted only from that platform's configured host.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any, Protocol

from sqlmodel import col, func, select

from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.tables import ChannelRow
from video_bridge.cascade import bodies
from video_bridge.cascade.upward import Endpoint, UpwardLink, new_tag
from video_bridge.domain import manscdp
from video_bridge.domain.manscdp import AlarmNotice, ManscdpError, RecordItem
from video_bridge.domain.sip import Peer, SipMessage, response_to
from video_bridge.settings import VideoBridgeSettings

log = get_logger(__name__)

RELAYED_FIELDS = ("StartTime", "EndTime", "FilePath", "Address", "Secrecy", "Type", "RecorderID")


class Querying(Endpoint, Protocol):
    async def send_query(
        self,
        device_id: str,
        cmd_type: str,
        *,
        target_id: str | None = None,
        fields: list[tuple[str, str]] | None = None,
        wait: bool = True,
    ) -> list[Any]: ...


@dataclass
class Subscription:
    """An upper platform's SUBSCRIBE: the dialog our NOTIFYs go in."""

    kind: str  # catalog | alarm
    event: str  # the Event header, echoed
    call_id: str
    their_from: str  # the subscriber's From (with its tag): our To
    our_to: str  # the subscriber's To with our tag: our From
    target: str  # where NOTIFYs go (the subscriber's Contact URI)
    expires_at: float
    cseq: int = field(default_factory=lambda: secrets.randbelow(1000) + 1)


def entry_of(row: ChannelRow) -> bodies.CatalogEntry:
    return bodies.CatalogEntry(
        channel_id=row.channel_id,
        name=row.name,
        manufacturer=row.manufacturer,
        model=row.model,
        civil_code=row.civil_code,
        address=row.address,
        online=row.online,
        lat=row.lat,
        lon=row.lon,
    )


class Cascade:
    def __init__(
        self, settings: VideoBridgeSettings, endpoint: Querying, uow_factory: Callable[..., UnitOfWork]
    ) -> None:
        self.settings = settings
        self.endpoint = endpoint
        self._uow = uow_factory
        self.links: dict[str, UpwardLink] = {
            p.platform_id: UpwardLink(p, endpoint, settings.cascade_retry_min_s, settings.cascade_retry_max_s)
            for p in settings.upper_platforms
        }
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (platform, kind)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watermark: datetime | None = None
        self.per_message = settings.cascade_catalog_items_per_message

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        for link in self.links.values():
            self._spawn(link.run())
        if self.links:
            self._spawn(self._notify_loop())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(link.unregister() for link in self.links.values()), return_exceptions=True)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def status(self) -> list[dict[str, Any]]:
        now = asyncio.get_running_loop().time()
        return [
            {
                "platform_id": link.platform_id,
                "address": f"{link.platform.transport} {link.platform.host}:{link.platform.port}",
                "registered": link.state.registered,
                "registered_at": link.state.registered_at.isoformat() if link.state.registered_at else None,
                "expires_s": link.state.expires_s,
                "failures": link.state.failures,
                "last_error": link.state.last_error,
                "keepalives_sent": link.state.keepalives_sent,
                "registrations": link.state.registrations,
                "subscriptions": sorted(
                    kind
                    for (pid, kind), sub in self.subscriptions.items()
                    if pid == link.platform_id and sub.expires_at > now
                ),
            }
            for link in self.links.values()
        ]

    # --- requests from upper platforms --------------------------------------------------

    async def on_request(self, request: SipMessage, peer: Peer) -> bool:
        """Handle a request if it comes from a configured upper platform; False otherwise
        (the endpoint then handles it as a device's)."""
        link = self.links.get(request.from_user or "")
        if link is None or request.method not in ("MESSAGE", "SUBSCRIBE", "NOTIFY"):
            return False
        if peer.host != link.platform.host:
            log.info("cascade_refused", platform_id=link.platform_id, source=f"{peer.host}:{peer.port}")
            self._answer(request, peer, 403, "Not from the upper platform's address")
            return True
        if request.method == "SUBSCRIBE":
            self._on_subscribe(link, request, peer)
            return True
        try:
            doc = manscdp.parse(request.body)
        except ManscdpError as exc:
            status = 415 if str(exc).startswith("unknown root") else 400
            self._answer(request, peer, status, str(exc)[:100])
            return True
        if doc.root != "Query":
            self._answer(request, peer, 200)  # answers and notices of the upper platform: nothing to do
            return True
        handler = {
            "Catalog": self._send_catalog,
            "DeviceInfo": self._send_device_info,
            "DeviceStatus": self._send_device_status,
            "RecordInfo": self._relay_record_info,
        }.get(doc.cmd_type)
        if handler is None:
            self._answer(request, peer, 400, f"Query {doc.cmd_type[:40]} is not supported")
            return True
        self._answer(request, peer, 200)
        self._spawn(self._guarded(handler(link, doc), link, doc.cmd_type))
        return True

    def _answer(self, request: SipMessage, peer: Peer, status: int, reason: str | None = None) -> None:
        self.endpoint.respond(request, response_to(request, status, reason, to_tag=new_tag()), peer)

    async def _guarded(self, work: Any, link: UpwardLink, cmd_type: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a background answer: log, never raise into the void
            log.warning("cascade_answer_failed", platform_id=link.platform_id, cmd_type=cmd_type, error=repr(exc))

    async def _send_all(self, link: UpwardLink, messages: Sequence[bytes]) -> None:
        """Pages one after the other, each answered before the next (order kept, no burst)."""
        for body in messages:
            answer = await link.send_message(body)
            if answer.status == 404:
                link.lost("the upper platform answered 404: it no longer knows us")
            if answer.status != 200:
                raise RuntimeError(f"upper platform answered {answer.status} {answer.reason}")

    async def channel_entries(self) -> list[bodies.CatalogEntry]:
        async with self._uow() as uow:
            rows = (await uow.session.exec(select(ChannelRow).order_by(col(ChannelRow.channel_id)))).all()
            return [entry_of(row) for row in rows]

    async def _send_catalog(self, link: UpwardLink, doc: manscdp.Manscdp) -> None:
        entries = await self.channel_entries()
        pages = bodies.catalog_responses(self.endpoint.server_id, doc.sn, entries, self.per_message)
        await self._send_all(link, pages)
        log.info("cascade_catalog_sent", platform_id=link.platform_id, channels=len(entries), messages=len(pages))

    async def _send_device_info(self, link: UpwardLink, doc: manscdp.Manscdp) -> None:
        async with self._uow() as uow:
            count = (await uow.session.exec(select(func.count()).select_from(ChannelRow))).one()
        body = bodies.device_info(
            self.endpoint.server_id,
            doc.sn,
            name=self.settings.service_name,
            version=version("govmesh-video-bridge"),
            channels=int(count),
        )
        await self._send_all(link, [body])

    async def _send_device_status(self, link: UpwardLink, doc: manscdp.Manscdp) -> None:
        await self._send_all(link, [bodies.device_status(self.endpoint.server_id, doc.sn, now=datetime.now(UTC))])

    async def _relay_record_info(self, link: UpwardLink, doc: manscdp.Manscdp) -> None:
        """Ask the device that owns the channel (our own SN), answer the upper platform with
        the device's records under the upper platform's SN. A channel we do not know, or a
        device that does not answer, gets an empty list (SumNum 0), not silence."""
        channel_id = doc.device_id
        async with self._uow() as uow:
            channel = await uow.session.get(ChannelRow, channel_id)
            owner, name = (channel.device_id, channel.name or channel_id) if channel is not None else (None, channel_id)
        records: list[RecordItem] = []
        if owner is not None:
            fields = [(name, value) for name in RELAYED_FIELDS if (value := doc.text(name)) is not None]
            try:
                records = await self.endpoint.send_query(owner, "RecordInfo", target_id=channel_id, fields=fields)
            except Exception as exc:
                log.info("cascade_record_info_unanswered", channel_id=channel_id, error=str(exc))
        await self._send_all(link, bodies.record_responses(channel_id, name, doc.sn, records, self.per_message))
        log.info("cascade_record_info_relayed", platform_id=link.platform_id, channel_id=channel_id, n=len(records))

    # --- subscriptions ------------------------------------------------------------------

    def _on_subscribe(self, link: UpwardLink, request: SipMessage, peer: Peer) -> None:
        event = (request.get("event") or "").strip()
        name = event.split(";")[0].strip().lower()
        kind = {"catalog": "catalog", "presence": "alarm", "alarm": "alarm"}.get(name)
        if kind is None:
            answer = response_to(request, 489, to_tag=new_tag())
            answer.add("allow-events", "Catalog, presence")
            self.endpoint.respond(request, answer, peer)
            return
        expires_text = (request.get("expires") or "3600").strip()
        expires = min(int(expires_text), 86_400) if expires_text.isdigit() and len(expires_text) <= 9 else 3600
        tag = new_tag()
        ok = response_to(request, 200, to_tag=tag)
        ok.add("expires", str(expires))
        host, port = self.endpoint.via_address(link.platform.transport)
        ok.add("contact", f"<sip:{self.endpoint.server_id}@{host}:{port}>")
        self.endpoint.respond(request, ok, peer)
        key = (link.platform_id, kind)
        if expires == 0:
            self.subscriptions.pop(key, None)
            log.info("cascade_unsubscribed", platform_id=link.platform_id, kind=kind)
            return
        contact = request.get("contact") or ""
        target = contact.strip().lstrip("<").split(">")[0] if contact else f"sip:{link.platform_id}@{peer.host}"
        to = request.get("to") or ""
        self.subscriptions[key] = Subscription(
            kind=kind,
            event=event,
            call_id=request.call_id,
            their_from=request.get("from") or "",
            our_to=to if ";tag=" in to else f"{to};tag={tag}",
            target=target,
            expires_at=asyncio.get_running_loop().time() + expires,
        )
        if self._watermark is None and kind == "catalog":
            self._watermark = datetime.now(UTC)
        log.info("cascade_subscribed", platform_id=link.platform_id, kind=kind, expires=expires)

    def _live(self, platform_id: str, kind: str) -> Subscription | None:
        found = self.subscriptions.get((platform_id, kind))
        if found is not None and found.expires_at <= asyncio.get_running_loop().time():
            del self.subscriptions[(platform_id, kind)]
            return None
        return found

    async def _notify(self, link: UpwardLink, sub: Subscription, body: bytes) -> SipMessage:
        """A NOTIFY in the subscription's dialog."""
        host, port = self.endpoint.via_address(link.platform.transport)
        sub.cseq += 1
        left = max(0, int(sub.expires_at - asyncio.get_running_loop().time()))
        message = SipMessage(method="NOTIFY", uri=sub.target)
        message.add(
            "via", f"SIP/2.0/{link.platform.transport} {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}"
        )
        message.add("from", sub.our_to)
        message.add("to", sub.their_from)
        message.add("call-id", sub.call_id)
        message.add("cseq", f"{sub.cseq} NOTIFY")
        message.add("max-forwards", "70")
        message.add("contact", f"<sip:{self.endpoint.server_id}@{host}:{port}>")
        message.add("event", sub.event)
        message.add("subscription-state", f"active;expires={left}")
        message.add("content-type", "Application/MANSCDP+xml")
        message.body = body
        return await self.endpoint.transact(message, link.peer)

    # --- alarms and catalog changes upward ----------------------------------------------

    def alarm_raised(self, notice: AlarmNotice) -> None:
        """An alarm the bridge took in (a device's, or an analytics webhook's): upward to every
        registered upper platform, without holding up the device's answer."""
        for link in self.links.values():
            if link.state.registered:
                self._spawn(self._guarded(self._forward_alarm(link, notice), link, "Alarm"))

    async def _forward_alarm(self, link: UpwardLink, notice: AlarmNotice) -> None:
        body = bodies.alarm_notify(link.next_sn(), notice, now=datetime.now(UTC))
        sub = self._live(link.platform_id, "alarm")
        answer = await (self._notify(link, sub, body) if sub is not None else link.send_message(body))
        if answer.status != 200:
            raise RuntimeError(f"upper platform answered the alarm {answer.status} {answer.reason}")
        log.info("cascade_alarm_forwarded", platform_id=link.platform_id, channel_id=notice.device_id)

    async def notify_catalog_changes(self) -> int:
        """Channels changed since the last round go to the catalog subscribers (Event ON/OFF
        by their liveness); returns how many changed."""
        subscribers = [
            (link, sub)
            for link in self.links.values()
            if link.state.registered and (sub := self._live(link.platform_id, "catalog")) is not None
        ]
        if not subscribers or self._watermark is None:
            return 0
        since = self._watermark
        async with self._uow() as uow:
            rows = (
                await uow.session.exec(
                    select(ChannelRow)
                    .where(col(ChannelRow.updated_at) > since)
                    .order_by(col(ChannelRow.updated_at))
                    .limit(5000)
                )
            ).all()
            if not rows:
                return 0
            self._watermark = max(row.updated_at for row in rows)
            changes = [(entry_of(row), "ON" if row.online else "OFF") for row in rows]
        for link, sub in subscribers:
            for body in bodies.catalog_notifies(self.endpoint.server_id, link.next_sn(), changes, self.per_message):
                await self._notify(link, sub, body)
        log.info("cascade_catalog_notified", channels=len(changes), platforms=len(subscribers))
        return len(changes)

    async def _notify_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cascade_notify_interval_s)
            try:
                await self.notify_catalog_changes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cascade_notify_failed", error=repr(exc))

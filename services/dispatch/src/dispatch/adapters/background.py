"""Dispatch's background loops: the SLA timer scan, the feedback-window scan (resolved cases
that close without feedback) and the department webhook sender.

All work from tables (``dispatch_tasks.due_at``, ``dispatch_cases.resolved_at``,
``dispatch_webhook_deliveries``), so a restart loses nothing: the loop simply finds the rows
again. Sleeping only paces the scans."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlmodel import col, func, select

from dispatch.adapters import metrics
from dispatch.adapters.tables import WebhookDeliveryRow
from dispatch.handlers import Dispatcher, close_without_feedback, escalate_overdue
from dispatch.registry import registry
from govmesh_runtime import jobs, tracing
from govmesh_runtime.app import Runtime
from govmesh_runtime.logging import get_logger
from govmesh_runtime.usecases import UseCases

log = get_logger(__name__)

SCAN_LIMIT = 200
WEBHOOK_BATCH = 50
WEBHOOK_LEASE_MARGIN_S = 30.0  # a claimed delivery is someone else's again after timeout + this


@dataclass(frozen=True)
class Delivery:
    """What one attempt needs, read when the row was claimed."""

    id: uuid.UUID
    department: str
    url: str
    body: str
    task_id: uuid.UUID


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """A Standard Webhooks signature (https://www.standardwebhooks.com): ``v1,`` and the base64
    HMAC-SHA256 of ``id.timestamp.body`` keyed with the bytes the ``whsec_`` secret encodes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, msg_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """``webhook-id`` is the delivery's id, the same on every retry, so receivers dedupe by it;
    ``webhook-timestamp`` is the attempt's time, which receivers check against replays."""
    timestamp = int(sent_at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def backoff(attempts: int, base_s: float, max_s: float) -> timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2·base, 4·base … capped."""
    return timedelta(seconds=min(base_s * (2 ** max(attempts - 1, 0)), max_s))


def bind(dispatcher: Dispatcher) -> UseCases:
    """Dispatch's registry with its dependencies (bootstrap's, and a test's Background)."""
    return registry.bind(settings=dispatcher.settings, clock=dispatcher.clock, dispatcher=dispatcher)


class Background:
    def __init__(self, runtime: Runtime, dispatcher: Dispatcher, use_cases: UseCases | None = None) -> None:
        self.runtime = runtime
        self.dispatcher = dispatcher
        self.use_cases = use_cases or bind(dispatcher)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None

    def start(self) -> None:
        settings = self.dispatcher.settings
        self._http = httpx.AsyncClient(timeout=settings.webhook_timeout_s)
        # The first round after one interval: a test driving the work itself never races the loop.
        self._tasks = [
            asyncio.create_task(self._every(settings.timer_scan_interval_s, self.scan_timers), name="sla-timers"),
            asyncio.create_task(self._every(settings.webhook_scan_interval_s, self.deliver_webhooks), name="webhooks"),
            asyncio.create_task(
                self._every(settings.timer_scan_interval_s, self.scan_feedback_window), name="feedback-window"
            ),
        ]

    async def _every(self, interval_s: float, work: Callable[[], Awaitable[int]]) -> None:
        """``work`` every ``interval_s``, at once again while it reports a full batch (runtime's loop)."""
        await jobs.every(interval_s, work, name=work.__name__, stopping=self._stopping)

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    async def scan_timers(self) -> int:
        count = await self.use_cases.run(self.runtime.uow, escalate_overdue, limit=SCAN_LIMIT)
        if count:
            log.info("tasks_escalated", tasks=count)
        return count if count >= SCAN_LIMIT else 0  # a full batch: more may be late, scan again at once

    async def scan_feedback_window(self) -> int:
        count = await self.use_cases.run(self.runtime.uow, close_without_feedback, limit=SCAN_LIMIT)
        if count:
            log.info("cases_closed_without_feedback", cases=count)
        return count if count >= SCAN_LIMIT else 0

    async def deliver_webhooks(self) -> int:
        """One round: claim the due deliveries, post them concurrently, record each outcome.

        A claim locks the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and moves their
        ``next_attempt_at`` a lease ahead in one short transaction, so a second instance claims
        other rows, and a delivery whose sender died is retried when its lease runs out. Each
        post has its own deadline and runs beside the others: one unreachable department
        does not hold up the rest."""
        claimed = await self._claim_deliveries()
        if claimed:
            await asyncio.gather(*(self._deliver(delivery) for delivery in claimed))
        return len(claimed) if len(claimed) >= WEBHOOK_BATCH else 0

    async def _claim_deliveries(self) -> list[Delivery]:
        settings = self.dispatcher.settings
        now = self.dispatcher.clock()
        lease = timedelta(seconds=settings.webhook_timeout_s + WEBHOOK_LEASE_MARGIN_S)
        async with self.runtime.db.sessions() as session:
            rows = (
                await session.exec(
                    select(WebhookDeliveryRow)
                    .where(
                        col(WebhookDeliveryRow.delivered_at).is_(None),
                        col(WebhookDeliveryRow.parked_at).is_(None),
                        col(WebhookDeliveryRow.next_attempt_at) <= now,
                    )
                    .order_by(col(WebhookDeliveryRow.next_attempt_at))
                    .limit(WEBHOOK_BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            claimed = [Delivery(row.id, row.department, row.url, row.body, row.task_id) for row in rows]
            for row in rows:
                row.next_attempt_at = now + lease
                session.add(row)
            await session.commit()
            pending = col(WebhookDeliveryRow.delivered_at).is_(None)
            parked = col(WebhookDeliveryRow.parked_at).is_not(None)
            counts = (
                await session.exec(
                    select(
                        func.count().filter(pending & ~parked),  # type: ignore[no-untyped-call]
                        func.count().filter(parked),  # type: ignore[no-untyped-call]
                    ).select_from(WebhookDeliveryRow)
                )
            ).one()
        metrics.WEBHOOK_BACKLOG.set(counts[0])
        metrics.WEBHOOK_PARKED.set(counts[1])
        return claimed

    async def _deliver(self, delivery: Delivery) -> None:
        settings = self.dispatcher.settings
        if self._http is None:  # started by start(); created here when a test drives one round
            self._http = httpx.AsyncClient(timeout=settings.webhook_timeout_s)
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Govmesh-Department": delivery.department,
            **webhook_headers(settings.signing_secret(), str(delivery.id), self.dispatcher.clock(), body),
        }
        error: str | None = None
        try:
            # the whole attempt's deadline (httpx's timeout is per connect/read/write step)
            async with asyncio.timeout(settings.webhook_timeout_s):
                with tracing.span("POST webhook", "client", **{"govmesh.department": delivery.department}):
                    response = await self._http.post(delivery.url, content=body, headers=headers)
            if response.status_code >= 300:
                error = f"HTTP {response.status_code}"
        except TimeoutError:
            error = f"no answer within {settings.webhook_timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await self._record_attempt(delivery, error)

    async def _record_attempt(self, delivery: Delivery, error: str | None) -> None:
        settings = self.dispatcher.settings
        async with self.runtime.db.sessions() as session:
            stored = await session.get(WebhookDeliveryRow, delivery.id, with_for_update=True)
            if stored is None or stored.delivered_at is not None:
                return
            now = self.dispatcher.clock()
            stored.attempts += 1
            metrics.WEBHOOK_DELIVERIES.labels("delivered" if error is None else "failed").inc()
            if error is None:
                stored.delivered_at = now
                stored.last_error = None
            else:
                stored.last_error = error
                stored.next_attempt_at = now + backoff(
                    stored.attempts, settings.webhook_backoff_base_s, settings.webhook_backoff_max_s
                )
                if stored.attempts >= settings.webhook_max_attempts:
                    stored.parked_at = now  # an operator sees it (metric, list) and resends it
                    metrics.WEBHOOK_DELIVERIES.labels("parked").inc()
                log.warning(
                    "webhook_parked" if stored.parked_at else "webhook_failed",
                    department=delivery.department,
                    task_id=str(delivery.task_id),
                    delivery_id=str(delivery.id),
                    error=error,
                    attempts=stored.attempts,
                )
            session.add(stored)
            await session.commit()

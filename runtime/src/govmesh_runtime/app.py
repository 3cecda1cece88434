"""The service application: FastAPI app, lifespan wiring, health, metrics, middleware.

A service calls ``create_app`` from its bootstrap with its settings, routers and
consumer specs. Lifespan order: logging → database (+ migrations) → producer →
outbox relay → consumers; shutdown (SIGTERM via uvicorn) runs it backwards so
in-flight work is committed or left for redelivery.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmesh_kit.errors import DomainError
from govmesh_runtime import audit, metrics
from govmesh_runtime.access import audit_router, authenticated, is_public
from govmesh_runtime.auth import Verifier
from govmesh_runtime.consumer import ConsumerSpec, EventConsumer
from govmesh_runtime.db import Database
from govmesh_runtime.docs_ui import docs_router, operation_id
from govmesh_runtime.errors import EventTooLarge, is_outage
from govmesh_runtime.finite import RefuseNonFinite, validation_errors
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.language import ReaderLanguage, Reasons
from govmesh_runtime.limits import RequestLimits, TokenBuckets
from govmesh_runtime.logging import configure_logging, get_logger
from govmesh_runtime.nul_text import RefuseNulText
from govmesh_runtime.oidc import OidcVerifier
from govmesh_runtime.problems import (
    DATABASE_UNAVAILABLE,
    EVENT_TOO_LARGE,
    ErrorFormat,
    document_problems,
    http_errors,
    problem_response,
)
from govmesh_runtime.relay import OutboxRelay
from govmesh_runtime.retention import Pruner, inbox_pruner, outbox_pruner, prune_once
from govmesh_runtime.settings import ServiceSettings
from govmesh_runtime.tracing import current_traceparent, hop, setup_tracing, shutdown_tracing, trace_id
from govmesh_runtime.uow import UnitOfWork
from govmesh_runtime.usecases import Runner, UseCases

log = get_logger(__name__)


@dataclass
class Runtime:
    """Everything a request or handler needs from the plumbing; held on ``app.state.runtime``."""

    settings: ServiceSettings
    db: Database
    producer: ProducerHolder
    relay: OutboxRelay
    auth: Verifier
    # after verification, one bucket per principal (None: no limit); before it, the address's
    principal_limits: TokenBuckets | None = None
    failed_auth: audit.FailedAuthentications = field(default_factory=audit.FailedAuthentications)
    consumers: list[EventConsumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    oidc: OidcVerifier | None = None  # bearer tokens of GOVMESH_OIDC_ISSUER; None: the keyring's
    pruners: list[Pruner] = field(default_factory=list)  # the bounded tables (govmesh_runtime.retention)

    def uow(
        self, *, correlation_id: str | None = None, causation_id: str | None = None, traceparent: str | None = None
    ) -> UnitOfWork:
        return UnitOfWork(
            self.db.sessions,
            source=f"/govmesh/{self.settings.service_name}",
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent if traceparent is not None else current_traceparent.get(),
            on_commit=self.relay.notify,
            max_event_bytes=self.settings.max_event_bytes,
        )


def build_runtime(settings: ServiceSettings, consumer_specs: Sequence[ConsumerSpec]) -> Runtime:
    db = Database(settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous)
    kafka_security = settings.kafka_security()
    producer = ProducerHolder(
        settings.kafka_bootstrap_servers, client_id=settings.service_name, security=kafka_security
    )
    relay = OutboxRelay(
        db.sessions,
        producer,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        retention_s=settings.outbox_retention_s,
        payload_retention_s=settings.outbox_payload_retention_s,
        leader_engine=None if db.is_sqlite else db.engine,
        lease_s=settings.relay_lease_s,
    )
    auth = Verifier(settings.keyring_path(), development=settings.environment == "development")
    principal_limits = (
        TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst) if settings.rate_limit_per_s > 0 else None
    )
    runtime = Runtime(
        settings=settings,
        db=db,
        producer=producer,
        relay=relay,
        auth=auth,
        principal_limits=principal_limits,
        oidc=oidc_verifier(settings),
    )
    if settings.consumers_enabled:
        runtime.consumers = [
            EventConsumer(
                spec,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                security=kafka_security,
                uow_factory=runtime.uow,
                producer=producer,
                max_retries=settings.consumer_max_retries,
                retry_backoff_s=settings.consumer_retry_backoff_s,
                batch_size=settings.consumer_batch_size,
            )
            for spec in consumer_specs
        ]
    return runtime


def oidc_verifier(settings: ServiceSettings) -> OidcVerifier | None:
    if not settings.oidc_issuer:
        return None
    return OidcVerifier(
        settings.oidc_issuer,
        settings.resolved_oidc_audience(),
        algorithms=[alg.strip() for alg in settings.oidc_algorithms.split(",") if alg.strip()],
        roles_claim=settings.oidc_roles_claim,
        place_claim=settings.oidc_place_claim,
        subject_claim=settings.oidc_subject_claim,
        min_refresh_s=settings.oidc_jwks_min_refresh_s,
    )


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def runtime_dependency(request: Request) -> Runtime:
    """``get_runtime`` for ``Depends``: FastAPI runs a plain ``def`` dependency in its threadpool,
    a thread hop that cost about a fifth of a request's CPU in intake (bench/README.md)."""
    return get_runtime(request)


def create_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    consumers: Sequence[ConsumerSpec] = (),
    migrations: Path | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    on_ready: Callable[[Runtime], Any] | None = None,
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = (),
    public_routers: Sequence[APIRouter] = (),
    pruners: Sequence[Pruner] = (),
    use_cases: UseCases | None = None,
    field_reasons: Reasons = (),
    error_formats: dict[str, ErrorFormat] | None = None,
) -> FastAPI:
    """``background``: long-running jobs of the service (timer sweeps, a SIP server …),
    each an ``async def job(runtime)`` that runs until cancelled at shutdown.

    ``public_routers``: routes that answer without a credential (Open311's reads, as GeoReport
    v2 says); each of them must say so with an ``access.public(...)`` dependency.

    ``use_cases``: the service's bound registry (``govmesh_runtime.usecases``); its reactions are
    the consumers (``consumers`` must then be empty) and routes run its commands (``UseCasesDep``).
    Refusals are RFC 9457 problems in the reader's language (:mod:`govmesh_runtime.problems`):
    ``field_reasons`` words the service's own reasons in Chinese; ``error_formats`` maps a path
    prefix to the handler of a protocol with its own error format (Open311).

    In production (``GOVMESH_ENV=production``) a default secret stops it here, naming the setting."""
    if use_cases is not None:
        if consumers:
            raise ValueError("consumers are derived from use_cases; give one or the other")
        consumers = use_cases.consumer_specs()
    for router in public_routers:
        _check_public(router)
    settings.refuse_insecure_defaults()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
        runtime = build_runtime(settings, consumers)
        app.state.runtime = runtime
        if migrations is not None and settings.migrate_on_start:
            await runtime.db.migrate(migrations, owner_url=settings.migration_database_url or None)
        if runtime.oidc is not None:
            await runtime.oidc.prime()  # the issuer's keys before the first request
        if on_ready is not None:
            await on_ready(runtime)
        runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
        for consumer in runtime.consumers:
            runtime.tasks.append(asyncio.create_task(consumer.run(), name=f"consumer-{consumer.spec.name}"))
        jobs = [
            asyncio.create_task(_supervised(job, runtime), name=f"job-{job.__name__}")
            for job in [*background, flush_failed_authentications]
        ]
        runtime.pruners = [
            outbox_pruner(settings.outbox_retention_s, settings.outbox_payload_retention_s),
            inbox_pruner(settings.inbox_retention_s),
            *pruners,
        ]
        jobs.append(asyncio.create_task(_supervised(prune_tables, runtime), name="job-prune-tables"))
        log.info("service_started", port=settings.port, database=runtime.db.url.split("://")[0])
        try:
            yield
        finally:
            log.info("service_stopping")
            for task in jobs:
                task.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            for consumer in runtime.consumers:
                consumer.stop()
            runtime.relay.stop()
            _, pending = await asyncio.wait(runtime.tasks, timeout=10) if runtime.tasks else (set(), set())
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await runtime.producer.close()
            await write_failed_authentications(runtime, everything=True)
            await runtime.db.dispose()
            shutdown_tracing()
            log.info("service_stopped")

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served below from the project's own files, not a CDN
        redoc_url=None,
    )
    app.state.field_reasons = tuple(field_reasons)
    app.state.error_formats = dict(error_formats or {})
    app.add_exception_handler(DBAPIError, _database_outage)
    app.add_exception_handler(HTTPException, http_errors)
    app.add_exception_handler(RequestValidationError, validation_errors)
    app.add_exception_handler(EventTooLarge, _event_too_large)
    app.add_exception_handler(DomainError, domain_error)
    # Pure ASGI middlewares: BaseHTTPMiddleware ran each request in an extra task with stream
    # plumbing, a measurable share of a request's CPU (bench/README.md).
    app.add_middleware(RefuseNonFinite)  # NaN, Infinity, 1e400 in a JSON body: a 422 naming the field
    app.add_middleware(RefuseNulText)  # inner: its refusals are observed by the next
    app.add_middleware(ObserveRequests)
    address_rate, address_burst = settings.address_rate_limit()
    app.add_middleware(  # outermost: a flood is refused before any work, by address (the credential is unverified)
        RequestLimits,
        rate_per_s=address_rate,
        burst=address_burst,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.http_body_timeout_s,
    )
    app.add_middleware(ReaderLanguage)  # outermost: the words of every answer, refusals included
    app.include_router(_health_router())
    app.include_router(docs_router(app))
    # Every service endpoint needs a credential; health and metrics stay open for operators.
    for router in [*routers, audit_router()]:
        app.include_router(router, dependencies=[Depends(authenticated)])
    for router in public_routers:
        app.include_router(router)
    # What this service subscribes to, readable without starting it (the test that every
    # (topic, event type, service) is exercised on the real broker reads it).
    app.state.consumer_specs = tuple(consumers)
    app.state.use_cases = use_cases
    document_problems(app)
    return app


async def use_cases_dependency(request: Request) -> Runner:
    """The service's use cases with this process's unit of work: what a route runs commands with."""
    use_cases: UseCases | None = request.app.state.use_cases
    if use_cases is None:
        raise RuntimeError("create_app(use_cases=...) was not given a registry")
    return Runner(use_cases, get_runtime(request).uow)


UseCasesDep = Annotated[Runner, Depends(use_cases_dependency)]


async def domain_error(request: Request, exc: Exception) -> Response:
    """A handler's refusal (``govmesh_kit.errors``) answered once for every service: its status
    (404, 409, 422, 403), a field error in FastAPI's ``[{loc, msg, type}]`` shape, else the
    message; rendered by the app's own HTTPException handler, so it looks like every other error."""
    assert isinstance(exc, DomainError)
    detail: Any = getattr(exc, "detail", None)
    if detail is None:
        detail = [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}] if exc.field else exc.message
    http = HTTPException(exc.status, detail=detail)
    handler = request.app.exception_handlers[HTTPException]
    response: Response = await handler(request, http)
    return response


def _check_public(router: APIRouter) -> None:
    """A route is public only on purpose: it depends on ``access.public(...)``."""
    for route in router.routes:
        if isinstance(route, APIRoute) and not any(is_public(d.call) for d in route.dependant.dependencies):
            methods = ",".join(sorted(route.methods or ()))
            raise ValueError(f"{methods} {route.path} is on a public router without an access.public() dependency")


async def _database_outage(request: Request, exc: Exception) -> Response:
    """The database is down or restarting: a 503 the client may retry (nothing was written),
    not a 500. Other database errors are real bugs and stay 500."""
    if not is_outage(exc):
        raise exc
    log.warning("database_unavailable", error=type(exc).__name__)
    return problem_response(
        request,
        503,
        "the service's database is unavailable; nothing was written, retry",
        headers={"Retry-After": "2"},
        type_=DATABASE_UNAVAILABLE,
    )


async def _event_too_large(request: Request, exc: Exception) -> Response:
    """The change would publish an event its topic cannot take: 413, nothing written (the unit of
    work rolled back), the reason named; not a 500 and not an outbox row stuck forever."""
    log.warning("event_too_large", error=str(exc))
    return problem_response(request, 413, str(exc), type_=EVENT_TOO_LARGE)


async def flush_failed_authentications(runtime: Runtime) -> None:
    """Write the 401 counts of each finished minute: one audit row per (source, minute), so a
    flood of bad credentials costs a row a minute, not a row a request."""
    while True:
        await asyncio.sleep(FAILED_AUTH_FLUSH_S)
        await write_failed_authentications(runtime, everything=False)


FAILED_AUTH_FLUSH_S = 10.0


async def write_failed_authentications(runtime: Runtime, *, everything: bool) -> None:
    records = runtime.failed_auth.take(everything=everything)
    if records:
        await audit.record(runtime.db.sessions, *records)


async def prune_tables(runtime: Runtime) -> None:
    """Every instance prunes (deleting the same old rows twice is harmless); the first round a
    while after start, so a fleet restarting together does not prune all at once."""
    while True:
        await asyncio.sleep(runtime.settings.prune_interval_s * random.uniform(0.5, 1.0))
        await prune_once(runtime.db.sessions, runtime.pruners)


async def _supervised(job: Callable[[Runtime], Coroutine[Any, Any, None]], runtime: Runtime) -> None:
    """Run a background job; restart it after a crash (with a pause) instead of losing it."""
    while True:
        try:
            await job(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_job_failed", job=job.__name__)
            await asyncio.sleep(1)


class ObserveRequests:
    """One trace hop per request: bind correlation and trace ids for logs and events; record metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = metrics.method_label(scope["method"])
        started = time.perf_counter()
        status = 500
        with hop(f"{method} {scope['path']}", headers.get("traceparent"), "server") as traceparent:
            structlog.contextvars.bind_contextvars(
                trace_id=trace_id(traceparent), correlation_id=headers.get("x-correlation-id")
            )

            async def send_with_trace(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    MutableHeaders(scope=message)["traceparent"] = traceparent
                await send(message)

            try:
                await self.app(scope, receive, send_with_trace)
            finally:
                # the matched route's template (a bounded label), set in the scope by the router
                route = str(getattr(scope.get("route"), "path", "unmatched"))
                if route not in ("/metrics", "/healthz", "/readyz"):
                    log.info(
                        "http_request",
                        method=method,
                        route=route,
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    )
                if route != "/metrics":
                    metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
                    metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)
                structlog.contextvars.unbind_contextvars("trace_id", "correlation_id")


def _health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database reachable, Kafka producer connected, consumers assigned.")
    async def readyz(request: Request) -> JSONResponse:
        runtime = get_runtime(request)
        checks = {
            "database": await runtime.db.ping(),
            "kafka_producer": runtime.producer.connected or await _try_connect(runtime.producer),
            "consumers": all(c.ready for c in runtime.consumers),
        }
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
        )

    @router.get("/metrics", summary="Prometheus metrics.", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _try_connect(producer: ProducerHolder) -> bool:
    try:
        await asyncio.wait_for(producer.get(), timeout=2)
        return True
    except Exception:
        return False

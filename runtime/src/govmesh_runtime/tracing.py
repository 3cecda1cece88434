"""W3C trace context, carried from the HTTP request through every Kafka hop.

Each hop (an HTTP request, a handler run) keeps the trace id and has its own span id;
events emitted in a hop carry the hop's ``traceparent``, so one case can be followed
through the logs of every service by ``trace_id``. With an OTLP endpoint set
(``OTEL_EXPORTER_OTLP_ENDPOINT``, off by default) the hops are also exported as
OpenTelemetry spans with the same ids, with child spans for database statements, Kafka sends
(whose context also goes out in the record's plain ``traceparent`` header, through
OpenTelemetry's propagator) and webhook calls. Without export all of that costs nothing.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

current_traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)
_tracer: Any = None  # an opentelemetry Tracer when export is on
_provider: Any = None


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_of(traceparent: str | None) -> str:
    """A traceparent for the next hop: same trace, new span; a new trace when absent or invalid."""
    match = _TRACEPARENT.match(traceparent or "")
    if not match or match.group(1) == "0" * 32:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"


def trace_id(traceparent: str | None) -> str | None:
    match = _TRACEPARENT.match(traceparent or "")
    return match.group(1) if match else None


def setup_tracing(service: str, otlp_endpoint: str | None) -> None:
    """Export hops as OpenTelemetry spans over OTLP/HTTP when an endpoint is given."""
    global _tracer, _provider
    _unlisten_database()
    if not otlp_endpoint:
        _tracer = _provider = None
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")))
    _provider, _tracer = provider, provider.get_tracer("govmesh")
    _listen_database()


def shutdown_tracing() -> None:
    global _tracer, _provider
    _unlisten_database()
    if _provider is not None:
        _provider.shutdown()  # flushes the spans still batched
    _tracer = _provider = None


@contextmanager
def hop(name: str, parent: str | None, kind: str = "internal") -> Iterator[str]:
    """Run a unit of work as one span of the caller's trace; yields this hop's traceparent."""
    if _tracer is None:
        traceparent = child_of(parent)
        token = current_traceparent.set(traceparent)
        try:
            yield traceparent
        finally:
            current_traceparent.reset(token)
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = TraceContextTextMapPropagator().extract({"traceparent": parent}) if trace_id(parent) else None
    span_kind = {"server": SpanKind.SERVER, "consumer": SpanKind.CONSUMER}.get(kind, SpanKind.INTERNAL)
    with _tracer.start_as_current_span(name, context=context, kind=span_kind) as span:
        ctx = span.get_span_context()
        traceparent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
        token = current_traceparent.set(traceparent)
        try:
            yield traceparent
        finally:
            current_traceparent.reset(token)


_KINDS = ("internal", "server", "client", "producer", "consumer")


@contextmanager
def span(name: str, kind: str = "internal", **attributes: str | int) -> Iterator[None]:
    """A child span of the current one (a hop, or a send's own parent), exported only when export
    is on; a no-op otherwise."""
    if _tracer is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(name, kind=SpanKind[kind.upper()], attributes=attributes):
        yield


@contextmanager
def send_span(topic: str, parent: str | None) -> Iterator[str | None]:
    """Around one Kafka send: a producer span, child of the trace the record carries
    (``parent``, the traceparent stored with the outbox row); yields the W3C ``traceparent`` of
    that span — injected by OpenTelemetry's propagator — for the record's plain header. Without
    export it yields ``parent`` unchanged."""
    if _tracer is None:
        yield parent
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    context = propagator.extract({"traceparent": parent}) if trace_id(parent) else None
    attributes = {"messaging.system": "kafka", "messaging.destination.name": topic}
    with _tracer.start_as_current_span(f"send {topic}", context=context, kind=SpanKind.PRODUCER, attributes=attributes):
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
        yield carrier.get("traceparent", parent)


# --- database statements: one client span each, while export is on --------------------------


def _statement_started(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if _tracer is None or context is None:
        return
    from opentelemetry.trace import SpanKind

    # The statement's text only: its parameters are residents' data and never leave the process.
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    attributes = {"db.system": conn.engine.dialect.name, "db.statement": statement[:2000]}
    context._govmesh_span = _tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)


def _statement_ended(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    started = getattr(context, "_govmesh_span", None)
    if started is not None:
        started.end()
        context._govmesh_span = None


def _statement_failed(exception_context: Any) -> None:
    started = getattr(exception_context.execution_context, "_govmesh_span", None)
    if started is not None:
        from opentelemetry.trace import Status, StatusCode

        started.set_status(Status(StatusCode.ERROR, type(exception_context.original_exception).__name__))
        started.end()
        exception_context.execution_context._govmesh_span = None


def _listen_database() -> None:
    import sqlalchemy as sa

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _statement_started)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", _statement_ended)
    sa.event.listen(sa.engine.Engine, "handle_error", _statement_failed)


def _unlisten_database() -> None:
    import sqlalchemy as sa

    for name, listener in (
        ("before_cursor_execute", _statement_started),
        ("after_cursor_execute", _statement_ended),
        ("handle_error", _statement_failed),
    ):
        if sa.event.contains(sa.engine.Engine, name, listener):
            sa.event.remove(sa.engine.Engine, name, listener)

"""Trace hops: same trace id along the chain; exported over OTLP/HTTP when an endpoint is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy.ext.asyncio import create_async_engine

from govmesh_runtime import tracing

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_without_export_a_hop_keeps_the_trace_and_takes_a_new_span() -> None:
    tracing.setup_tracing("test", None)
    with tracing.hop("GET /x", INCOMING, "server") as outer:
        assert tracing.trace_id(outer) == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert outer != INCOMING
        assert tracing.current_traceparent.get() == outer
        with tracing.hop("handle", outer, "consumer") as inner:
            assert tracing.trace_id(inner) == tracing.trace_id(outer)
    assert tracing.current_traceparent.get() is None
    with tracing.hop("GET /y", "garbage", "server") as fresh:
        assert tracing.trace_id(fresh) not in (None, "4bf92f3577b34da6a3ce929d0e0e4736")


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/v1/traces"
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()
    server.server_close()


def test_with_an_otlp_endpoint_hops_are_exported_as_linked_spans(collector: tuple[str, list[bytes]]) -> None:
    endpoint, bodies = collector
    tracing.setup_tracing("intake", endpoint)
    try:
        with (
            tracing.hop("POST /v1/cases", INCOMING, "server") as outer,
            tracing.hop("handle case", outer, "consumer") as inner,
        ):
            pass
    finally:
        tracing.shutdown_tracing()
    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
            spans += [(service, s) for rs in resource_spans.scope_spans for s in rs.spans]
    by_name = {s.name: s for _, s in spans}
    assert {service for service, _ in spans} == {"intake"}
    assert set(by_name) == {"POST /v1/cases", "handle case"}
    assert {s.trace_id.hex() for s in by_name.values()} == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert by_name["POST /v1/cases"].parent_span_id.hex() == "00f067aa0ba902b7"
    assert by_name["handle case"].parent_span_id.hex() == outer.split("-")[2]
    assert by_name["handle case"].span_id.hex() == inner.split("-")[2]


def _exported(bodies: list[bytes]) -> list[object]:
    spans: list[object] = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans += [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return spans


async def test_exported_database_statements_are_child_spans_without_their_parameters(
    collector: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    endpoint, bodies = collector
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    tracing.setup_tracing("intake", endpoint)
    try:
        with tracing.hop("POST /v1/cases", INCOMING, "server") as hop:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT :phone AS phone"), {"phone": "13812345678"})
    finally:
        tracing.shutdown_tracing()
        await engine.dispose()
    (statement,) = [s for s in _exported(bodies) if s.name == "SELECT"]  # type: ignore[attr-defined]
    assert statement.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert statement.parent_span_id.hex() == hop.split("-")[2]
    attributes = {a.key: a.value.string_value for a in statement.attributes}
    assert attributes["db.system"] == "sqlite"
    assert "SELECT ? AS phone" in attributes["db.statement"]
    assert "13812345678" not in str(statement), "a statement's parameters never leave the process"


async def test_no_database_span_when_export_is_off(collector: tuple[str, list[bytes]], tmp_path: Path) -> None:
    endpoint, bodies = collector
    tracing.setup_tracing("intake", endpoint)
    tracing.setup_tracing("intake", None)  # switched off again: the listeners go with it
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    finally:
        await engine.dispose()
    assert not sa.event.contains(sa.engine.Engine, "before_cursor_execute", tracing._statement_started)
    assert bodies == []


def test_a_kafka_send_is_a_producer_span_whose_context_goes_in_the_plain_header(
    collector: tuple[str, list[bytes]],
) -> None:
    tracing.setup_tracing("intake", None)
    with tracing.send_span("intake.cases.v1", INCOMING) as unchanged:
        assert unchanged == INCOMING  # export off: the record keeps the hop's context
    endpoint, bodies = collector
    tracing.setup_tracing("intake", endpoint)
    try:
        with tracing.send_span("intake.cases.v1", INCOMING) as header:
            pass
        with tracing.span("POST webhook", "client", **{"govmesh.department": "labour"}):
            pass
    finally:
        tracing.shutdown_tracing()
    assert header is not None and header != INCOMING
    assert tracing.trace_id(header) == "4bf92f3577b34da6a3ce929d0e0e4736"
    spans = {s.name: s for s in _exported(bodies)}  # type: ignore[attr-defined]
    send = spans["send intake.cases.v1"]
    assert send.parent_span_id.hex() == "00f067aa0ba902b7"
    assert send.span_id.hex() == header.split("-")[2]
    assert send.kind == 4  # SPAN_KIND_PRODUCER
    assert spans["POST webhook"].kind == 3  # SPAN_KIND_CLIENT

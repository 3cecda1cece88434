"""Trace hops: same trace id along the chain; exported over OTLP/HTTP when an endpoint is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

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

"""Access control as every service gets it from the runtime: a credential on every
endpoint but health and metrics, scopes, places that never leak existence, the
append-only audit log and its endpoint, rate and size limits."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from govmesh_runtime import access
from govmesh_runtime.app import create_app, write_failed_authentications
from govmesh_runtime.audit import Action, FailedAuthentications
from govmesh_runtime.auth import Keyring, Principal
from govmesh_runtime.limits import TokenBuckets
from govmesh_runtime.serve import server_config
from govmesh_runtime.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "plumbing_migrations"
# Two records of a resource, each in a grid; "missing" does not exist.
RECORDS = {"r-1": "620702001001001", "r-2": "620721001002003"}


class Body(BaseModel):
    text: str


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/records/{record_id}")
    async def get_record(
        request: Request, record_id: str, caller: Annotated[Principal, Depends(access.require("cases:read"))]
    ) -> dict[str, str]:
        place = RECORDS.get(record_id)
        await access.guard_place(
            request, caller, resource="record", resource_id=record_id, place=place, found=place is not None
        )
        if caller.has("personal-data"):
            await access.audit_personal_data(
                request,
                caller,
                action=Action.READ,
                resource="record",
                resource_ids=[record_id],
                fields=["name"],
            )
        return {"id": record_id, "grid": str(place)}

    @router.post("/v1/records")
    async def create_record(body: Body, caller: access.Caller) -> dict[str, int]:
        return {"length": len(body.text)}

    return router


def _settings(tmp_path: Path, database_url: str, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(
        service_name="records",
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap_servers="127.0.0.1:1",
        keyring=tmp_path / "keyring.json",
        **overrides,
    )


@asynccontextmanager
async def running(settings: ServiceSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Keyring, Any]]:
    app = create_app(
        settings=settings, title="t", description="t", version="0", routers=[_router()], migrations=MIGRATIONS
    )
    async with app.router.lifespan_context(app):
        ring = Keyring.load(settings.keyring_path(), development=True)
        transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 5000))
        # the tests read the runtime's English words; Chinese is the default (tests/contract/test_problems.py)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers={"Accept-Language": "en"}
        ) as client:
            yield client, ring, app.state.runtime


@pytest.fixture
async def service(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Keyring, Any]]:
    async with running(_settings(tmp_path, database_url, rate_limit_per_s=0)) as value:
        yield value


def bearer(ring: Keyring, scopes: list[str], places: list[str] = (), subject: str = "someone") -> dict[str, str]:  # type: ignore[assignment]
    return {"Authorization": f"Bearer {ring.issue_token(subject, scopes, list(places))}"}


async def _audit(client: httpx.AsyncClient, ring: Keyring, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get("/v1/audit", params=params, headers=bearer(ring, ["audit:read"], subject="auditor"))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_every_endpoint_but_health_and_metrics_needs_a_credential(service: Any) -> None:
    client, ring, runtime = service
    runtime.failed_auth.clock = lambda: datetime(2026, 12, 3, 9, 30, 15, tzinfo=UTC)  # one minute
    for path in ("/healthz", "/metrics"):
        assert (await client.get(path)).status_code == 200
    no_credential = await client.get("/v1/records/r-1")
    assert no_credential.status_code == 401
    assert no_credential.headers["www-authenticate"] == "Bearer"
    assert "credential required" in no_credential.json()["detail"]
    assert (await client.get("/v1/audit")).status_code == 401
    other_mesh = Keyring(path=Path("x"), secret="not-the-mesh-secret")  # noqa: S106
    forged = other_mesh.issue_token("mallory", ["cases:read"], [])
    assert (await client.get("/v1/records/r-1", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    assert (await client.get("/v1/records/r-1", headers=bearer(ring, ["cases:read"]))).status_code == 200
    _, key = ring.issue_api_key("open311-client", ["cases:read"], [])
    ring.save()
    assert (await client.get("/v1/records/r-1", headers={"X-API-Key": key})).status_code == 200
    assert (await client.get("/v1/records/r-1", params={"api_key": key})).status_code == 200
    await write_failed_authentications(runtime, everything=True)  # as at the minute's end or shutdown
    [refused] = await _audit(client, ring, action="unauthenticated")  # one row per source and minute
    assert (refused["subject"], refused["client"], refused["at"]) == ("anonymous", "10.0.0.7", "2026-12-03T09:30:00Z")
    assert refused["reason"].startswith("3 failed authentications in the minute: ") and "token" in refused["reason"]


async def test_a_missing_scope_is_a_403_with_the_reason_and_is_audited(service: Any) -> None:
    client, ring, _ = service
    answer = await client.get("/v1/records/r-1", headers=bearer(ring, ["grid:read"], subject="hotline"))
    assert answer.status_code == 403
    assert answer.json()["detail"] == "scope 'cases:read' is required"
    assert (await client.get("/v1/audit", headers=bearer(ring, ["cases:read"]))).status_code == 403
    [first, second] = await _audit(client, ring, action="refused")
    assert (first["subject"], first["reason"], first["route"]) == (
        "hotline",
        "scope 'cases:read' is required",
        "GET /v1/records/{record_id}",
    )
    assert second["reason"] == "scope 'audit:read' is required"


async def test_places_refuse_outside_records_exactly_like_missing_ones(service: Any) -> None:
    client, ring, _ = service
    worker = bearer(ring, ["cases:read"], ["620702001001001"], subject="grid-worker")
    county = bearer(ring, ["cases:read"], ["620721"], subject="county-centre")
    city = bearer(ring, ["cases:read"], [], subject="city-centre")
    assert (await client.get("/v1/records/r-1", headers=worker)).status_code == 200
    outside = await client.get("/v1/records/r-2", headers=worker)
    missing = await client.get("/v1/records/missing", headers=worker)
    assert outside.status_code == missing.status_code == 403
    # The same reason, word for word: a refusal never tells whether the record exists.
    assert outside.json()["detail"] == missing.json()["detail"] == "this record is not within your places"
    assert (await client.get("/v1/records/r-2", headers=county)).status_code == 200  # its level and below
    assert (await client.get("/v1/records/r-1", headers=county)).status_code == 403
    assert (await client.get("/v1/records/missing", headers=city)).status_code == 404
    refused = await _audit(client, ring, action="refused", subject="grid-worker")
    assert [(r["resource"], r["resource_id"]) for r in refused] == [("record", "r-2"), ("record", "missing")]


async def test_personal_data_reads_are_audited_with_purpose_and_the_log_cannot_be_rewritten(
    service: Any, database_url: str
) -> None:
    client, ring, runtime = service
    reader = bearer(ring, ["cases:read", "personal-data"], subject="case-officer")
    answer = await client.get("/v1/records/r-1", headers={**reader, "X-Purpose": "call back the reporter"})
    assert answer.status_code == 200
    [read] = await _audit(client, ring, action="read")
    assert (read["subject"], read["via"], read["resource"], read["resource_id"], read["fields"], read["purpose"]) == (
        "case-officer",
        "jwt",
        "record",
        "r-1",
        "name",
        "call back the reporter",
    )
    assert (await _audit(client, ring, subject="nobody")) == []
    assert (await _audit(client, ring, since="2999-01-01T00:00:00")) == []
    async with runtime.db.engine.connect() as conn:
        for statement in ("UPDATE audit_log SET subject = 'someone-else'", "DELETE FROM audit_log"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                await conn.execute(sa.text(statement))
            await conn.rollback()
    assert [r["subject"] for r in await _audit(client, ring, action="read")] == ["case-officer"]


async def test_the_audit_log_pages_by_cursor(service: Any) -> None:
    client, ring, _ = service
    for _ in range(5):  # five refusals, five rows
        await client.get("/v1/records/r-1", headers=bearer(ring, ["grid:read"]))
    auditor = bearer(ring, ["audit:read"])
    first = (await client.get("/v1/audit", params={"limit": 2}, headers=auditor)).json()
    second = await client.get("/v1/audit", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auditor)
    ids = [r["id"] for r in first["items"] + second.json()["items"]]
    assert len(ids) == 4 and ids == sorted(ids) and len(set(ids)) == 4
    last = (await client.get("/v1/audit", params={"cursor": second.json()["next_cursor"]}, headers=auditor)).json()
    assert len(last["items"]) == 1 and last["next_cursor"] is None  # five rows: 2 + 2 + 1, the last says so
    tampered = await client.get("/v1/audit", params={"cursor": first["next_cursor"][:-2] + "xx"}, headers=auditor)
    assert tampered.status_code == 422 and tampered.json()["errors"][0]["loc"] == ["query", "cursor"]
    assert (await client.get("/v1/audit", params={"limit": 5000}, headers=auditor)).status_code == 422


async def test_a_client_over_its_rate_is_refused_with_retry_after_and_others_are_not(tmp_path: Path) -> None:
    settings = _settings(
        # one token per 100 s: no pause of a busy box refills the bucket in the middle of the test
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite'}",
        rate_limit_per_s=0.01,
        rate_limit_burst=3,
    )
    async with running(settings) as (client, ring, _):
        busy, quiet = bearer(ring, ["cases:read"], subject="busy"), bearer(ring, ["cases:read"], subject="quiet")
        statuses = [(await client.get("/v1/records/r-1", headers=busy)).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = await client.get("/v1/records/r-1", headers=busy)
        assert 1 <= int(refused.headers["retry-after"]) <= 100 and "too many requests" in refused.json()["detail"]
        assert (await client.get("/v1/records/r-1", headers=quiet)).status_code == 200
        assert [(await client.get("/metrics")).status_code for _ in range(10)] == [200] * 10  # scrapes never limited


async def test_a_body_over_the_limit_is_a_413_declared_or_streamed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'b.sqlite'}", max_body_bytes=1000)
    async with running(settings) as (client, ring, _):
        headers = bearer(ring, ["cases:create"])
        assert (await client.post("/v1/records", json={"text": "x" * 900}, headers=headers)).status_code == 200
        declared = await client.post("/v1/records", json={"text": "x" * 2000}, headers=headers)
        assert declared.status_code == 413
        assert declared.json()["detail"] == "the request body is larger than 1,000 bytes"

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"text": "'
            for _ in range(30):
                yield b"x" * 100
            yield b'"}'

        streamed = await client.post(
            "/v1/records", content=chunks(), headers={**headers, "Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert streamed.json()["detail"] == "the request body is larger than 1,000 bytes"


def test_token_buckets_refill_at_the_rate_and_cap_at_the_burst() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2, burst=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0.5]
    now[0] += 0.5
    assert buckets.take("a") == 0
    now[0] += 100
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0.5]  # never more than the burst
    assert buckets.take("b") == 0


_CLOSED = {"value": False}  # a setting: true asks for a key with cases:read
_CatalogueReader = Annotated[
    Principal | None, Depends(access.public(unless=lambda _: _CLOSED["value"], scope="cases:read"))
]


def test_a_route_is_public_only_on_purpose(tmp_path: Path) -> None:
    """A router passed as public whose route does not say ``access.public(...)`` is refused at start."""
    careless = APIRouter()

    @careless.get("/v1/open")
    async def open_thing() -> dict[str, str]:
        return {}

    with pytest.raises(ValueError, match=r"GET /v1/open is on a public router without an access.public"):
        create_app(
            settings=_settings(tmp_path, "sqlite+aiosqlite://"),
            title="t",
            description="t",
            version="0",
            routers=[],
            public_routers=[careless],
        )


async def test_a_public_route_answers_without_a_credential_and_checks_one_that_is_sent(
    tmp_path: Path, database_url: str
) -> None:
    closed = _CLOSED
    closed["value"] = False
    public = APIRouter()

    @public.get("/v1/catalogue")
    async def catalogue(caller: _CatalogueReader) -> dict[str, str | None]:
        return {"caller": caller.subject if caller else None}

    settings = _settings(tmp_path, database_url, rate_limit_per_s=0)
    app = create_app(
        settings=settings, title="t", description="t", version="0", routers=[], public_routers=[public],
        migrations=MIGRATIONS,
    )  # fmt: skip
    async with app.router.lifespan_context(app):
        ring = Keyring.load(settings.keyring_path(), development=True)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/v1/catalogue")).json() == {"caller": None}
            named = await client.get("/v1/catalogue", headers=bearer(ring, ["grid:read"], subject="portal"))
            assert named.json() == {"caller": "portal"}
            assert (await client.get("/v1/catalogue", params={"api_key": "gmk_x_y"})).status_code == 401
            closed["value"] = True  # the setting that asks for a key
            assert (await client.get("/v1/catalogue")).status_code == 401
            assert (await client.get("/v1/catalogue", headers=bearer(ring, ["grid:read"]))).status_code == 403
            assert (await client.get("/v1/catalogue", headers=bearer(ring, ["cases:read"]))).status_code == 200


# --- abuse (issue 14, item 5): a flood of made-up credentials is limited by the address it
# comes from (a random Bearer got a fresh bucket of its own) and costs one audit row per source
# and minute; the method label of the metrics is an allow-list; a client that trickles its
# headers or its body is cut off (real sockets against a real uvicorn).


async def test_random_bearers_share_their_address_budget_and_cost_one_audit_row(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite'}",
        rate_limit_per_s=100,
        rate_limit_per_address_s=0.01,
        rate_limit_address_burst=5,
    )
    async with running(settings) as (client, ring, runtime):
        runtime.failed_auth.clock = lambda: datetime(2026, 12, 3, 9, 30, 15, tzinfo=UTC)
        statuses = []
        for _ in range(12):
            made_up = {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}
            statuses.append((await client.get("/v1/records/r-1", headers=made_up)).status_code)
        assert statuses == [401] * 5 + [429] * 7  # not 12 fresh buckets
        assert (await client.get("/healthz")).status_code == 200  # operators still get through
        await write_failed_authentications(runtime, everything=True)
        runtime.failed_auth.clock = lambda: datetime.now(UTC)
    # the address is spent for this run; read the audit log from a fresh one on the same database
    async with running(settings.model_copy(update={"rate_limit_per_address_s": 0})) as (client, ring, _):
        [row] = await _audit(client, ring, action="unauthenticated")
    assert (row["client"], row["at"][:16]) == ("10.0.0.7", "2026-12-03T09:30")
    assert row["reason"].startswith("5 failed authentications in the minute: invalid token")


def test_failed_authentications_are_counted_per_source_and_minute() -> None:
    now = datetime(2026, 12, 3, 9, 30, 59, tzinfo=UTC)
    counter = FailedAuthentications(clock=lambda: now)
    for _ in range(1000):
        counter.count("10.0.0.7", "invalid token")
    counter.count("10.0.0.8", "credential required")
    assert counter.take(everything=False) == []  # the minute is not over
    now += timedelta(seconds=1)
    counter.count("10.0.0.7", "invalid token")
    rows = counter.take(everything=False)
    assert sorted((r.client, r.reason) for r in rows) == [
        ("10.0.0.7", "1000 failed authentications in the minute: invalid token ×1000"),
        ("10.0.0.8", "1 failed authentication in the minute: credential required ×1"),
    ]
    [last] = counter.take(everything=True)
    assert (last.client, last.at) == ("10.0.0.7", datetime(2026, 12, 3, 9, 31, tzinfo=UTC))


async def test_the_method_label_is_an_allow_list(tmp_path: Path) -> None:
    settings = _settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite'}", rate_limit_per_s=0)
    async with running(settings) as (client, ring, _):
        invented = "X" + secrets.token_hex(6).upper()
        await client.request(invented, "/v1/records/r-1", headers=bearer(ring, ["cases:read"]))
        exposed = (await client.get("/metrics")).text
    assert invented not in exposed
    assert 'govmesh_http_requests_total{method="other"' in exposed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _serve(tmp_path: Path, **overrides: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int, Keyring]:
    settings = _settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 's.sqlite'}",
        rate_limit_per_s=0,
        http_header_timeout_s=1,
        http_body_timeout_s=1,
        **overrides,
    )
    app = create_app(
        settings=settings, title="t", description="t", version="0", routers=[_router()], migrations=MIGRATIONS
    )
    port = _free_port()
    server = uvicorn.Server(server_config(app, settings, port=port))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # pytest owns the signals
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started:
            break
        await asyncio.sleep(0.1)
    assert server.started
    return server, task, port, Keyring.load(settings.keyring_path(), development=True)


async def _stop(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, 60)


async def _closed_while_trickling(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, drip: bytes) -> bytes:
    """Send ``drip`` every 0.2 s for up to a minute; the server's answer when it cuts us off."""
    for _ in range(300):
        try:
            writer.write(drip)
            await writer.drain()
        except ConnectionError:
            return b""
        try:
            answer = await asyncio.wait_for(reader.read(), 0.2)
        except TimeoutError:
            continue
        return answer if answer else b"closed"
    pytest.fail("the server kept a connection whose client trickled for a minute")


async def test_a_client_that_trickles_its_headers_is_cut_off(tmp_path: Path) -> None:
    server, task, port, _ = await _serve(tmp_path)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        await _closed_while_trickling(writer, reader, b"X-Slow: a\r\n")
        writer.close()
        # others are served meanwhile and after
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 30)).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await _stop(server, task)


async def test_a_client_that_trickles_its_body_gets_a_408(tmp_path: Path) -> None:
    server, task, port, ring = await _serve(tmp_path)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        token = ring.issue_token("slow-client", ["cases:read"], [])
        head = (
            "POST /v1/records HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: 100000\r\nAuthorization: Bearer {token}\r\nAccept-Language: en\r\n\r\n"
        )
        writer.write(head.encode() + b'{"text": "')
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 60)  # we send nothing more
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive within 1 s" in answer
        writer.close()
    finally:
        await _stop(server, task)

"""Access control as every service gets it from the runtime: a credential on every
endpoint but health and metrics, scopes, places that never leak existence, the
append-only audit log and its endpoint, rate and size limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from govmesh_runtime import access
from govmesh_runtime.app import create_app
from govmesh_runtime.audit import Action
from govmesh_runtime.auth import Keyring, Principal
from govmesh_runtime.limits import TokenBuckets
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
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
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
    client, ring, _ = service
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
    refused = await _audit(client, ring, action="unauthenticated")
    assert [r["subject"] for r in refused] == ["anonymous"] * 3
    assert "token" in refused[-1]["reason"] and refused[-1]["client"] == "10.0.0.7"


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


async def test_the_audit_log_pages_by_id(service: Any) -> None:
    client, ring, _ = service
    for _ in range(5):
        await client.get("/v1/records/r-1")
    auditor = bearer(ring, ["audit:read"])
    first = (await client.get("/v1/audit", params={"limit": 2}, headers=auditor)).json()
    second = await client.get("/v1/audit", params={"limit": 2, "after_id": first["next_after_id"]}, headers=auditor)
    ids = [r["id"] for r in first["items"] + second.json()["items"]]
    assert len(ids) == 4 and ids == sorted(ids) and len(set(ids)) == 4
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
        headers = bearer(ring, ["cases:write"])
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

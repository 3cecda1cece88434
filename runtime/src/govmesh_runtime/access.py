"""Access control for every service's REST API: who is calling, what they may do, where.

``create_app`` puts :func:`authenticated` on every service router (health and metrics
excepted), so no endpoint answers without a credential. Endpoints then ask for what
they need::

    @router.get("/v1/things/{id}")
    async def get_thing(caller: Annotated[Principal, Depends(require("cases:read"))], ...)

and check places with :func:`guard_place` — a record outside the caller's places is
refused exactly like a record that does not exist, so a 403 never tells whether it
exists. Every 401 and 403 is written to the audit log with its reason.

Scopes are narrow, one per kind of work; the one table of scopes and of the roles that
hold them is :mod:`govmesh_runtime.roles`. Each endpoint names exactly one decision
(``require(<scope>)``, or any credential) and ``tests/access/test_scope_matrix.py`` walks
every route of every service against every role.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select

from govmesh_runtime import audit, metrics
from govmesh_runtime.auth import AuthError, Principal
from govmesh_runtime.pagination import CURSOR_QUERY, Page, after, decode_cursor, page
from govmesh_runtime.problems import refusals
from govmesh_runtime.roles import ALL_SCOPES, Scope
from govmesh_runtime.tables import AuditRecord
from govmesh_runtime.tracing import current_traceparent, trace_id

if TYPE_CHECKING:
    from govmesh_runtime.app import Runtime

# Every scope there is (kept under its old name for callers that issue all-scope tokens).
SCOPES: tuple[str, ...] = tuple(sorted(ALL_SCOPES))

# Declared for the OpenAPI document (and its "Authorize" button); verification is ours.
_bearer = HTTPBearer(auto_error=False, description="A JWT issued by `govmesh-auth token`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key issued by `govmesh-auth api-key`.")


async def authenticated(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The verified caller; 401 (audited) without a valid credential.

    API keys are also taken from the ``api_key`` query or form field, as Open311 clients send them."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authorization = f"Bearer {bearer.credentials}" if bearer else request.headers.get("authorization")
    key = api_key or request.query_params.get("api_key") or await _form_api_key(request)
    runtime = _runtime(request)
    try:
        oidc = runtime.oidc
        if oidc is not None and authorization:  # with an issuer, a bearer token must be its token
            principal = await oidc.authenticate(authorization)
        else:
            principal = runtime.auth.authenticate(authorization, key)
    except AuthError as exc:
        # counted per source per minute and written once a minute (not a row per request)
        metrics.AUTH_FAILURES.inc()
        runtime.failed_auth.count(request.client.host if request.client else "unknown", str(exc))
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    # Only now, with a verified principal, its own bucket (a random Bearer gets none).
    if runtime.principal_limits is not None:
        wait = runtime.principal_limits.take(f"{principal.via}:{principal.subject}")
        if wait > 0:
            metrics.RATE_LIMITED.inc()
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail="too many requests from this client; slow down",
                headers={"Retry-After": str(math.ceil(wait))},
            )
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def public(
    *, unless: Callable[[Request], bool] | None = None, scope: str | None = None
) -> Callable[..., Awaitable[Principal | None]]:
    """A dependency that makes a route public: it answers without a credential (then the caller
    is None and bound to no places). A credential that is sent is verified (401 if bad) and its
    places apply. When ``unless(request)`` is true (a setting), the route needs a credential
    with ``scope`` after all, as :func:`require` would.

    Only routes of ``create_app(public_routers=...)`` may be public, and each of them must
    depend on this: the route/scope matrix reads ``dependency.public`` and ``dependency.scopes``."""

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> Principal | None:
        if unless is not None and unless(request):
            principal = await authenticated(request, bearer, api_key)
            if scope is not None and not principal.has(scope):
                raise await refuse(request, principal, f"scope '{scope}' is required", "request")
            return principal
        sent = bearer or api_key or request.headers.get("authorization") or request.query_params.get("api_key")
        return await authenticated(request, bearer, api_key) if sent else None

    dependency.public = True  # type: ignore[attr-defined]
    dependency.scopes = (scope,) if scope else ()  # type: ignore[attr-defined]
    return dependency


def is_public(call: object) -> bool:
    """Whether a dependency is one made by :func:`public`."""
    return getattr(call, "public", False) is True


def require(*scopes: Scope | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold every one of ``scopes`` (403 otherwise).

    The scopes stay on the dependency (``required_scopes``) so that the route matrix test
    reads each endpoint's decision from its dependencies."""
    unknown = [str(scope) for scope in scopes if str(scope) not in ALL_SCOPES]
    if unknown:  # a typo would lock everyone out (or, worse, nobody would hold it)
        raise ValueError(f"unknown scope {unknown[0]!r}: add it to govmesh_runtime.roles first")
    names = tuple(str(scope) for scope in scopes)

    async def dependency(request: Request, principal: Caller) -> Principal:
        missing = [scope for scope in names if not principal.has(scope)]
        if missing:
            raise await refuse(request, principal, f"scope '{missing[0]}' is required", "request")
        return principal

    dependency.required_scopes = frozenset(names)  # type: ignore[attr-defined]
    return dependency


def required_scopes(dependency: Callable[..., Any]) -> frozenset[str] | None:
    """The scopes a dependency made by :func:`require` asks for (None for any other)."""
    scopes: frozenset[str] | None = getattr(dependency, "required_scopes", None)
    return scopes


async def require_assignee_or_manager(
    request: Request, principal: Principal, *, assignee: str | None, resource: str, resource_id: str
) -> None:
    """Work on a task: its assignee (the credential's subject) may, and so may a holder of
    ``tasks:manage`` (a centre; the task's place is checked by the caller of this)."""
    if principal.has(Scope.TASKS_MANAGE):
        return
    if assignee is None or principal.subject != assignee:
        who = f"assigned to {assignee}" if assignee else "not assigned to anyone"
        reason = f"this {resource} is {who}, not to {principal.subject} (or scope 'tasks:manage' is required)"
        raise await refuse(request, principal, reason, resource, resource_id)


async def refuse(
    request: Request, principal: Principal, reason: str, resource: str, resource_id: str | None = None
) -> HTTPException:
    """Audit a refusal and return the 403 to raise."""
    await _audit(request, principal, audit.Action.REFUSED, resource, resource_id, reason)
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=reason)


async def guard_place(
    request: Request, principal: Principal, *, resource: str, resource_id: str, place: str | None, found: bool
) -> None:
    """Refuse a record outside the caller's places with a 403, and a missing one with the
    same 403 when the caller is place-bound (a 404 would tell them the record exists
    elsewhere); an unbound caller gets the 404."""
    if principal.places and (not found or not principal.may_act_in(place)):
        raise await refuse(request, principal, f"this {resource} is not within your places", resource, resource_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no such {resource}: {resource_id}")


async def require_place(request: Request, principal: Principal, *, resource: str, place: str | None) -> None:
    """For writes: the place the caller acts in (a grid or division code) must be theirs."""
    if not principal.may_act_in(place):
        where = f"'{place}'" if place else "an unplaced record"
        raise await refuse(request, principal, f"{where} is not within your places", resource)


def place_filter(principal: Principal) -> tuple[str, ...] | None:
    """Code prefixes a list query must stay within, or None for everywhere."""
    return principal.places or None


async def audit_personal_data(
    request: Request,
    principal: Principal,
    *,
    action: audit.Action,
    resource: str,
    resource_ids: Iterable[str],
    fields: Iterable[str],
    reason: str = "",
) -> None:
    """Record a read (or an out-of-transaction change) of personal data: one row per record."""
    fields = tuple(fields)
    records = [_entry(request, principal, action, resource, rid, reason, fields) for rid in resource_ids]
    if records:
        await audit.record(_runtime(request).db.sessions, *records)


def change_entry(
    request: Request, principal: Principal, *, resource: str, resource_id: str, fields: Iterable[str], reason: str
) -> AuditRecord:
    """An audit row for a change of personal data, to add in the change's own transaction."""
    return _entry(request, principal, audit.Action.CHANGE, resource, resource_id, reason, tuple(fields))


def _entry(
    request: Request,
    principal: Principal | None,
    action: audit.Action,
    resource: str,
    resource_id: str | None,
    reason: str,
    fields: tuple[str, ...] = (),
) -> AuditRecord:
    route = getattr(request.scope.get("route"), "path", request.url.path)
    traceparent = current_traceparent.get()
    return audit.entry(
        principal=principal,
        action=action,
        resource=resource,
        resource_id=resource_id,
        fields=fields,
        reason=reason,
        purpose=request.headers.get(audit.PURPOSE_HEADER),
        route=f"{request.method} {route}",
        client=request.client.host if request.client else None,
        trace_id=trace_id(traceparent) if traceparent else None,
    )


async def _audit(
    request: Request,
    principal: Principal | None,
    action: audit.Action,
    resource: str,
    resource_id: str | None,
    reason: str,
) -> None:
    await audit.record(_runtime(request).db.sessions, _entry(request, principal, action, resource, resource_id, reason))


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _form_api_key(request: Request) -> str | None:
    """``api_key`` of a form-encoded POST (Open311). Parsed from the raw body, which stays
    readable for the endpoint (and python-multipart, which request.form() needs, is not a
    dependency)."""
    if request.method != "POST" or not request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return None
    fields = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return next((value for name, value in fields if name == "api_key"), None)


# --- the auditors' endpoint ----------------------------------------------------------------


class AuditView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    subject: str
    via: str
    action: str
    resource: str
    resource_id: str | None
    fields: str
    reason: str
    purpose: str
    route: str
    client: str
    trace_id: str | None


def audit_router() -> APIRouter:
    router = APIRouter(tags=["audit"], responses=refusals(401, 403, 422))

    @router.get("/v1/audit", summary="The audit log, oldest first; page with cursor.")
    async def audit_log(
        request: Request,
        _: Annotated[Principal, Depends(require(audit.AUDIT_SCOPE))],
        subject: str | None = None,
        action: audit.Action | None = None,
        resource: str | None = None,
        resource_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size (at most 1,000).")] = 100,
        cursor: Annotated[str | None, CURSOR_QUERY] = None,
    ) -> Page[AuditView]:
        query = select(AuditRecord).where(after([col(AuditRecord.id)], decode_cursor(cursor, 1)))
        filters: list[Any] = []
        if subject is not None:
            filters.append(col(AuditRecord.subject) == subject)
        if action is not None:
            filters.append(col(AuditRecord.action) == action.value)
        if resource is not None:
            filters.append(col(AuditRecord.resource) == resource)
        if resource_id is not None:
            filters.append(col(AuditRecord.resource_id) == resource_id)
        if since is not None:
            filters.append(col(AuditRecord.at) >= _utc(since))
        if until is not None:
            filters.append(col(AuditRecord.at) < _utc(until))
        query = query.where(*filters).order_by(col(AuditRecord.id)).limit(limit + 1)
        async with _runtime(request).db.sessions() as session:
            rows = list(await session.exec(query))
        return page([AuditView.model_validate(row) for row in rows], rows, limit, lambda r: [r.id])

    return router


def _utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

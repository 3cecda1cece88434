"""Every endpoint of every service × every role: allowed exactly when the role holds the
endpoint's scope (issue 14, item 3).

``DECISIONS`` is the one table of who may call what: per route, the scopes it needs
(all of them), ``CREDENTIAL`` (any valid credential) or ``PUBLIC`` (none: operators'
health, metrics and the API docs page). The routes come from each service's app, so a new endpoint without
a line here fails ``test_every_route_has_exactly_its_declared_decision``; adding its
decision is one line. That test also reads each route's dependencies (``access.require``
keeps its scopes), so the table cannot drift from the code.

``test_each_role_is_allowed_exactly_when_it_holds_the_scope`` then calls every route of
every running service (SQLite, consumers off) with a token per role from the keyring
(``roles.scopes_for(role)``), and checks that the scope check refuses it (403 "scope '…'
is required") exactly when the role lacks a declared scope. Bodies are empty and ids
random, so an allowed call ends in 404/422 and changes nothing.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from support import auth_headers

from govmesh_runtime import access
from govmesh_runtime.roles import Role, Scope, scopes_for

S = Scope
PUBLIC = "public"
CREDENTIAL = "credential"
Decision = str | frozenset[Scope]


def _(*scopes: Scope) -> frozenset[Scope]:
    return frozenset(scopes)


OPERATIONS: dict[tuple[str, str, str], Decision] = {
    (service, "GET", path): PUBLIC
    for service in ("intake", "dispatch", "mediation", "policing", "video_bridge")
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/docs/assets/{name}")
}

DECISIONS: dict[tuple[str, str, str], Decision] = {
    **OPERATIONS,
    # intake: the one door
    ("intake", "POST", "/v1/cases"): _(S.CASES_CREATE),
    ("intake", "GET", "/v1/cases"): _(S.CASES_READ),
    ("intake", "GET", "/v1/cases/{case_id}"): _(S.CASES_READ),
    ("intake", "POST", "/v1/cases/{case_id}/feedback"): _(S.CASES_CREATE),
    ("intake", "POST", "/v1/cases/{case_id}/erasure"): _(S.CASES_MANAGE, S.PERSONAL_DATA),
    ("intake", "POST", "/v1/cases/{case_id}/cancel"): _(S.CASES_MANAGE),
    ("intake", "GET", "/v1/matters"): CREDENTIAL,
    ("intake", "GET", "/v1/matters/{code}"): CREDENTIAL,
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/services.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/services/{service_code}.{fmt}"): PUBLIC,
    ("intake", "POST", "/open311/v2/requests.{fmt}"): _(S.CASES_CREATE),
    ("intake", "GET", "/open311/v2/requests.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/requests/{service_request_id}.{fmt}"): PUBLIC,
    ("intake", "GET", "/open311/v2/tokens/{token}.{fmt}"): PUBLIC,
    ("intake", "GET", "/v1/audit"): _(S.AUDIT_READ),
    # dispatch: the grid, tasks, the board
    ("dispatch", "POST", "/v1/grids/import"): _(S.GRID_IMPORT),
    ("dispatch", "GET", "/v1/grids/grids.geojson"): _(S.GRID_READ),
    ("dispatch", "GET", "/v1/grids/locate"): _(S.GRID_READ),
    ("dispatch", "GET", "/v1/grids"): _(S.GRID_READ),
    ("dispatch", "GET", "/v1/grids/{grid_code}"): _(S.GRID_READ),
    ("dispatch", "PUT", "/v1/buildings/{building_code}"): _(S.GRID_WRITE),
    ("dispatch", "GET", "/v1/admin-units"): _(S.GRID_READ),
    ("dispatch", "PUT", "/v1/workers/{worker_id}"): _(S.GRID_WRITE),
    ("dispatch", "PUT", "/v1/workers/{worker_id}/duty"): _(S.GRID_WRITE),
    ("dispatch", "GET", "/v1/workers"): _(S.GRID_READ),
    ("dispatch", "PUT", "/v1/centres/{centre_code}"): _(S.GRID_WRITE),
    ("dispatch", "GET", "/v1/centres"): _(S.GRID_READ),
    ("dispatch", "POST", "/v1/visit-plans"): _(S.TASKS_MANAGE),
    ("dispatch", "GET", "/v1/visit-plans"): _(S.GRID_READ),
    ("dispatch", "POST", "/v1/visit-records"): _(S.TASKS_WORK),
    ("dispatch", "GET", "/v1/visit-records"): _(S.GRID_READ),
    ("dispatch", "GET", "/v1/routing-rules"): _(S.GRID_READ),
    ("dispatch", "PUT", "/v1/routing-rules"): _(S.GRID_IMPORT),
    ("dispatch", "GET", "/v1/board/cases"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/board/overdue"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/board/counts"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/board/stats"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/cases/{case_id}"): _(S.CASES_READ),
    ("dispatch", "POST", "/v1/cases/{case_id}/escalate"): _(S.CASES_MANAGE),
    ("dispatch", "POST", "/v1/cases/{case_id}/close"): _(S.CASES_MANAGE),
    ("dispatch", "GET", "/v1/tasks"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/tasks/{task_id}"): _(S.CASES_READ),
    ("dispatch", "POST", "/v1/tasks/{task_id}/accept"): _(S.TASKS_WORK),
    ("dispatch", "POST", "/v1/tasks/{task_id}/complete"): _(S.TASKS_WORK),
    ("dispatch", "POST", "/v1/tasks/{task_id}/reassign"): _(S.TASKS_MANAGE),
    ("dispatch", "POST", "/v1/tasks/{task_id}/cancel"): _(S.TASKS_MANAGE),
    ("dispatch", "POST", "/v1/tasks/{task_id}/return-visit"): _(S.TASKS_WORK),
    ("dispatch", "POST", "/v1/tasks/{task_id}/photos"): _(S.TASKS_WORK),  # and only the task's assignee
    ("dispatch", "GET", "/v1/cases/{case_id}/photos"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/photos/{photo_id}"): _(S.CASES_READ),
    ("dispatch", "GET", "/v1/webhooks/deliveries"): _(S.TASKS_MANAGE),
    ("dispatch", "POST", "/v1/webhooks/deliveries/{delivery_id}/resend"): _(S.TASKS_MANAGE),
    ("dispatch", "PUT", "/v1/elements/{element_id}"): _(S.GRID_WRITE),
    ("dispatch", "POST", "/v1/elements/bulk"): _(S.GRID_WRITE),
    ("dispatch", "GET", "/v1/elements/{element_id}"): _(S.GRID_READ),
    ("dispatch", "GET", "/v1/elements"): _(S.GRID_READ),
    ("dispatch", "GET", "/v1/audit"): _(S.AUDIT_READ),
    # mediation: reading disputes is case reading; every change is mediators' work
    ("mediation", "GET", "/v1/disputes"): _(S.CASES_READ),
    ("mediation", "GET", "/v1/disputes/{dispute_id}"): _(S.CASES_READ),
    ("mediation", "PATCH", "/v1/disputes/{dispute_id}"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/parties"): _(S.MEDIATION),
    ("mediation", "GET", "/v1/disputes/{dispute_id}/parties/{party_id}/contact"): _(S.CASES_READ, S.PERSONAL_DATA),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/risk"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/assignment"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/conflicts-of-interest"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/agreement"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/judicial-confirmation"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/follow-ups"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/referral"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/withdrawal"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/disputes/{dispute_id}/sessions"): _(S.MEDIATION),
    ("mediation", "GET", "/v1/sessions"): _(S.CASES_READ),
    ("mediation", "POST", "/v1/sessions/{session_id}/record"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/sessions/{session_id}/cancel"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/seed"): _(S.GRID_WRITE),
    ("mediation", "PUT", "/v1/studios/{studio_id}"): _(S.GRID_WRITE),
    ("mediation", "PUT", "/v1/mediators/{mediator_id}"): _(S.GRID_WRITE),
    ("mediation", "GET", "/v1/studios"): _(S.GRID_READ),
    ("mediation", "GET", "/v1/mediators"): _(S.GRID_READ),
    ("mediation", "GET", "/v1/reports/outcomes-by-category"): _(S.CASES_READ),
    ("mediation", "POST", "/v1/window-requests"): _(S.MEDIATION),
    ("mediation", "GET", "/v1/window-requests"): _(S.CASES_READ),
    ("mediation", "POST", "/v1/window-requests/{request_id}/completion"): _(S.MEDIATION),
    ("mediation", "POST", "/v1/deliberations"): _(S.MEDIATION),
    ("mediation", "GET", "/v1/deliberations"): _(S.CASES_READ),
    ("mediation", "GET", "/v1/audit"): _(S.AUDIT_READ),
    # policing: police data and police work; the contact card is for anyone with a credential
    ("policing", "GET", "/v1/contact-card"): CREDENTIAL,
    ("policing", "PUT", "/v1/reference"): _(S.POLICING, S.GRID_IMPORT),
    ("policing", "GET", "/v1/rooms"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/roster"): _(S.POLICING),
    ("policing", "PUT", "/v1/rooms/{room_code}/roster"): _(S.POLICING),
    ("policing", "POST", "/v1/rooms/{room_code}/shifts"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/shifts"): _(S.POLICING),
    ("policing", "DELETE", "/v1/rooms/{room_code}/shifts/{shift_id}"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/tasks"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/response-times"): _(S.POLICING),
    ("policing", "POST", "/v1/rooms/{room_code}/patrols"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/patrols"): _(S.POLICING),
    ("policing", "POST", "/v1/rooms/{room_code}/visits"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/visits"): _(S.POLICING),
    ("policing", "POST", "/v1/rooms/{room_code}/key-persons"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/key-persons"): _(S.POLICING),
    ("policing", "POST", "/v1/rooms/{room_code}/key-places"): _(S.POLICING),
    ("policing", "GET", "/v1/rooms/{room_code}/key-places"): _(S.POLICING),
    ("policing", "GET", "/v1/tasks"): _(S.POLICING),
    ("policing", "GET", "/v1/tasks/{task_id}"): _(S.POLICING),
    ("policing", "POST", "/v1/tasks/{task_id}/route"): _(S.POLICING),
    ("policing", "POST", "/v1/tasks/{task_id}/accept"): _(S.POLICING),
    ("policing", "POST", "/v1/tasks/{task_id}/on-scene"): _(S.POLICING),
    ("policing", "POST", "/v1/tasks/{task_id}/close"): _(S.POLICING),
    ("policing", "POST", "/v1/tasks/{task_id}/mediation"): _(S.POLICING),
    ("policing", "GET", "/v1/audit"): _(S.AUDIT_READ),
    # video-bridge: cameras; alarms only from devices' bridges and analytics systems
    ("video_bridge", "GET", "/v1/channels"): _(S.GRID_READ),
    ("video_bridge", "GET", "/v1/channels/map"): _(S.GRID_READ),
    ("video_bridge", "GET", "/v1/channels/{channel_id}"): _(S.GRID_READ),
    ("video_bridge", "PUT", "/v1/channels/{channel_id}/grid"): _(S.DEVICES_MANAGE),
    ("video_bridge", "POST", "/v1/channels/import"): _(S.GRID_IMPORT),
    ("video_bridge", "GET", "/v1/devices"): _(S.GRID_READ),
    ("video_bridge", "GET", "/v1/devices/{device_id}"): _(S.GRID_READ),
    ("video_bridge", "POST", "/v1/devices/{device_id}/queries"): _(S.DEVICES_MANAGE),
    ("video_bridge", "POST", "/v1/devices/{device_id}/subscriptions"): _(S.DEVICES_MANAGE),
    ("video_bridge", "PUT", "/v1/devices/{device_id}/credentials"): _(S.DEVICES_MANAGE),
    ("video_bridge", "PUT", "/v1/grids"): _(S.GRID_IMPORT),
    ("video_bridge", "GET", "/v1/grids/locate"): _(S.GRID_READ),
    ("video_bridge", "POST", "/v1/alarms/webhook"): _(S.ALARMS_RAISE),
    ("video_bridge", "GET", "/v1/alarms"): _(S.GRID_READ),
    ("video_bridge", "POST", "/v1/evidence"): _(S.EVIDENCE_ATTACH),
    ("video_bridge", "GET", "/v1/sip"): _(S.GRID_READ),
    ("video_bridge", "GET", "/v1/audit"): _(S.AUDIT_READ),
}

SERVICES = ("intake", "dispatch", "mediation", "policing", "video_bridge")


def _settings(service: str, **values: Any) -> Any:
    module = importlib.import_module(f"{service}.settings")
    cls = next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings") and isinstance(value, type) and value.__module__ == module.__name__
    )
    extra: dict[str, Any] = {"consumers_enabled": False, "rate_limit_per_s": 0}
    if service == "dispatch":
        extra |= {"timer_scan_interval_s": 3600, "webhook_scan_interval_s": 3600}
    if service == "mediation":
        extra |= {"sweep_interval_s": 3600}
    if service == "video_bridge":
        extra |= {"sip_port": 0}
    return cls(**extra, **values)


def _app(service: str, **values: Any) -> FastAPI:
    create_app: Callable[..., FastAPI] = importlib.import_module(f"{service}.bootstrap").create_app
    return create_app(_settings(service, **values))


def _declared_by_code(route: Any) -> Decision:
    """The decision the route's dependencies make: the scopes of every ``access.require``
    among them, else whether ``access.authenticated`` is among them."""
    scopes: set[str] = set()
    authenticated = False

    def walk(dependant: Any) -> None:
        nonlocal authenticated
        if dependant.call is access.authenticated:
            authenticated = True
        if access.is_public(dependant.call):  # Open311's reads: public on purpose (GeoReport v2)
            return
        scopes.update(access.required_scopes(dependant.call) or ()) if dependant.call else None
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    if scopes:
        return frozenset(Scope(scope) for scope in scopes)
    return CREDENTIAL if authenticated else PUBLIC


def _routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods or ()):
                yield method, str(context.path), context


def test_every_route_has_exactly_its_declared_decision() -> None:
    seen: dict[tuple[str, str, str], Decision] = {}
    for service in SERVICES:
        for method, path, route in _routes(_app(service)):
            seen[(service, method, path)] = _declared_by_code(route)
    undeclared = sorted(set(seen) - set(DECISIONS))
    assert not undeclared, f"routes without a decision in DECISIONS (add one line each): {undeclared}"
    stale = sorted(set(DECISIONS) - set(seen))
    assert not stale, f"decisions for routes that no longer exist: {stale}"
    differing = {key: (DECISIONS[key], seen[key]) for key in seen if seen[key] != DECISIONS[key]}
    assert not differing, f"declared vs. what the route's dependencies require: {differing}"


def test_every_scope_is_needed_somewhere_and_every_role_can_do_something() -> None:
    needed = {scope for decision in DECISIONS.values() if isinstance(decision, frozenset) for scope in decision}
    assert set(Scope) == needed
    for role in Role:
        allowed = [
            key
            for key, decision in DECISIONS.items()
            if isinstance(decision, frozenset) and decision <= scopes_for([role])
        ]
        assert allowed, f"{role} may call no endpoint that needs a scope"


def _url(path: str) -> str:
    """The path with a value for each parameter: a random id (a format: json)."""
    parts = []
    for piece in path.split("{"):
        name, brace, rest = piece.partition("}")
        if not brace:
            parts.append(piece)
            continue
        parts.append(("json" if name == "fmt" else str(uuid.uuid4())) + rest)
    return "".join(parts)


def _refused_by_scope(answer: httpx.Response) -> bool:
    """A 403 of the scope check (native: its detail; Open311: its list of errors)."""
    return answer.status_code == 403 and "scope '" in answer.text and "is required" in answer.text


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVICES)
async def test_each_role_is_allowed_exactly_when_it_holds_the_scope(
    service: str, tmp_path: Path, kafka_bootstrap: str
) -> None:
    app = _app(service, data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap)
    # one token per distinct set of scopes; every role is checked through the token of its set
    roles_by_scopes: dict[frozenset[str], list[Role]] = {}
    for role in Role:
        roles_by_scopes.setdefault(scopes_for([role]), []).append(role)
    tokens = {
        scopes: auth_headers(sorted(scopes), subject=f"matrix-{roles[0]}") for scopes, roles in roles_by_scopes.items()
    }
    wrong: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        for method, path, _route in _routes(app):
            decision = DECISIONS[(service, method, path)]
            url = _url(path)
            for scopes, roles in roles_by_scopes.items():
                body = {} if method in ("POST", "PUT", "PATCH") else None
                answer = await http.request(method, url, json=body, headers=tokens[scopes])
                needed = decision if isinstance(decision, frozenset) else frozenset()
                expected_refusal = not needed <= scopes
                if _refused_by_scope(answer) != expected_refusal:
                    verdict = "refused" if _refused_by_scope(answer) else f"let through ({answer.status_code})"
                    wrong.append(f"{method} {path} {verdict} for {[str(r) for r in roles]}")
    assert not wrong, "\n".join(wrong)

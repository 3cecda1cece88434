"""The console's pages: sign-in, 受理 acceptance, 案件 case board, 我的任务 my tasks.

Every page but sign-in, health and static files needs a session; every call to a service
carries the signed-in person's own token, so the services decide what they may see and do
(a grid worker's board holds their grid's cases only because intake filters it)."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console.forms import AcceptForm, build_request, service_errors
from console.gridmap import Frame, GridShape, draw_framed, tile_origin_of
from console.i18n import ACCEPT_LANGUAGE, LANGS, label, lang_of, translator
from console.sessions import COOKIE, PEOPLE_ROLES, OidcClient, Session, SessionStore, dev_session
from console.settings import ConsoleSettings, get_settings
from govmesh_runtime.auth import Keyring
from govmesh_runtime.roles import Role

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "govmesh_lang"
BEIJING = timezone(timedelta(hours=8), "CST")
CASE_STATUSES = ("received", "dispatched", "in_progress", "resolved", "closed", "cancelled")
CHANNELS = ("window", "hotline", "terminal", "api", "open311", "video")
# Menu entries not built yet: shown greyed, so people see what is coming.
LATER: tuple[str, ...] = ()
DISPUTE_STATUSES = ("open", "assigned", "in_mediation", "agreed", "closed")
OPEN_STATUSES = "received,dispatched,in_progress"


class SignInRequired(Exception):
    """No session, or its token expired: back to the sign-in page."""


class ServiceDown(Exception):
    """A service did not answer (or answered 5xx)."""


@dataclass
class Console:
    settings: ConsoleSettings
    sessions: SessionStore
    oidc: OidcClient | None
    templates: Jinja2Templates
    matters_cache: tuple[float, list[dict[str, Any]]] | None = None


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _next_url(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def current_session(request: Request) -> Session:
    console = _console(request)
    session = console.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    expiring = session.expires_at - 30 < time.time()
    if expiring and (console.oidc is None or not await console.oidc.refresh(session)):
        console.sessions.drop(request.cookies.get(COOKIE))
        raise SignInRequired
    if expiring:
        console.sessions.save(str(request.cookies.get(COOKIE)), session)  # the refreshed token
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def _lang(request: Request) -> str:
    return lang_of(request.cookies.get(LANG_COOKIE))


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    console = _console(request)
    lang = _lang(request)
    session: Session | None = getattr(request.state, "session", None)
    menu: list[tuple[str, str, bool]] = []  # (key, url, built)
    if session is not None:
        if session.has("cases:create"):
            menu.append(("accept", "/accept", True))
        if session.has("cases:read"):
            menu.append(("cases", "/cases", True))
        if session.has("tasks:work"):
            menu.append(("tasks", "/tasks", True))
        if session.has("grid:read"):
            menu.append(("map", "/map", True))
        if session.has("mediation"):
            menu.append(("mediation", "/mediation", True))
        if session.has("policing"):
            menu.append(("policing", "/policing", True))
        if session.has("grid:read") and (
            session.has("devices:manage")
            or session.has("cases:manage")
            or session.has("policing")
            or session.has("evidence:attach")
        ):
            menu.append(("video", "/video", True))
        if session.has("cases:manage") or session.has("audit:read"):
            menu.append(("assessment", "/assessment", True))
        menu += [(key, f"/soon/{key}", False) for key in LATER]
    return console.templates.TemplateResponse(
        request,
        template,
        {
            "t": translator(lang),
            "lang": lang,
            "other_lang": "en" if lang == "zh" else "zh",
            "session": session,
            "menu": menu,
            "active": context.pop("active", ""),
            "next": _next_url(request),
            **context,
        },
        status_code=status_code,
    )


async def call(
    request: Request,
    session: Session,
    service: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One call to a service's REST API with the person's token (and their language)."""
    settings = _console(request).settings
    base = {
        "intake": settings.intake_url,
        "dispatch": settings.dispatch_url,
        "mediation": settings.mediation_url,
        "policing": settings.policing_url,
        "video": settings.video_url,
    }[service]
    headers = {
        **(headers or {}),
        "Authorization": f"Bearer {session.access_token}",
        "Accept-Language": ACCEPT_LANGUAGE[_lang(request)],
    }
    try:
        async with httpx.AsyncClient(base_url=base, timeout=15) as http:
            answer = await http.request(method, path, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise ServiceDown(f"{service}: {exc}") from exc
    if answer.status_code == 401:
        _console(request).sessions.drop(request.cookies.get(COOKIE))
        raise SignInRequired
    if answer.status_code >= 500:
        raise ServiceDown(f"{service}: {answer.status_code}")
    return answer


def problem_text(answer: httpx.Response) -> str:
    """A service's refusal for a person: the ``detail`` sentence of its RFC 9457 problem (in the
    language the console asked for), else the answer's text."""
    try:
        problem = answer.json()
    except ValueError:
        return answer.text
    detail = problem.get("detail") if isinstance(problem, dict) else None
    return detail if isinstance(detail, str) else answer.text


async def matters(request: Request, session: Session) -> list[dict[str, Any]]:
    """The one door's matter taxonomy (cached five minutes: it changes with releases only)."""
    console = _console(request)
    if console.matters_cache and console.matters_cache[0] > time.time():
        return console.matters_cache[1]
    answer = await call(request, session, "intake", "GET", "/v1/matters")
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    console.matters_cache = (time.time() + 300, found)
    return found


def _matter_names(all_matters: list[dict[str, Any]], lang: str) -> dict[str, str]:
    return {m["code"]: m["name_zh"] if lang == "zh" else m["name_en"] for m in all_matters}


def _check_csrf(session: Session, token: str) -> None:
    if token != session.csrf:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="csrf")


def _home(session: Session) -> str:
    if session.role == Role.GRID_WORKER.value and session.has("tasks:work"):
        return "/tasks"
    if session.role == Role.POLICE_OFFICER.value and session.has("policing"):
        return "/policing/home"  # their own room's board and their police tasks
    if session.has("cases:create"):
        return "/accept"
    return "/cases"


def localtime(value: str | None) -> str:
    """An ISO time of the services (UTC) as people here read it: Beijing time, to the minute."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def overdue(value: str | None) -> bool:
    return bool(value) and datetime.fromisoformat(str(value)) < datetime.now(UTC)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["localtime"] = localtime
    templates.env.filters["overdue"] = overdue
    templates.env.globals["label"] = label
    return templates


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="govmesh console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = Console(
        settings=settings,
        sessions=SessionStore(settings.session_idle_s, settings.resolved_sessions_file()),
        oidc=OidcClient(settings.oidc_issuer, settings.oidc_client_id) if settings.oidc_issuer else None,
        templates=_templates(),
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # The city's tile service (if any) is the one other origin pages may load images from.
    tile_origin = " " + tile_origin_of(settings.map_tiles) if settings.map_tiles else ""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": _next_url(request)}), status.HTTP_303_SEE_OTHER)

    @app.exception_handler(ServiceDown)
    async def _down(request: Request, exc: ServiceDown) -> Response:
        t = translator(_lang(request))
        return page(request, "error.html", 502, message=t("error.service", detail=str(exc)))

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # Everything is served by the console itself: no CDN, no inline third-party content.
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src 'self' data:{tile_origin}; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path not in ("/healthz", "/readyz") and not request.url.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/healthz", include_in_schema=False)
    @app.get("/readyz", include_in_schema=False)
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/lang/{lang}")
    async def switch_language(lang: str, next: str = "/") -> Response:
        response = RedirectResponse(next if next.startswith("/") and not next.startswith("//") else "/", 303)
        response.set_cookie(LANG_COOKIE, lang_of(lang if lang in LANGS else None), max_age=365 * 86400, samesite="lax")
        return response

    # ------------------------------------------------------------------------------ sign-in

    def _safe_next(value: str | None) -> str:
        return value if value and value.startswith("/") and not value.startswith("//") else "/"

    def _signed_in(session: Session, next_url: str) -> Response:
        console = app.state.console
        sid = console.sessions.create(session)
        target = next_url if next_url != "/" else _home(session)
        response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
        response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", secure=settings.cookie_secure, path="/")
        return response

    @app.get("/login")
    async def login_page(request: Request, next: str = "/", error: str | None = None) -> Response:
        return page(
            request,
            "login.html",
            oidc=settings.oidc_issuer is not None,
            development=settings.development,
            roles=[r.value for r in PEOPLE_ROLES],
            next_url=_safe_next(next),
            error=error,
        )

    @app.post("/login")
    async def dev_login(
        request: Request,
        role: Annotated[str, Form()],
        subject: Annotated[str, Form(max_length=64)] = "",
        place: Annotated[str, Form(max_length=15)] = "",
        worker_id: Annotated[str, Form(max_length=64)] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        t = translator(_lang(request))
        if not settings.development or settings.oidc_issuer:
            return page(
                request,
                "login.html",
                403,
                oidc=settings.oidc_issuer is not None,
                development=False,
                roles=[],
                next_url="/",
                error=t("login.refused"),
            )
        try:
            chosen = Role(role)
        except ValueError:
            chosen = None
        place = place.strip()
        bad_place = bool(place) and not (place.isdigit() and len(place) in (6, 9, 12, 15))
        if chosen not in PEOPLE_ROLES or bad_place:
            return page(
                request,
                "login.html",
                422,
                oidc=False,
                development=True,
                roles=[r.value for r in PEOPLE_ROLES],
                next_url=_safe_next(next),
                error=t("login.failed"),
            )
        assert chosen is not None
        keyring = Keyring.load(settings.keyring_path(), development=True)
        session = dev_session(
            keyring,
            chosen,
            place or None,
            worker_id.strip() or None,
            # a grid worker acts as their worker id: a task is theirs when the token's subject is it
            worker_id.strip() or subject.strip() or f"{chosen.value}@{place or 'city'}",
            settings.dev_token_ttl_s,
        )
        return _signed_in(session, _safe_next(next))

    def _redirect_uri(request: Request) -> str:
        base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return base + "/auth/callback"

    @app.get("/login/oidc")
    async def oidc_login(request: Request, next: str = "/") -> Response:
        oidc = app.state.console.oidc
        if oidc is None:
            return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
        url, state = await oidc.authorization_url(_redirect_uri(request), _safe_next(next))
        response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
        # Binds the sign-in to this browser: a code delivered to another browser is refused.
        response.set_cookie(
            "govmesh_login_state", state, httponly=True, samesite="lax", max_age=600, secure=settings.cookie_secure
        )
        return response

    @app.get("/auth/callback")
    async def oidc_callback(request: Request, state: str = "", code: str = "", error: str = "") -> Response:
        oidc = app.state.console.oidc
        t = translator(_lang(request))
        if oidc is None or error or not code or state != request.cookies.get("govmesh_login_state"):
            return RedirectResponse("/login?" + urlencode({"error": error or t("login.failed")}), 303)
        try:
            session, next_url = await oidc.exchange(state, code, _redirect_uri(request))
        except PermissionError as exc:
            return RedirectResponse("/login?" + urlencode({"error": str(exc)}), 303)
        response = _signed_in(session, next_url)
        response.delete_cookie("govmesh_login_state")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        app.state.console.sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/")
    async def home(session: SessionDep) -> Response:
        return RedirectResponse(_home(session), status.HTTP_303_SEE_OTHER)

    @app.get("/soon/{name}")
    async def soon(request: Request, name: str, session: SessionDep) -> Response:
        return page(request, "soon.html", active=name if name in LATER else "")

    # ------------------------------------------------------------------------- 受理 acceptance

    async def _open_cases_nearby(request: Request, session: Session, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Open cases of the same matter near the place (by coordinates, else by address)."""
        params: dict[str, str | int] = {
            "matter_code": body["matter_code"],
            "status": "received,dispatched,in_progress",
            "limit": 5,
        }
        if "lat" in body:
            dlat = settings.duplicate_radius_m / 111_000
            dlon = dlat / max(math.cos(math.radians(body["lat"])), 0.01)
            params["bbox"] = f"{body['lon'] - dlon},{body['lat'] - dlat},{body['lon'] + dlon},{body['lat'] + dlat}"
        elif "address" in body:
            params["q"] = body["address"][:100]
        else:
            return []
        answer = await call(request, session, "intake", "GET", "/v1/cases", params=params)
        found: list[dict[str, Any]] = answer.json()["items"] if answer.status_code == 200 else []
        return found

    async def _accept_page(
        request: Request,
        session: Session,
        matter_code: str | None,
        form: AcceptForm,
        status_code: int = 200,
        duplicates: list[dict[str, Any]] | None = None,
    ) -> Response:
        all_matters = await matters(request, session)
        chosen = next((m for m in all_matters if m["code"] == matter_code), None)
        shapes: list[GridShape] = []
        frame: Frame | None = None
        if chosen is not None and session.has("grid:read"):  # the place by a click on the grid map
            grids = await call(request, session, "dispatch", "GET", "/v1/grids/grids.geojson")
            if grids.status_code == 200:
                shapes, frame = draw_framed(grids.json(), {}, {})
        groups: dict[str, list[dict[str, Any]]] = {}
        for m in all_matters:
            groups.setdefault(m["group"], []).append(m)
        return page(
            request,
            "accept.html",
            status_code,
            active="accept",
            groups=groups,
            matter=chosen,
            form=form,
            form_id=form.values.get("form_id") or str(uuid.uuid4()),
            channels=("window", "hotline", "terminal"),
            duplicates=duplicates or [],
            names=_matter_names(all_matters, _lang(request)),
            shapes=shapes,
            frame=frame,
        )

    @app.get("/accept")
    async def accept_form(request: Request, session: SessionDep, matter: str | None = None) -> Response:
        if not session.has("cases:create"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        default_channel = "terminal" if session.role == Role.GRID_WORKER.value else "window"
        return await _accept_page(request, session, matter, AcceptForm(values={"channel": default_channel}))

    @app.post("/accept")
    async def accept_submit(request: Request, session: SessionDep) -> Response:
        if not session.has("cases:create"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        posted = await request.form()
        _check_csrf(session, str(posted.get("csrf", "")))
        lang = _lang(request)
        form = AcceptForm(
            values={k: str(v) for k, v in posted.items() if isinstance(v, str)},
            multi={k: [str(x) for x in posted.getlist(k)] for k in posted if str(k).startswith("attr_")},
        )
        all_matters = await matters(request, session)
        matter_code = form.values.get("matter_code", "")
        chosen = next((m for m in all_matters if m["code"] == matter_code), None)
        body = build_request(form, chosen, lang)
        if body is None:
            return await _accept_page(request, session, matter_code, form, 422)
        if form.values.get("confirm_duplicate") != "1":
            nearby = await _open_cases_nearby(request, session, body)
            if nearby:  # warn before submitting; the clerk submits again to go on
                return await _accept_page(request, session, matter_code, form, 200, duplicates=nearby)
        # One key per rendered form: a double click or a resent form accepts the case once.
        headers = {"Idempotency-Key": form.values["form_id"]} if form.values.get("form_id") else {}
        answer = await call(request, session, "intake", "POST", "/v1/cases", json=body, headers=headers)
        if answer.status_code == 422:
            service_errors(form, answer.json(), lang)
            return await _accept_page(request, session, matter_code, form, 422)
        if answer.status_code not in (200, 201):
            form.errors["form"] = f"{answer.status_code}: {problem_text(answer)[:300]}"
            return await _accept_page(request, session, matter_code, form, answer.status_code)
        created = answer.json()
        query = "?linked=1" if created.get("outcome") == "linked" else ""
        return RedirectResponse(f"/accept/receipt/{created['id']}{query}", status.HTTP_303_SEE_OTHER)

    @app.get("/accept/receipt/{case_id}")
    async def receipt(request: Request, case_id: str, session: SessionDep, linked: int = 0) -> Response:
        case = await _case_or_refusal(request, session, case_id)
        if isinstance(case, Response):
            return case
        names = _matter_names(await matters(request, session), _lang(request))
        return page(request, "receipt.html", active="accept", case=case, names=names, linked=bool(linked))

    # ------------------------------------------------------------------------- 案件 case board

    async def _case_or_refusal(request: Request, session: Session, case_id: str) -> dict[str, Any] | Response:
        answer = await call(request, session, "intake", "GET", f"/v1/cases/{case_id}")
        if answer.status_code in (403, 404, 422):
            t = translator(_lang(request))
            return page(request, "error.html", 403, message=t("case.forbidden"))
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    @app.get("/cases")
    async def case_board(
        request: Request,
        session: SessionDep,
        matter: str = "",
        grid: str = "",
        channel: str = "",
        q: str = "",
        overdue: str = "",
        page_no: int = 1,
        open: str = "",
    ) -> Response:
        status_filter = request.query_params.get("status", "")
        filters = {"status": status_filter, "matter": matter, "grid": grid, "channel": channel, "q": q}
        filters["overdue"] = "1" if overdue else ""
        return await _board(request, session, filters, page_no, open or None)

    @app.get("/cases/{case_id}")
    async def case_detail(request: Request, case_id: str, session: SessionDep) -> Response:
        return await _board(request, session, {}, 1, case_id)

    @app.post("/cases/{case_id}/tasks/{task_id}/reassign")
    async def reassign_task(
        request: Request,
        case_id: str,
        task_id: str,
        session: SessionDep,
        csrf: Annotated[str, Form()] = "",
        centre_code: Annotated[str, Form(max_length=32)] = "",
        reason: Annotated[str, Form(max_length=500)] = "",
        target: Annotated[str, Form(max_length=64)] = "",
        assignee: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        """A centre hands a task to another worker or target (dispatch decides and records it)."""
        _check_csrf(session, csrf)
        if not session.has("tasks:manage"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        back = f"/cases/{case_id}"
        if not reason.strip():
            return RedirectResponse(back + "?" + urlencode({"error": "reassign.reason.required"}), 303)
        body = {
            "centre_code": centre_code,
            "reason": reason.strip(),
            "target": target or None,
            "assignee": assignee.strip() or None,
        }
        answer = await call(request, session, "dispatch", "POST", f"/v1/tasks/{task_id}/reassign", json=body)
        if answer.status_code != 200:
            return RedirectResponse(back + "?" + urlencode({"error": problem_text(answer)[:200]}), 303)
        return RedirectResponse(back, status.HTTP_303_SEE_OTHER)

    async def _board(
        request: Request,
        session: Session,
        query: dict[str, str],
        page_no: int,
        open_id: str | None,
    ) -> Response:
        if not session.has("cases:read"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        query = {k: query.get(k, "") for k in ("status", "matter", "grid", "channel", "q", "overdue")}
        detail: dict[str, Any] | None = None
        tasks: list[dict[str, Any]] = []
        handling: dict[str, Any] | None = None  # dispatch's view: level, centre
        photos: list[dict[str, Any]] = []  # the photos of the case's tasks (dispatch)
        if open_id:
            found = await _case_or_refusal(request, session, open_id)
            if isinstance(found, Response):
                return found
            detail = found
            answer = await call(request, session, "dispatch", "GET", f"/v1/cases/{open_id}")
            if answer.status_code == 200:
                handling = answer.json()
                tasks = handling.get("tasks", [])
            photos = await task_photos.of_case(request, session, open_id)
        size = settings.page_size
        page_no = max(page_no, 1)
        params: dict[str, str | int] = {"limit": size, "offset": (page_no - 1) * size}
        filters = {k: query[k] for k in ("status", "grid", "channel", "q")}
        filters["matter_code"] = query["matter"]
        params.update({k: v for k, v in filters.items() if v})
        if query["overdue"]:
            params["overdue"] = "true"  # open cases past their deadline (intake decides "now")
        answer = await call(request, session, "intake", "GET", "/v1/cases", params=params)
        error = None
        listing: dict[str, Any] = {"items": [], "total": 0}
        if answer.status_code == 200:
            listing = answer.json()
        else:
            error = problem_text(answer)[:300]
        all_matters = await matters(request, session)
        return page(
            request,
            "cases.html",
            active="cases",
            listing=listing,
            error=error,
            filters=query,
            filter_query=urlencode({k: v for k, v in query.items() if v}),
            page_no=page_no,
            pages=max(1, math.ceil(listing["total"] / size)),
            names=_matter_names(all_matters, _lang(request)),
            statuses=CASE_STATUSES,
            channels=CHANNELS,
            detail=detail,
            tasks=tasks,
            photos=photos,
            handling=handling,
            cancel_reasons=("withdrawn", "mis_report", "merged"),
            action_error=request.query_params.get("error", ""),
        )

    # ------------------------------------------------------------------------- 网格地图 grid map

    async def _open_cases_by_grid(request: Request, session: Session, pages: int = 5) -> dict[str, int]:
        """Open cases per grid, from intake's list (the first ``pages`` × 200 open cases)."""
        counts: dict[str, int] = {}
        for page_index in range(pages):
            params: dict[str, str | int] = {"status": OPEN_STATUSES, "limit": 200, "offset": page_index * 200}
            answer = await call(request, session, "intake", "GET", "/v1/cases", params=params)
            if answer.status_code != 200:
                break
            listing = answer.json()
            for item in listing["items"]:
                if item.get("grid_code"):
                    counts[item["grid_code"]] = counts.get(item["grid_code"], 0) + 1
            if listing.get("next_offset") is None:
                break
        return counts

    @app.get("/map")
    async def grid_map(request: Request, session: SessionDep, grid: str = "") -> Response:
        if not session.has("grid:read"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        answer = await call(request, session, "dispatch", "GET", "/v1/grids/grids.geojson")
        answer.raise_for_status()
        overdue: dict[str, int] = {}
        late = await call(request, session, "dispatch", "GET", "/v1/board/overdue", params={"limit": 500})
        if late.status_code == 200:
            for task in late.json():
                if task.get("grid_code"):
                    overdue[task["grid_code"]] = overdue.get(task["grid_code"], 0) + 1
        from console.screens.maplayers import map_layers, police_card  # the screens import this module

        shapes, frame = draw_framed(answer.json(), await _open_cases_by_grid(request, session), overdue)
        width, height = frame.width, frame.height
        layers = await map_layers(request, session, frame)
        card: dict[str, Any] | None = None
        if grid:
            found = await call(request, session, "dispatch", "GET", f"/v1/grids/{grid}")
            if found.status_code in (403, 404, 422):
                t = translator(_lang(request))
                return page(request, "error.html", 403, message=t("map.forbidden"))
            found.raise_for_status()
            workers = await call(request, session, "dispatch", "GET", "/v1/workers", params={"grid_code": grid})
            cases = await call(
                request, session, "intake", "GET", "/v1/cases", params={"grid": grid, "status": OPEN_STATUSES}
            )
            card = {
                "grid": found.json(),
                "workers": [w for w in workers.json() if w["grid_code"] == grid] if workers.status_code == 200 else [],
                "cases": cases.json()["items"] if cases.status_code == 200 else [],
                "overdue": overdue.get(grid, 0),
                "police": await police_card(request, session, grid),
            }
        return page(
            request,
            "map.html",
            active="map",
            shapes=shapes,
            width=width,
            height=height,
            card=card,
            selected=grid,
            names=_matter_names(await matters(request, session), _lang(request)),
            **layers,
        )

    # ------------------------------------------------------------------------- 矛盾调解 mediation

    @app.get("/mediation")
    async def dispute_board(
        request: Request, session: SessionDep, late: str = "", page_no: int = 1, open: str = ""
    ) -> Response:
        if not session.has("mediation"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        status_filter = request.query_params.get("status", "")
        size = settings.page_size
        page_no = max(page_no, 1)
        params: dict[str, str | int] = {"limit": size + 1, "offset": (page_no - 1) * size}
        if status_filter in DISPUTE_STATUSES:
            params["status"] = status_filter
        if late:
            params["late"] = "true"
        answer = await call(request, session, "mediation", "GET", "/v1/disputes", params=params)
        answer.raise_for_status()
        rows: list[dict[str, Any]] = answer.json()
        detail: dict[str, Any] | None = None
        if open:
            found = await call(request, session, "mediation", "GET", f"/v1/disputes/{open}")
            if found.status_code in (403, 404, 422):
                t = translator(_lang(request))
                return page(request, "error.html", 403, message=t("case.forbidden"))
            found.raise_for_status()
            detail = found.json()
        query = {k: v for k, v in {"status": status_filter, "late": late}.items() if v}
        return page(
            request,
            "mediation.html",
            active="mediation",
            disputes=rows[:size],
            has_next=len(rows) > size,
            page_no=page_no,
            filters={"status": status_filter, "late": late},
            filter_query=urlencode(query),
            statuses=DISPUTE_STATUSES,
            detail=detail,
        )

    # ------------------------------------------------------------------------- 我的任务 my tasks

    @app.get("/tasks")
    async def my_tasks(request: Request, session: SessionDep, error: str = "") -> Response:
        if not session.has("tasks:work"):
            raise HTTPException(status.HTTP_403_FORBIDDEN)
        items: list[dict[str, Any]] = []
        if session.worker_id:
            answer = await call(
                request, session, "dispatch", "GET", "/v1/tasks", params={"assignee": session.worker_id}
            )
            answer.raise_for_status()
            for task in answer.json():
                case = await call(request, session, "intake", "GET", f"/v1/cases/{task['case_id']}")
                items.append({"task": task, "case": case.json() if case.status_code == 200 else None})
        open_states = ("assigned", "accepted")
        names = _matter_names(await matters(request, session), _lang(request))
        return page(
            request,
            "tasks.html",
            active="tasks",
            open_items=[i for i in items if i["task"]["state"] in open_states],
            done_items=[i for i in items if i["task"]["state"] not in open_states],
            names=names,
            error=error,
            visits=await task_work.visits(request, session),
        )

    @app.post("/tasks/{task_id}/accept")
    async def accept_task(
        request: Request, task_id: str, session: SessionDep, csrf: Annotated[str, Form()] = ""
    ) -> Response:
        _check_csrf(session, csrf)
        answer = await call(
            request, session, "dispatch", "POST", f"/v1/tasks/{task_id}/accept", json={"by": session.worker_id}
        )
        return _back_to_tasks(answer)

    @app.post("/tasks/{task_id}/complete")
    async def complete_task(
        request: Request,
        task_id: str,
        session: SessionDep,
        csrf: Annotated[str, Form()] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
        photos: Annotated[list[UploadFile] | None, File()] = None,
    ) -> Response:
        _check_csrf(session, csrf)
        if not note.strip():
            return RedirectResponse("/tasks?" + urlencode({"error": "tasks.note.required"}), 303)
        # the photos first: a refused one leaves the task open, with the reason shown
        refused = await task_photos.upload(request, session, task_id, photos or [])
        if refused is not None:
            return RedirectResponse("/tasks?" + urlencode({"error": refused}), status.HTTP_303_SEE_OTHER)
        body = {"by": session.worker_id, "outcome": "done", "summary": note.strip()}
        answer = await call(request, session, "dispatch", "POST", f"/v1/tasks/{task_id}/complete", json=body)
        return _back_to_tasks(answer)

    def _back_to_tasks(answer: httpx.Response) -> Response:
        if answer.status_code == 200:
            return RedirectResponse("/tasks", status.HTTP_303_SEE_OTHER)
        return RedirectResponse("/tasks?" + urlencode({"error": problem_text(answer)[:200]}), status.HTTP_303_SEE_OTHER)

    # The screens of mediation, policing, video and assessment live in their own modules.
    from console.screens import register

    register(app)

    # Routes of their own modules (imported here: they use this module's helpers; my_tasks above
    # reads task_work's visits through this name when it runs).
    from console import case_actions, task_work
    from console import photos as task_photos

    app.include_router(case_actions.router)
    app.include_router(task_work.router)
    app.include_router(task_photos.router)
    return app

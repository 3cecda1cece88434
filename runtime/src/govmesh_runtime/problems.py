"""Refusals as RFC 9457 problem details (``application/problem+json``), written once for every
service: the model the OpenAPI documents, the table of reasons, and the answer itself.

A problem has ``type`` (a stable URI; ``about:blank`` when the status says it all), ``title``
(the kind of refusal), ``status``, ``detail`` (a sentence for a person), ``instance`` (the
path asked for) and, for field errors, ``errors``: each names the field (``loc`` as FastAPI
writes it, and a JSON ``pointer`` into the body when it is in the body) and the reason
(``msg``, ``type``). Words people read follow ``Accept-Language`` (zh-CN by default,
:mod:`govmesh_runtime.language`)."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from govmesh_kit.language import current_lang
from govmesh_runtime.language import Reasons, localized_detail, localized_errors, title

PROBLEM_JSON = "application/problem+json"

# Stable problem types beyond the status itself (RFC 9457 §4: a URI that does not change).
INVALID_FIELDS = "urn:govmesh:problem:invalid-fields"
DATABASE_UNAVAILABLE = "urn:govmesh:problem:database-unavailable"
EVENT_TOO_LARGE = "urn:govmesh:problem:event-too-large"
RATE_LIMITED = "urn:govmesh:problem:rate-limited"


class FieldError(BaseModel):
    """One field at fault: where (``loc``; ``pointer`` when in the body) and why (``msg``, ``type``)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(examples=[["body", "lat"]])
    msg: str = Field(examples=["不能大于 90"])
    type: str = Field(examples=["less_than_equal"])
    pointer: str | None = Field(default=None, examples=["#/lat"])


class Problem(BaseModel):
    """A refused request (RFC 9457 problem details), in the reader's language."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": INVALID_FIELDS,
                    "title": "请求内容有误",
                    "status": 422,
                    "detail": "lat：不能大于 90",
                    "instance": "/v1/cases",
                    "errors": [
                        {"loc": ["body", "lat"], "msg": "不能大于 90", "type": "less_than_equal", "pointer": "#/lat"}
                    ],
                }
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


_REFUSALS = {
    400: "The body is not well-formed JSON text (e.g. not UTF-8).",
    401: "No credentials.",
    403: "The credentials do not allow this.",
    404: "No such resource.",
    409: "The resource's current state forbids this.",
    422: "A field is missing or invalid: the field and the reason.",
    502: "The device refused the request.",
    504: "The device did not answer in time.",
}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a router or route: the refusals it may answer, each a :class:`Problem`
    (:func:`document_problems` files it under ``application/problem+json``)."""
    return {code: {"model": Problem, "description": _REFUSALS[code]} for code in codes}


def _pointer(loc: list[Any]) -> str | None:
    if len(loc) < 1 or loc[0] != "body":
        return None
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc[1:])


def field_name(loc: list[Any]) -> str:
    parts = loc[1:] if len(loc) > 1 and loc[0] in ("body", "query", "path", "header", "cookie") else loc
    return ".".join(str(part) for part in parts) or str(loc[0] if loc else "")


def problem_body(
    status: int,
    detail: str | list[dict[str, Any]] | Any,
    instance: str | None,
    *,
    type_: str | None = None,
    reasons: Reasons = (),
) -> dict[str, Any]:
    """The problem document of a refusal: ``detail`` a message (worded in the reader's language
    when the catalogue knows it) or a list of field errors ``{loc, msg, type}``."""
    lang = current_lang.get()
    body: dict[str, Any] = {"type": type_ or "about:blank", "title": title(status, lang), "status": status}
    if isinstance(detail, list):
        items = [e if isinstance(e, dict) else _from_text(str(e)) for e in detail]
        errors = [_field_error(e) for e in localized_errors(items, reasons)]
        sep, colon = ("; ", ": ") if lang == "en" else ("；", "：")
        body["type"] = type_ or INVALID_FIELDS
        body["detail"] = sep.join(f"{field_name(e['loc'])}{colon}{e['msg']}" for e in errors) or title(status, lang)
        body["instance"] = instance
        body["errors"] = errors
    else:
        text = detail if isinstance(detail, str) else json.dumps(jsonable_encoder(detail), ensure_ascii=False)
        body["detail"] = localized_detail(text, reasons)
        body["instance"] = instance
    return body


def _from_text(text: str) -> dict[str, Any]:
    """A field error a service wrote as text, ``"shifts[0]: overlaps …"``: the field, the reason."""
    field, sep, reason = text.partition(": ")
    if sep and field and " " not in field:
        return {"loc": ["body", field], "msg": reason, "type": "value_error"}
    return {"loc": ["body"], "msg": text, "type": "value_error"}


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc") or [])
    kept = {k: v for k, v in error.items() if k not in ("ctx", "url")}
    kept["loc"] = loc
    kept.setdefault("type", "value_error")
    kept["msg"] = str(error.get("msg", ""))
    pointer = _pointer(loc)
    if pointer is not None:
        kept["pointer"] = pointer
    return kept


def _encode(body: dict[str, Any]) -> bytes:
    encoded = jsonable_encoder(body, custom_encoder={float: _finite_or_text})
    return json.dumps(encoded, ensure_ascii=False, separators=(",", ":")).encode()


def _finite_or_text(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


class ProblemResponse(Response):
    media_type = PROBLEM_JSON

    def __init__(self, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(_encode(body), status_code=int(body["status"]), headers=headers)


def problem_response(
    request: Request,
    status: int,
    detail: str | list[dict[str, Any]] | Any,
    *,
    headers: Mapping[str, str] | None = None,
    type_: str | None = None,
) -> Response:
    reasons: Reasons = getattr(request.app.state, "field_reasons", ())
    return ProblemResponse(problem_body(status, detail, request.url.path, type_=type_, reasons=reasons), headers)


async def refuse_in_asgi(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str | list[dict[str, Any]], **extra: Any
) -> None:
    """A middleware's refusal (before any route runs), as a problem."""
    headers = extra.pop("headers", None)
    body = problem_body(status, detail, str(scope.get("path", "")), **extra)
    await ProblemResponse(body, headers)(scope, receive, send)


ErrorFormat = Callable[[Request, Exception], Awaitable[Response]]


def own_error_format(request: Request) -> ErrorFormat | None:
    """A path whose protocol has its own error format (Open311's GeoReport errors)."""
    formats: Mapping[str, ErrorFormat] = getattr(request.app.state, "error_formats", {})
    for prefix, handler in formats.items():
        if request.url.path.startswith(prefix):
            return handler
    return None


async def http_errors(request: Request, exc: Exception) -> Response:
    """Every ``HTTPException`` (a route's, the runtime's, a domain error's) as a problem."""
    assert isinstance(exc, HTTPException)
    own = own_error_format(request)
    if own is not None:
        return await own(request, exc)
    if exc.status_code < 400 or exc.status_code in (204, 304):  # not a refusal: no body to write
        return Response(status_code=exc.status_code, headers=exc.headers)
    type_ = RATE_LIMITED if exc.status_code == 429 else None
    return problem_response(request, exc.status_code, exc.detail, headers=exc.headers, type_=type_)


def document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what the service answers: each refusal is a :class:`Problem`
    under ``application/problem+json`` (FastAPI files a response model under ``application/json``
    and documents its own ``HTTPValidationError`` for a 422)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = plain()
        ref = "#/components/schemas/Problem"
        own = tuple(getattr(app.state, "error_formats", {}))
        for path, item in document.get("paths", {}).items():
            if own and path.startswith(own):  # a protocol with its own error format documents it
                continue
            for operation in item.values():
                for code, response in (operation.get("responses") or {}).items():
                    if str(code)[:1] in ("4", "5"):
                        response["content"] = _problem_content(int(code), path, response.get("content") or {}, ref)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        if "Problem" not in schemas:
            schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schemas["Problem"].pop("$defs", {}))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_content(status: int, path: str, content: dict[str, Any], ref: str) -> dict[str, Any]:
    """A refusal's documented content: a Problem; an example written as ``{"detail": …}`` is
    shown as the problem it becomes (in English, as ``Accept-Language: en`` answers)."""
    media: dict[str, Any] = {"schema": {"$ref": ref}}
    example = (content.get("application/json") or content.get(PROBLEM_JSON) or {}).get("example")
    if isinstance(example, dict) and "detail" in example and "status" not in example:
        token = current_lang.set("en")
        try:
            example = problem_body(status, example["detail"], path)
        finally:
            current_lang.reset(token)
    if example is not None:
        media["example"] = example
    return {PROBLEM_JSON: media}

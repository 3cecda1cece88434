"""Every service refuses in RFC 9457 problem details (``application/problem+json``), in the
reader's language: Chinese unless ``Accept-Language`` asks for English (issue 17 item 5, issue 18
item 4). The service runs in-process with its own SQLite database on the real broker."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support import ADMIN

EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
TOKEN = {"Authorization": ADMIN["Authorization"]}  # no Accept-Language: the default, Chinese

# (service, a list route with a bounded ?limit=, an unknown resource, settings of the test)
SERVICES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("intake", "/v1/cases", f"/v1/cases/{uuid.uuid4()}", {}),
    ("dispatch", "/v1/workers", f"/v1/tasks/{uuid.uuid4()}", {"timer_scan_interval_s": 3600}),
    ("mediation", "/v1/studios", f"/v1/disputes/{uuid.uuid4()}", {"sweep_interval_s": 3600}),
    ("policing", "/v1/tasks", f"/v1/tasks/{uuid.uuid4()}", {}),
    ("video_bridge", "/v1/devices", "/v1/devices/34020000001320000099", {"sip_enabled": False}),
]


def _settings(service: str, tmp_path: Path, kafka: str, extra: dict[str, Any]) -> Any:
    module = importlib.import_module(f"{service}.settings")
    cls = next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings") and isinstance(value, type) and value.__module__ == module.__name__
    )
    return cls(data_dir=tmp_path, kafka_bootstrap_servers=kafka, consumers_enabled=False, **extra)


@pytest.fixture(params=SERVICES, ids=[s[0] for s in SERVICES])
async def service(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    name, listing, unknown, extra = request.param
    create_app: Callable[..., FastAPI] = importlib.import_module(f"{name}.bootstrap").create_app
    app = create_app(_settings(name, tmp_path, kafka_bootstrap, extra))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        yield http, listing, unknown


def _problem(answer: httpx.Response, status: int, instance: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status and problem["instance"] == instance
    assert problem["type"] and problem["title"] and problem["detail"]
    return problem


async def test_a_bad_field_is_a_problem_naming_it_in_chinese_by_default_and_in_english_on_request(
    service: tuple[httpx.AsyncClient, str, str],
) -> None:
    http, listing, _ = service
    chinese = _problem(await http.get(listing, params={"limit": 0}, headers=TOKEN), 422, listing)
    assert chinese["title"] == "请求内容有误"
    assert [(e["loc"], e["msg"]) for e in chinese["errors"]] == [(["query", "limit"], "不能小于 1")]
    assert chinese["detail"] == "limit：不能小于 1"
    english = _problem(await http.get(listing, params={"limit": 0}, headers={**TOKEN, **EN}), 422, listing)
    assert english["title"] == "Invalid fields"
    assert [(e["loc"], e["msg"]) for e in english["errors"]] == [
        (["query", "limit"], "Input should be greater than or equal to 1")
    ]


async def test_the_runtimes_refusals_are_problems_in_the_readers_language(
    service: tuple[httpx.AsyncClient, str, str],
) -> None:
    http, listing, unknown = service
    missing = _problem(await http.get(listing), 401, listing)
    assert missing["detail"].startswith("需要凭据") and missing["title"] == "未通过身份认证"
    assert _problem(await http.get(listing, headers=EN), 401, listing)["detail"].startswith("credential required")
    not_found = _problem(await http.get(unknown, headers=TOKEN), 404, unknown)
    assert not_found["title"] == "未找到" and not_found["type"] == "about:blank"
    assert _problem(await http.get(unknown, headers={**TOKEN, **ZH}), 404, unknown)["title"] == "未找到"
    assert _problem(await http.get(unknown, headers={**TOKEN, **EN}), 404, unknown)["title"] == "Not found"

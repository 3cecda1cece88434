"""What every OpenAPI fuzz test shares: schemathesis against one service in-process (ASGI).

Each service's app runs with its real lifespan (database, migrations, Kafka producer on the
test broker) in schemathesis's ASGI event loop; schemathesis generates valid and invalid
requests for every operation of the service's OpenAPI document and checks each answer:

- ``not_a_server_error``: no 5xx, whatever the input;
- ``status_code_conformance``: the status code is one the operation documents;
- ``content_type_conformance``: the content type is one the operation documents;
- ``response_schema_conformance``: the body matches the documented schema;
- ``response_headers_conformance``: documented headers are present and well-formed.

Each service runs on both backends (``GOVMESH_FUZZ_BACKENDS``, default ``sqlite,postgres``):
PostgreSQL refuses what SQLite takes (NUL characters, integers past 64 bits), and that is
where production runs. The size is bounded for CI (``GOVMESH_FUZZ_EXAMPLES`` examples per
operation, 25 by default); set it higher for a longer run. Hypothesis runs derandomised
(schemathesis's own strategies still draw on ``random``, so two runs may differ a little);
every failure prints a ``curl`` line that replays it.

Each operation is one pytest test, driven here with ``@given(operation.as_strategy())``
rather than by schemathesis's lazy ``from_fixture`` loader, which fails under pytest 9.2
(it rewrites ``node._nodeid``, which pytest 9.2 no longer has). Schemathesis's pytest plugin
still ends the app's lifespan after each test; the next request starts it again on the
same database, so seeded data stays.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

MAX_EXAMPLES = int(os.environ.get("GOVMESH_FUZZ_EXAMPLES", "25"))

CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# deadline off: one request goes through a real database; the health checks about slow or
# filtered data do not apply to a bounded, derandomised run against a live service.
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

T = TypeVar("T")
Seed = Callable[[Any], dict[str, str]]


BACKENDS = os.environ.get("GOVMESH_FUZZ_BACKENDS", "sqlite,postgres").split(",")


@contextmanager
def database(backend: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A new, empty database of the backend for one service's run (PostgreSQL: dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'fuzz.sqlite'}"
        return
    server: str = request.getfixturevalue("postgres_server")
    name = f"fuzz_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(app: FastAPI, *, seed: Seed | None = None) -> tuple[OpenApiSchema, dict[str, str]]:
    """The app's OpenAPI document, loaded through the app itself (which starts its lifespan);
    ``seed(session)`` then puts data in place with a requests-like session and returns the
    ids it made (path parameter → id). The data stays in the service's database: schemathesis
    ends the lifespan after each test and the next request starts it again."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    known: dict[str, str] = {}
    if seed is not None:
        with asgi.get_client(app) as session:  # type: ignore[arg-type]  # FastAPI is an ASGI app
            known = seed(session)
    return schema, known


def in_app_loop(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work()`` in the event loop the app's lifespan runs in (to call a handler directly,
    e.g. to open a task as if its event had arrived)."""
    result: T = asgi._get_portal().call(work)
    return result


def stop() -> None:
    """Shut the started apps down (their lifespans: consumers, relay, producer, database)."""
    asgi.shutdown_lifespans()


def operations(app: FastAPI) -> list[str]:
    """``"METHOD /path"`` of every operation in the app's OpenAPI document (for parametrize)."""
    return [
        f"{method.upper()} {path}"
        for path, methods in app.openapi()["paths"].items()
        for method in methods
        if method in ("get", "put", "post", "patch", "delete")
    ]


def fuzz(
    schema: OpenApiSchema,
    operation: str,
    *,
    headers: dict[str, str] | None = None,
    known: dict[str, str] | None = None,
) -> None:
    """Valid and invalid requests for one operation; every answer through every check.

    ``known`` maps path parameters to ids that exist (seeded): half the requests then go to
    real resources, so the fuzzing reaches past "404 not found". Fails with the first
    (shrunk) request whose answer breaks a check, and how to replay it."""
    method, path = operation.split(" ", 1)
    api_operation = schema[path][method]
    fixed = {name: value for name, value in (known or {}).items() if "{" + name + "}" in path}
    strategies = [
        api_operation.as_strategy(generation_mode=mode, path_parameters=overrides)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for overrides in ([None, fixed] if fixed else [None])
    ]
    strategy = st.one_of(strategies)

    @FUZZ
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    with warnings.catch_warnings():
        # schemathesis's own strategies use `random` (a deprecation hypothesis reports on them)
        warnings.simplefilter("ignore", HypothesisDeprecationWarning)
        run()

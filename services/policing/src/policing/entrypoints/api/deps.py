"""Dependencies shared by policing's routers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from govmesh_runtime.app import Runtime, get_runtime, runtime_dependency
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from policing.adapters.repository import GridIndexCache
from policing.domain.jurisdiction import ReferenceDataError
from policing.domain.tasks import InvalidTransition, TaskRuleError
from policing.handlers import NotFound
from policing.settings import PolicingSettings

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
_bearer = HTTPBearer(auto_error=False, description="The policing scope (static token until issue 9).")


def require_policing_scope(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Stand-in for the policing scope until authentication (issue 9): a static bearer token
    from ``POLICING_API_TOKEN``. Empty setting = nobody has the scope (fail closed)."""
    settings: PolicingSettings = get_runtime(request).settings  # type: ignore[assignment]
    expected = settings.api_token.get_secret_value()
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Authorization: a bearer token with the policing scope is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not expected or not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="Authorization: the token does not carry the policing scope"
        )


PolicingScope = Depends(require_policing_scope)


def get_grid_cache(request: Request) -> GridIndexCache:
    cache: GridIndexCache = request.app.state.grid_cache
    return cache


GridsDep = Annotated[GridIndexCache, Depends(get_grid_cache)]


@contextmanager
def domain_errors() -> Iterator[None]:
    """Domain refusals as HTTP answers: 404 unknown, 409 wrong state, 422 bad field (named)."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except TaskRuleError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except ReferenceDataError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=exc.problems) from exc

"""One pagination style for every list: ``{"items": [...], "next_cursor": "…" | null}``.

A page is asked with ``?limit=`` (bounded by the route) and ``?cursor=`` (the ``next_cursor`` of
the page before). The cursor is opaque to clients and keyset-based inside: the sort values of
the last row given, so a page never repeats or skips a row when rows are added meanwhile (an
offset did). It carries a checksum: a cursor that was edited, truncated or made up is refused
with a 422 naming ``cursor`` — integrity, not secrecy (it only says where the next page starts)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")

_KEY = b"govmesh-cursor-v1"  # a checksum key, not a secret: see the module's docstring
CURSOR_QUERY = Query(
    max_length=512,
    description="The `next_cursor` of the previous page; absent for the first page.",
    examples=["WyIyMDI2LTExLTI1VDA4OjMwOjAwWiIsIjQyIl0.q3Fh5cK9"],
)
INVALID = "not a cursor this list gave: pass next_cursor of the previous page as it came"


class Page(BaseModel, Generic[T]):
    """A page of a list: the rows, and the cursor of the next page (null on the last)."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page.", examples=[None]
    )


def encode_cursor(values: Sequence[Any]) -> str:
    """The cursor after a row whose sort values are ``values`` (text, numbers, datetimes, None)."""
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v for v in values]
    text = json.dumps(plain, separators=(",", ":"))
    data = base64.urlsafe_b64encode(text.encode()).rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(_KEY, data, hashlib.sha256).digest()[:9])
    return f"{data.decode()}.{mac.decode()}"


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort values a cursor holds (None for the first page); a 422 naming ``cursor`` when it
    is not one this list gave."""
    if cursor is None:
        return None
    try:
        data, mac = cursor.encode("ascii").split(b".")
        expected = base64.urlsafe_b64encode(hmac.new(_KEY, data, hashlib.sha256).digest()[:9])
        if not hmac.compare_digest(mac, expected):
            raise ValueError("checksum")
        values = json.loads(base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4)))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("arity")
    except (ValueError, UnicodeError, RecursionError):
        raise HTTPException(422, detail=[{"loc": ["query", "cursor"], "msg": INVALID, "type": "cursor"}]) from None
    return values


def after(columns: Sequence[Any], values: Sequence[Any] | None, *, descending: bool = False) -> ColumnElement[bool]:
    """The keyset condition: rows strictly after ``values`` in the order of ``columns`` (all
    ascending, or all descending); true for the first page. Columns must not be null."""
    if values is None:
        return and_(True)
    clauses = []
    for i, column in enumerate(columns):
        value = _as_column_value(column, values[i])
        beyond = column < value if descending else column > value
        clauses.append(
            and_(*[c == _as_column_value(c, v) for c, v in zip(columns[:i], values[:i], strict=True)], beyond)
        )
    return or_(*clauses)


def _as_column_value(column: Any, value: Any) -> Any:
    python_type = None
    with contextlib.suppress(AttributeError, NotImplementedError):
        python_type = column.type.python_type
    if python_type is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if python_type is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    return value


def page(items: list[T], rows: Sequence[Any], limit: int, key: Any) -> Page[T]:
    """The page of ``items`` (made from ``rows``, fetched with ``limit + 1``): the extra row says
    there is a next page, whose cursor is the ``key(row)`` of the last row given."""
    more = len(rows) > limit
    return Page[T](items=items[:limit], next_cursor=encode_cursor(key(rows[limit - 1])) if more else None)

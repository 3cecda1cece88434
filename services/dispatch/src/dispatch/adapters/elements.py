"""Bulk import of six-category element records (``elements.csv``) at database speed:
COPY into a staging table and one upsert on PostgreSQL; executemany batches on SQLite."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.domain.codes import CodeError, parse_grid_code
from dispatch.domain.elements import ElementCategory

COLUMNS = ("element_id", "grid_code", "category", "name", "attributes")
BATCH = 20_000


class ElementImportError(ValueError):
    pass


CATEGORIES = frozenset(c.value for c in ElementCategory)


class _Validator:
    """Row checks at CSV speed: each grid code is parsed once; attributes are checked to be
    a JSON object and kept as given (no re-serialisation)."""

    def __init__(self) -> None:
        self.grids: set[str] = set()

    def __call__(
        self, element_id: str, grid_code: str, category: str, name: str, attributes: str, where: str
    ) -> tuple[str, str, str, str, str]:
        if not element_id or len(element_id) > 64:
            raise ElementImportError(f"{where}: element_id must be 1-64 characters")
        if grid_code not in self.grids:
            try:
                parse_grid_code(grid_code)
            except CodeError as exc:
                raise ElementImportError(f"{where}: {exc}") from None
            self.grids.add(grid_code)
        if category not in CATEGORIES:
            raise ElementImportError(f"{where}: category {category!r} must be one of {', '.join(CATEGORIES)}")
        attributes = attributes or "{}"
        try:
            parsed = json.loads(attributes)
        except json.JSONDecodeError as exc:
            raise ElementImportError(f"{where}: attributes_json is not JSON: {exc.msg}") from None
        if not isinstance(parsed, dict):
            raise ElementImportError(f"{where}: attributes_json must be a JSON object")
        return element_id, grid_code, category, name[:200], attributes


def read_csv(stream: TextIO) -> Iterator[tuple[str, str, str, str, str]]:
    reader = csv.reader(stream)
    header = next(reader, None)
    expected = ["element_id", "grid_code", "category", "name", "attributes_json"]
    if header is None or header[:5] != expected:
        raise ElementImportError(f"elements.csv: the header must be {','.join(expected)}")
    validate = _Validator()
    for line, row in enumerate(reader, start=2):
        if len(row) != 5:
            raise ElementImportError(f"line {line}: 5 fields expected, got {len(row)}")
        yield validate(row[0], row[1], row[2], row[3], row[4], f"line {line}")


def _batches(rows: Iterable[tuple[str, ...]], size: int) -> Iterator[list[tuple[str, ...]]]:
    batch: list[tuple[str, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def bulk_upsert(session: AsyncSession, rows: Iterable[tuple[str, ...]]) -> int:
    """Insert or replace element rows; the caller commits (one transaction: all or nothing)."""
    connection = await session.connection()
    total = 0
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text("SELECT 1"))  # the driver transaction is open: COPY joins it
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        if await driver.fetchval("SELECT NOT EXISTS (SELECT 1 FROM dispatch_elements)"):
            # first load: COPY straight into the table (a repeated id fails the whole load)
            try:
                for batch in _batches(rows, BATCH):
                    await driver.copy_records_to_table("dispatch_elements", records=batch, columns=list(COLUMNS))
                    total += len(batch)
            except Exception as exc:
                if type(exc).__name__ == "UniqueViolationError":
                    raise ElementImportError(f"an element_id appears twice: {exc}") from None
                raise
            return total
        await driver.execute(
            "CREATE TEMP TABLE IF NOT EXISTS elements_staging (LIKE dispatch_elements INCLUDING DEFAULTS)"
        )
        await driver.execute("TRUNCATE elements_staging")
        for batch in _batches(rows, BATCH):
            await driver.copy_records_to_table("elements_staging", records=batch, columns=list(COLUMNS))
            total += len(batch)
        await driver.execute(
            "INSERT INTO dispatch_elements SELECT DISTINCT ON (element_id) * FROM elements_staging "
            "ON CONFLICT (element_id) DO UPDATE SET grid_code = EXCLUDED.grid_code, category = EXCLUDED.category, "
            "name = EXCLUDED.name, attributes = EXCLUDED.attributes"
        )
        await driver.execute("TRUNCATE elements_staging")
        return total
    statement = sa.text(
        "INSERT OR REPLACE INTO dispatch_elements (element_id, grid_code, category, name, attributes) "
        "VALUES (:element_id, :grid_code, :category, :name, :attributes)"
    )
    for batch in _batches(rows, BATCH):
        await connection.execute(statement, [dict(zip(COLUMNS, row, strict=True)) for row in batch])
        total += len(batch)
    return total


async def import_elements_file(
    session: AsyncSession, path: Path, progress: Callable[[int, float], None] | None = None
) -> int:
    """Upsert every row of the file; ``progress(rows read, fraction of the file read)`` now and then."""
    size = max(path.stat().st_size, 1)  # noqa: ASYNC240 - a CLI's import, not a request path
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as stream:
        rows: Iterable[tuple[str, ...]] = read_csv(stream)
        if progress is not None:
            rows = _reported(rows, lambda done: progress(done, raw.tell() / size))
        return await bulk_upsert(session, rows)


def _reported(
    rows: Iterable[tuple[str, ...]], report: Callable[[int], None], every: int = 5_000
) -> Iterator[tuple[str, ...]]:
    for done, row in enumerate(rows, start=1):
        yield row
        if done % every == 0:
            report(done)

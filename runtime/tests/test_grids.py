"""The one grid store: GeoJSON import refusals, the point → grid index, and its version — an
import by one process is seen by every other on its next lookup (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from govmesh_runtime.db import Database
from govmesh_runtime.geo import GeoJSONError
from govmesh_runtime.grids import GridFields, GridStore, GridVersionFields, parse_features


class _Base(SQLModel, registry=registry()):
    pass


class Grid(GridFields, _Base, table=True):
    __tablename__ = "grids"

    name: str | None = Field(default=None, max_length=200)


class Version(GridVersionFields, _Base, table=True):
    __tablename__ = "reference_version"


def square(code: str, x: float, y: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    geometry = {"type": "Polygon", "coordinates": [ring]}
    return {"type": "Feature", "properties": {"grid_code": code}, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "must be a GeoJSON FeatureCollection object"),
        (collection(), "at least one grid is required"),
        (collection(square("A", 100.0, 38.0), square("A", 100.1, 38.0)), r"features\[1\]: grid_code A appears twice"),
        ({"type": "FeatureCollection", "features": [{"properties": {}, "geometry": None}]}, "grid_code is missing"),
    ],
)
def test_a_bad_grid_document_is_refused_naming_the_feature(document: Any, reason: str) -> None:
    with pytest.raises(GeoJSONError, match=reason):
        parse_features(document)


@pytest.mark.integration
async def test_an_import_by_one_process_is_seen_by_every_other(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)
        importer, other = GridStore(Grid, Version), GridStore(Grid, Version)
        async with db.sessions() as session:
            assert await other.get(session) is None and other.locate(38.005, 100.005) is None
            features = parse_features(collection(square("A", 100.0, 38.0), square("B", 100.01, 38.0)))
            rows = [{"grid_code": f.grid_code, "geometry": f.geometry, "name": None} for f in features]
            assert await importer.replace(session, rows) == 2
            await session.commit()
        async with db.sessions() as session:
            index = await other.get(session)  # another process: rebuilt because the version moved on
        assert index is not None and len(other) == 2
        assert other.locate(38.005, 100.005) == "A" and other.locate(38.005, 100.015) == "B"
        assert other.locate_many([(38.005, 100.015), (10.0, 10.0)]) == ["B", None]

        async with db.sessions() as session:  # an upsert keeps the grids it does not name
            moved = parse_features(collection(square("A", 100.0, 38.02)))
            await importer.upsert(session, [{"grid_code": "A", "geometry": moved[0].geometry, "name": "a"}])
            await session.commit()
        assert other.locate(38.005, 100.005) == "A"  # not asked yet: the index it had
        async with db.sessions() as session:
            await other.get(session)
            assert await other.stored_version(session) == 2
        assert other.locate(38.005, 100.005) is None and other.locate(38.025, 100.005) == "A"
        assert other.locate(38.005, 100.015) == "B"
    finally:
        await db.dispose()

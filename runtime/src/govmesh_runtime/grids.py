"""One grid store: the grid table's columns, GeoJSON import, and the point → grid index, versioned.

Dispatch (the grid registry), policing and the video bridge each keep the city's grid
boundaries in a table of their own database (services never read each other's); the table's
columns, the import and the index are written here once. Each service declares its tables
on its own metadata from ``GridFields`` and ``GridVersionFields`` and builds a ``GridStore``
over them.

Versioned: every import bumps the ``grids`` row of the version table in the import's
transaction, so each process (and each instance of a service) rebuilds its index when it
next asks for it (``get``), instead of only the process that imported.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from shapely import from_geojson
from shapely.geometry.base import BaseGeometry
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.clock import system_clock
from govmesh_runtime.geo import GeoJSONError, GeometryRules, GridIndex, geometry_problems
from govmesh_runtime.types import UtcDateTime

GRIDS_VERSION = "grids"  # the version table's row for the grid boundaries
_CHUNK = 500


class GridFields(SQLModel):
    """The columns every service's grid table has: the code and its boundary (a GeoJSON geometry)."""

    grid_code: str = Field(max_length=32, primary_key=True)
    geometry: str = Field(sa_type=sa.Text, nullable=False, description="GeoJSON geometry")


class GridVersionFields(SQLModel):
    """A reference data set's version, bumped by every import of it (the table ``reference_version``)."""

    name: str = Field(max_length=32, primary_key=True)
    version: int = 0
    imported_at: datetime = Field(default_factory=system_clock, sa_type=UtcDateTime, nullable=False)


@dataclass(frozen=True)
class GridFeature:
    """One grid of an imported FeatureCollection: its code, properties and geometry (GeoJSON text)."""

    grid_code: str
    properties: Mapping[str, Any]
    geometry: str
    shape: BaseGeometry


def parse_features(collection: Any) -> list[GridFeature]:
    """A GeoJSON FeatureCollection of valid (Multi)Polygons, each with ``properties.grid_code``,
    at least one, no code twice. Raises ``GeoJSONError`` naming the feature and the reason."""
    if not isinstance(collection, Mapping):
        raise GeoJSONError("must be a GeoJSON FeatureCollection object")
    index = GridIndex.from_geojson(collection)  # type, grid_code and geometry of each feature
    shapes = dict(zip(index.codes, index.geometries, strict=True))
    features: list[GridFeature] = []
    seen: set[str] = set()
    for number, feature in enumerate(collection.get("features") or []):
        code = str(feature["properties"]["grid_code"])
        if code in seen:
            raise GeoJSONError(f"features[{number}]: grid_code {code} appears twice")
        seen.add(code)
        geometry = json.dumps(feature["geometry"], separators=(",", ":"))
        features.append(GridFeature(code, feature["properties"], geometry, shapes[code]))
    if not features:
        raise GeoJSONError("features: at least one grid is required")
    return features


class GridStore:
    """A service's grids: import into its grid table, and the point → grid index of this process,
    rebuilt whenever the stored version moved on."""

    def __init__(self, table: type[GridFields], version_table: type[GridVersionFields]) -> None:
        self.table = table
        self.version_table = version_table
        self.index: GridIndex | None = None
        self._version: int | None = None
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else 0

    # --- the index -------------------------------------------------------------------------

    def locate(self, lat: float | None, lon: float | None) -> str | None:
        """The grid of a point by the index as last loaded (None: no grids, no point, or outside all)."""
        if self.index is None or lat is None or lon is None:
            return None
        return self.index.locate(lat, lon)

    def locate_many(self, points: Sequence[tuple[float, float]]) -> list[str | None]:
        if self.index is None:
            return [None] * len(points)
        return self.index.locate_many(points)

    async def stored_version(self, session: AsyncSession) -> int:
        row = await session.get(self.version_table, GRIDS_VERSION)
        return row.version if row is not None else 0

    async def get(self, session: AsyncSession) -> GridIndex | None:
        """The index of the stored grids, rebuilt first if an import (of any process) bumped the version."""
        version = await self.stored_version(session)
        if version != self._version:
            async with self._lock:
                if version != self._version:
                    await self._load(session, version)
        return self.index

    async def load(self, session: AsyncSession) -> int:
        """Rebuild the index from the stored grids now; answers how many there are."""
        async with self._lock:
            await self._load(session, await self.stored_version(session))
        return len(self)

    async def _load(self, session: AsyncSession, version: int) -> None:
        # Each geometry is parsed by GEOS straight from its stored GeoJSON text, in pages: the
        # city's 7,452 grids as Python dicts and ORM rows first cost ~16 MB of resident memory
        # that stayed (the fix the video bridge had alone).
        grids: list[tuple[str, BaseGeometry]] = []
        table: Any = self.table
        statement = select(col(table.grid_code), col(table.geometry)).order_by(col(table.grid_code))
        result = await session.stream(statement.execution_options(yield_per=_CHUNK))
        async for code, geometry in result:
            grids.append((code, from_geojson(geometry)))
        self.index = await asyncio.to_thread(GridIndex, grids) if grids else None
        self._version = version

    # --- imports ---------------------------------------------------------------------------

    async def codes(self, session: AsyncSession) -> set[str]:
        return set((await session.exec(select(col(self.table.grid_code)))).all())

    async def check_geometry(
        self, session: AsyncSession, features: Sequence[GridFeature], rules: GeometryRules, *, keep_others: bool
    ) -> list[str]:
        """The geometry problems of an import (overlaps, leaving the city's outline), codes named;
        ``keep_others``: the import keeps the stored grids it does not name, so they count too."""
        others: list[tuple[str, BaseGeometry]] = []
        if keep_others:
            imported = {feature.grid_code for feature in features}
            table: Any = self.table
            stored = (await session.exec(select(col(table.grid_code), col(table.geometry)))).all()
            others = [(code, from_geojson(geometry)) for code, geometry in stored if code not in imported]
        return geometry_problems([(f.grid_code, f.shape) for f in features], rules, others=others)

    async def replace(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
        """The stored grids become ``rows`` (the table's columns), in the caller's transaction."""
        await session.exec(delete(self.table))  # type: ignore[call-overload]
        return await self.upsert(session, rows)

    async def upsert(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
        """Replace the stored grids with the same codes, add the others (chunked); bumps the version."""
        table: Any = self.table
        for start in range(0, len(rows), _CHUNK):
            chunk = list(rows[start : start + _CHUNK])
            await session.exec(delete(table).where(col(table.grid_code).in_([r["grid_code"] for r in chunk])))
            await (await session.connection()).execute(sa.insert(table), chunk)
        await self.bump(session)
        return len(rows)

    async def bump(self, session: AsyncSession) -> int:
        """A new version of the grids (every process rebuilds its index on its next ``get``)."""
        row = await session.get(self.version_table, GRIDS_VERSION)
        if row is None:
            row = self.version_table(name=GRIDS_VERSION, version=0)
        row.version += 1
        row.imported_at = system_clock()
        session.add(row)
        await session.flush()
        return row.version

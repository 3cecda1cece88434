"""The grid boundaries this service keeps (imported grids.geojson) and point → grid lookup."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime.geo import GeoJSONError, GeometryRules, GridIndex, geometry_problems
from video_bridge.adapters.tables import GridRow


class GridLocator:
    """Holds the current GridIndex (None until grids are imported)."""

    def __init__(self) -> None:
        self.index: GridIndex | None = None

    def locate(self, lat: float | None, lon: float | None) -> str | None:
        if self.index is None or lat is None or lon is None:
            return None
        return self.index.locate(lat, lon)

    def locate_many(self, points: list[tuple[float, float]]) -> list[str | None]:
        if self.index is None:
            return [None] * len(points)
        return self.index.locate_many(points)

    async def load(self, session: AsyncSession) -> int:
        """The stored grids (validated when imported) into the index. Each geometry is parsed
        by GEOS straight from its stored GeoJSON text, in pages: the city's 7,452 grids as
        Python dicts and ORM rows first cost ~16 MB of resident memory that stayed."""
        grids: list[tuple[str, BaseGeometry]] = []
        statement = select(col(GridRow.grid_code), col(GridRow.geometry)).order_by(col(GridRow.grid_code))
        result = await session.stream(statement.execution_options(yield_per=500))
        async for code, geometry in result:
            grids.append((code, shapely.from_geojson(geometry)))
        self.index = GridIndex(grids) if grids else None
        return len(grids)


async def import_grids(
    session: AsyncSession,
    collection: Mapping[str, Any],
    rules: GeometryRules | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace the stored grid boundaries with a GeoJSON FeatureCollection (validated first: no
    grids overlapping or leaving the city's outline beyond the tolerance, codes named)."""
    index = GridIndex.from_geojson(collection)  # raises GeoJSONError naming the feature and the reason
    features = collection.get("features") or []
    if not features:
        raise GeoJSONError("features: at least one grid is required")
    problems = geometry_problems(list(zip(index.codes, index.geometries, strict=True)), rules or GeometryRules())
    if problems:
        raise GeoJSONError("; ".join(problems))
    await session.exec(delete(GridRow))  # type: ignore[call-overload]
    seen: set[str] = set()
    for done, feature in enumerate(features, start=1):
        code = str(feature["properties"]["grid_code"])
        if code in seen:
            raise GeoJSONError(f"grid_code {code} appears twice")
        seen.add(code)
        session.add(GridRow(grid_code=code, geometry=json.dumps(feature["geometry"])))
        if progress is not None and (done % 500 == 0 or done == len(features)):
            progress(done)
    return len(features)


async def grid_codes(session: AsyncSession) -> set[str]:
    return set((await session.exec(select(col(GridRow.grid_code)))).all())

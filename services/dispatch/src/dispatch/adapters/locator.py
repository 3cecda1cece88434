"""The in-memory point → grid index, built from the grid table and rebuilt on import."""

from __future__ import annotations

import asyncio
import json

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters import metrics
from dispatch.adapters.tables import GridRow
from govmesh_runtime.geo import GridIndex


class GridLocator:
    """Holds the current ``GridIndex``; a new index replaces the old one atomically."""

    def __init__(self) -> None:
        self._index = GridIndex([])
        self.functions: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._index)

    def locate(self, lat: float, lon: float) -> str | None:
        return self._index.locate(lat, lon) if len(self._index) else None

    def locate_many(self, points: list[tuple[float, float]]) -> list[str | None]:
        return self._index.locate_many(points) if len(self._index) else [None] * len(points)

    async def reload(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            rows = (await session.exec(select(GridRow.grid_code, GridRow.function, GridRow.geometry))).all()

        def build() -> GridIndex:
            grids: list[tuple[str, BaseGeometry]] = [(code, shape(json.loads(geom))) for code, _, geom in rows]
            return GridIndex(grids)

        self._index = await asyncio.to_thread(build)
        self.functions = {code: function for code, function, _ in rows}
        metrics.GRIDS_INDEXED.set(len(self._index))

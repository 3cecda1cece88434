"""The grid boundaries this service keeps (imported grids.geojson) and point → grid lookup:
the runtime's grid store over this service's own tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.clock import system_clock
from govmesh_runtime.geo import GeoJSONError, GeometryRules
from govmesh_runtime.grids import GridStore, parse_features
from video_bridge.adapters.tables import GridRow, ReferenceVersionRow


class GridLocator(GridStore):
    """Holds the current GridIndex (None until grids are imported)."""

    def __init__(self) -> None:
        super().__init__(GridRow, ReferenceVersionRow)


async def import_grids(
    session: AsyncSession,
    collection: Mapping[str, Any],
    rules: GeometryRules | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace the stored grid boundaries with a GeoJSON FeatureCollection (validated first: no
    grids overlapping or leaving the city's outline beyond the tolerance, codes named)."""
    features = parse_features(collection)  # raises GeoJSONError naming the feature and the reason
    store = GridLocator()
    problems = await store.check_geometry(session, features, rules or GeometryRules(), keep_others=False)
    if problems:
        raise GeoJSONError("; ".join(problems))
    now = system_clock()
    rows = [{"grid_code": f.grid_code, "geometry": f.geometry, "imported_at": now} for f in features]
    count = await store.replace(session, rows)
    if progress is not None:
        progress(count)
    return count

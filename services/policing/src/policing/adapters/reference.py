"""Reading the city generator's grids.geojson into grid rows (the runtime's grid store parses and checks it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govmesh_runtime.geo import GeoJSONError, GeometryRules, geometry_problems
from govmesh_runtime.grids import parse_features
from policing.adapters.tables import GridRow
from policing.domain.jurisdiction import ReferenceDataError


def geometry_rules(tolerance: float, outline_file: Path | None) -> GeometryRules:
    """The geometry checks of a grid import; a configured outline that cannot be read is refused."""
    try:
        return GeometryRules.from_settings(tolerance, outline_file)
    except GeoJSONError as exc:
        raise ReferenceDataError([f"grids: {exc}"]) from exc


def parse_grids(collection: Any, rules: GeometryRules | None = None) -> list[GridRow]:
    """grids.geojson: a FeatureCollection of (Multi)Polygons with ``properties.grid_code``, which
    may not overlap one another or leave the city's outline beyond the tolerance (``rules``; the
    import replaces the whole grid set, so only the imported grids are compared)."""
    try:
        features = parse_features(collection)
    except GeoJSONError as exc:
        raise ReferenceDataError([f"grids: {exc}"]) from exc
    problems = geometry_problems([(f.grid_code, f.shape) for f in features], rules or GeometryRules())
    if problems:
        raise ReferenceDataError([f"grids: {problem}" for problem in problems])
    return [
        GridRow(
            grid_code=f.grid_code,
            name=_opt(f.properties.get("name")),
            community_code=_opt(f.properties.get("community_code")),
            township_code=_opt(f.properties.get("township_code")),
            county_code=_opt(f.properties.get("county_code")),
            geometry=f.geometry,
        )
        for f in features
    ]


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)

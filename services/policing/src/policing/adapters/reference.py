"""Reading the city generator's grids.geojson into grid rows (validated with the shared GridIndex)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely

from govmesh_runtime.geo import GeoJSONError, GeometryRules, GridIndex, geometry_problems
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
    if not isinstance(collection, dict):
        raise ReferenceDataError(["grids: must be a GeoJSON FeatureCollection object"])
    try:
        GridIndex.from_geojson(collection)
    except GeoJSONError as exc:
        raise ReferenceDataError([f"grids: {exc}"]) from exc
    rows: list[GridRow] = []
    seen: set[str] = set()
    problems: list[str] = []
    for number, feature in enumerate(collection.get("features") or []):
        props = feature.get("properties") or {}
        code = str(props["grid_code"])
        if code in seen:
            problems.append(f"grids: features[{number}]: grid_code {code} appears twice")
        seen.add(code)
        rows.append(
            GridRow(
                grid_code=code,
                name=_opt(props.get("name")),
                community_code=_opt(props.get("community_code")),
                township_code=_opt(props.get("township_code")),
                county_code=_opt(props.get("county_code")),
                geometry=json.dumps(feature["geometry"], separators=(",", ":")),
            )
        )
    if not rows:
        problems.append("grids: the FeatureCollection has no features")
    geometries = [(row.grid_code, shapely.from_geojson(row.geometry)) for row in rows]
    problems.extend(f"grids: {problem}" for problem in geometry_problems(geometries, rules or GeometryRules()))
    if problems:
        raise ReferenceDataError(problems)
    return rows


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)

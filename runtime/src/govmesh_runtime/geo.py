"""Point → grid lookup over grid polygons (GeoJSON), with a spatial index.

Every service that must place a point on the grid (dispatch, policing, the video
bridge) keeps its own copy of the grid boundaries and builds one of these; the
boundaries are reference data exported by dispatch's grid registry as GeoJSON.
A feature's ``properties.grid_code`` names the grid; coordinates are WGS 84 lon/lat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree


class GeoJSONError(ValueError):
    """A grid boundary document that cannot be used, with the feature and the reason."""


class GridIndex:
    def __init__(self, grids: Iterable[tuple[str, BaseGeometry]]) -> None:
        items = sorted(grids, key=lambda item: item[0])  # deterministic tie-break on shared borders
        self.codes = [code for code, _ in items]
        self.geometries = [geometry for _, geometry in items]
        for geometry in self.geometries:
            shapely.prepare(geometry)
        self._tree = STRtree(self.geometries)

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def from_geojson(cls, collection: Mapping[str, Any]) -> GridIndex:
        if collection.get("type") != "FeatureCollection":
            raise GeoJSONError("type must be FeatureCollection")
        grids: list[tuple[str, BaseGeometry]] = []
        for number, feature in enumerate(collection.get("features") or []):
            code = (feature.get("properties") or {}).get("grid_code")
            if not code:
                raise GeoJSONError(f"features[{number}]: properties.grid_code is missing")
            try:
                geometry = shape(feature["geometry"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise GeoJSONError(f"features[{number}] ({code}): invalid geometry: {exc}") from exc
            if geometry.geom_type not in ("Polygon", "MultiPolygon") or not geometry.is_valid:
                raise GeoJSONError(f"features[{number}] ({code}): geometry must be a valid (Multi)Polygon")
            grids.append((str(code), geometry))
        return cls(grids)

    def locate(self, lat: float, lon: float) -> str | None:
        """The grid containing the point (on a shared border: the lowest code), or None."""
        point = shapely.Point(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        return self.codes[int(min(hits))] if len(hits) else None

    def locate_many(self, points: Iterable[tuple[float, float]]) -> list[str | None]:
        """Vectorised lookup of (lat, lon) pairs; far faster than calling locate() in a loop."""
        pts = [shapely.Point(lon, lat) for lat, lon in points]
        found: list[str | None] = [None] * len(pts)
        if not pts:
            return found
        point_idx, geom_idx = self._tree.query(pts, predicate="intersects")
        for p, g in zip(point_idx.tolist(), geom_idx.tolist(), strict=True):
            if found[p] is None or self.codes[g] < str(found[p]):
                found[p] = self.codes[g]
        return found

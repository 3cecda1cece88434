"""Point → grid lookup over grid polygons (GeoJSON), with a spatial index.

Every service that must place a point on the grid (dispatch, policing, the video
bridge) keeps its own copy of the grid boundaries and builds one of these; the
boundaries are reference data exported by dispatch's grid registry as GeoJSON.
A feature's ``properties.grid_code`` names the grid; coordinates are WGS 84 lon/lat.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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


# --- geometry checks of grid imports ------------------------------------------------------------

_NAMED = 20  # codes named in one problem before "and N more"


def _pct(share: float) -> str:
    return f"{round(share * 100, 1):g}%"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_NAMED])
    return shown + (f" and {len(items) - _NAMED} more" if len(items) > _NAMED else "")


def load_outline(path: Path) -> BaseGeometry:
    """The city's outline from a GeoJSON file: a (Multi)Polygon geometry, a Feature, or a
    FeatureCollection (the union of its features)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GeoJSONError(f"city outline {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise GeoJSONError(f"city outline {path}: a GeoJSON object is required")
    if document.get("type") == "FeatureCollection":
        parts = [feature.get("geometry") for feature in document.get("features") or []]
    elif document.get("type") == "Feature":
        parts = [document.get("geometry")]
    else:
        parts = [document]
    try:
        geometries = [shape(part) for part in parts]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GeoJSONError(f"city outline {path}: invalid geometry: {exc}") from exc
    if not geometries or any(g.geom_type not in ("Polygon", "MultiPolygon") or not g.is_valid for g in geometries):
        raise GeoJSONError(f"city outline {path}: valid (Multi)Polygons are required")
    outline = shapely.union_all(geometries)
    shapely.prepare(outline)
    return outline


@dataclass(frozen=True)
class GeometryRules:
    """What an imported grid must respect: overlap with other grids and area outside the city's
    outline each at most ``tolerance`` (a share of the smaller grid's area; borders that only
    touch overlap by nothing). Without an outline only overlaps are checked."""

    tolerance: float = 0.01
    outline: BaseGeometry | None = None

    @classmethod
    def from_settings(cls, tolerance: float, outline_file: Path | None) -> GeometryRules:
        return cls(tolerance=tolerance, outline=load_outline(outline_file) if outline_file else None)


def geometry_problems(
    grids: Sequence[tuple[str, BaseGeometry]],
    rules: GeometryRules,
    *,
    others: Sequence[tuple[str, BaseGeometry]] = (),
) -> list[str]:
    """Problems of the ``grids`` being imported, each naming the grid codes: pairs that overlap
    (among themselves or with ``others``, the grids already stored that the import keeps) by
    more than the tolerance, and grids whose area outside the outline is more than it."""
    problems: list[str] = []
    everything = [*grids, *others]
    geometries = np.array([geometry for _, geometry in everything], dtype=object)
    if len(geometries):
        tree = STRtree(geometries)
        left, right = tree.query(geometries[: len(grids)], predicate="intersects")
        # each pair once; a pair of two imported grids is found from both sides
        keep = (left != right) & ((right >= len(grids)) | (left < right))
        left, right = left[keep], right[keep]
        shared = shapely.area(shapely.intersection(geometries[left], geometries[right]))
        smaller = np.minimum(shapely.area(geometries[left]), shapely.area(geometries[right]))
        share = np.divide(shared, smaller, out=np.ones_like(shared), where=smaller > 0)
        pairs = sorted(
            f"{everything[a][0]} and {everything[b][0]} ({_pct(s)})"
            for a, b, s in zip(left.tolist(), right.tolist(), share.tolist(), strict=True)
            if s > rules.tolerance
        )
        if pairs:
            problems.append(
                f"overlap: {len(pairs)} pair(s) of grids overlap by more than {_pct(rules.tolerance)} of the smaller "
                f"grid: {_names(pairs)}"
            )
    if rules.outline is not None and grids:
        imported = np.array([geometry for _, geometry in grids], dtype=object)
        inside = shapely.covers(rules.outline, imported)
        outside: list[str] = []
        for number in np.flatnonzero(~inside).tolist():
            geometry = imported[number]
            share_out = geometry.difference(rules.outline).area / geometry.area if geometry.area else 1.0
            if share_out > rules.tolerance:
                outside.append(f"{grids[number][0]} ({_pct(share_out)})")
        if outside:
            problems.append(
                f"outline: {len(outside)} grid(s) lie outside the city's outline by more than "
                f"{_pct(rules.tolerance)} of their area: {_names(sorted(outside))}"
            )
    return problems

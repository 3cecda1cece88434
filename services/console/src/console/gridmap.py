"""The grid map drawn on the server as SVG: the grids as vectors, coloured by their open and
overdue cases. No tile service and no map library are needed (a city's tile service, e.g. a
Tianditu WMTS, can be layered under it later); a grid is a link to its card."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WIDTH = 960.0


@dataclass
class GridShape:
    code: str
    name: str
    path: str
    open_cases: int
    overdue: int

    @property
    def tone(self) -> str:
        if self.overdue:
            return "overdue"
        return "open" if self.open_cases else "calm"


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


@dataclass
class Frame:
    """How the SVG's coordinates map back to WGS 84 (for a click on the map)."""

    min_lon: float
    max_lat: float
    x_scale: float
    scale: float
    width: float
    height: float


def draw(
    collection: dict[str, Any], open_cases: dict[str, int], overdue: dict[str, int]
) -> tuple[list[GridShape], float, float]:
    """(the grids as SVG paths, width, height) for a FeatureCollection of grids."""
    shapes, frame = draw_framed(collection, open_cases, overdue)
    return shapes, frame.width, frame.height


def draw_framed(
    collection: dict[str, Any], open_cases: dict[str, int], overdue: dict[str, int]
) -> tuple[list[GridShape], Frame]:
    features = [f for f in collection.get("features", []) if f.get("geometry")]
    points = [p for f in features for ring in _rings(f["geometry"]) for p in ring]
    if not points:
        return [], Frame(0.0, 0.0, 1.0, 1.0, WIDTH, 0.0)
    min_lon, max_lon = min(p[0] for p in points), max(p[0] for p in points)
    min_lat, max_lat = min(p[1] for p in points), max(p[1] for p in points)
    # Equirectangular at the middle latitude: true enough for a city, and needs no library.
    x_scale = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x = max((max_lon - min_lon) * x_scale, 1e-9)
    span_y = max(max_lat - min_lat, 1e-9)
    scale = WIDTH / span_x
    height = span_y * scale

    def xy(point: list[float]) -> str:
        return f"{(point[0] - min_lon) * x_scale * scale:.1f},{(max_lat - point[1]) * scale:.1f}"

    shapes = []
    for feature in features:
        props = feature.get("properties", {})
        code = str(props.get("grid_code", ""))
        path = " ".join("M" + " L".join(xy(p) for p in ring) + " Z" for ring in _rings(feature["geometry"]))
        shapes.append(
            GridShape(code, str(props.get("name", code)), path, open_cases.get(code, 0), overdue.get(code, 0))
        )
    return shapes, Frame(min_lon, max_lat, x_scale, scale, WIDTH, height)


def project(frame: Frame, lat: float, lon: float) -> tuple[float, float]:
    """A WGS 84 point in the SVG's coordinates."""
    return (lon - frame.min_lon) * frame.x_scale * frame.scale, (frame.max_lat - lat) * frame.scale


def bbox(frame: Frame) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) the map shows."""
    max_lon = frame.min_lon + frame.width / (frame.x_scale * frame.scale)
    return frame.min_lon, frame.max_lat - frame.height / frame.scale, max_lon, frame.max_lat


@dataclass
class Camera:
    channel_id: str
    x: float
    y: float
    online: bool
    grid_code: str | None


def cameras(frame: Frame, collection: dict[str, Any]) -> list[Camera]:
    """video-bridge's channel points (GeoJSON) placed on the map."""
    found = []
    for feature in collection.get("features", []):
        lon, lat = feature["geometry"]["coordinates"][:2]
        props = feature.get("properties", {})
        x, y = project(frame, float(lat), float(lon))
        found.append(Camera(str(props.get("channel_id")), x, y, bool(props.get("online")), props.get("grid_code")))
    return found


@dataclass
class Tile:
    url: str
    x: float
    y: float
    width: float
    height: float


def tile_origin_of(template: str) -> str:
    """scheme://host of a tile URL template (the Content-Security-Policy allows it for images)."""
    scheme, _, rest = template.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""


def _tile_lon(x: int, n: int) -> float:
    return x / n * 360.0 - 180.0


def _tile_lat(y: int, n: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def tiles(frame: Frame, template: str, zoom: int, limit: int = 400) -> list[Tile]:
    """The Web Mercator tiles (XYZ / WMTS GoogleMapsCompatible: {z}, {x}, {y}) under the map, each
    placed by its corners (exact in longitude; in latitude exact at the corners, which at city
    zooms is within a pixel of the map's own projection)."""
    if not template or frame.height <= 0:
        return []
    min_lon, min_lat, max_lon, max_lat = bbox(frame)
    n = 2**zoom

    def tx(lon: float) -> int:
        return int((lon + 180.0) / 360.0 * n)

    def ty(lat: float) -> int:
        rad = math.radians(lat)
        return int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)

    found: list[Tile] = []
    for x in range(tx(min_lon), tx(max_lon) + 1):
        for y in range(ty(max_lat), ty(min_lat) + 1):
            left, top = project(frame, _tile_lat(y, n), _tile_lon(x, n))
            right, bottom = project(frame, _tile_lat(y + 1, n), _tile_lon(x + 1, n))
            url = template.replace("{z}", str(zoom)).replace("{x}", str(x)).replace("{y}", str(y))
            found.append(Tile(url, left, top, right - left, bottom - top))
            if len(found) >= limit:
                return found
    return found

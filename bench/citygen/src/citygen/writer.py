"""Write a city to the data files read by the services' importers (see README.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from citygen.elements import write_elements
from citygen.model import AdminUnit, City
from govmesh_kit.progress import Progress

FILES = (
    "grids.geojson",
    "outline.geojson",
    "admin.json",
    "centres.json",
    "workers.json",
    "police_rooms.json",
    "channels.json",
    "mediation.json",
    "elements.csv",
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _write_lines(path: Path, head: str, items: Iterable[Any], tail: str) -> None:
    """JSON with one record per line: valid JSON, diff- and grep-friendly, byte-for-byte deterministic."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write(head)
        first = True
        for item in items:
            f.write(("\n" if first else ",\n") + _dumps(item))
            first = False
        f.write("\n" + tail + "\n")
    os.replace(tmp, path)


def _admin(unit: AdminUnit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "parent_code": unit.parent_code, "level": unit.level}


def grid_features(city: City) -> Iterable[dict[str, Any]]:
    for g in city.grids:
        yield {
            "type": "Feature",
            "properties": {
                "grid_code": g.grid_code,
                "name": g.name,
                "community_code": g.community_code,
                "township_code": g.township_code,
                "county_code": g.county_code,
                "function": g.function,
                "households": g.households,
                "population": g.population,
            },
            "geometry": {"type": "Polygon", "coordinates": [g.box.ring()]},
        }


def outline_features(city: City) -> Iterable[dict[str, Any]]:
    """The city's outline: the union of its grid cells, one polygon each (neighbours share exact
    borders, so a MultiPolygon of them would be invalid GeoJSON; readers union the features).
    The services refuse imported grids that leave it (``<SERVICE>_CITY_OUTLINE_FILE``)."""
    for g in city.grids:
        yield {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [g.box.ring()]}}


def studio_records(city: City) -> Iterable[dict[str, Any]]:
    for s in city.studios:
        yield {"studio_id": s.studio_id, "name": s.name, "area_codes": [s.area_code], "rooms": list(s.rooms)}


def mediator_records(city: City) -> Iterable[dict[str, Any]]:
    for s in city.studios:
        for m in s.mediators:
            yield {"mediator_id": m.mediator_id, "studio_id": s.studio_id, "name": m.name, "kind": m.kind,
                   "skills": list(m.skills), "capacity": m.capacity}  # fmt: skip


def write(
    city: City, out_dir: str | os.PathLike[str], elements: int | None = None, progress: bool = False
) -> dict[str, Path]:
    """Write all city files into ``out_dir`` (created if needed); ``elements`` rows (default: the
    scale's); ``progress``: show the elements' progress on stderr (counts, rate, ETA)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in FILES}

    _write_lines(paths["grids.geojson"], '{"type":"FeatureCollection","features":[', grid_features(city), "]}")
    _write_lines(paths["outline.geojson"], '{"type":"FeatureCollection","features":[', outline_features(city), "]}")

    admin = out / "admin.json"
    tmp = admin.with_name("admin.json.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write('{"city":' + _dumps(_admin(city.city)))
        for key, units in (
            ("counties", city.counties),
            ("townships", city.townships),
            ("communities", city.communities),
        ):
            f.write(f',\n"{key}":[\n' + ",\n".join(_dumps(_admin(u)) for u in units) + "\n]")
        f.write("}\n")
    os.replace(tmp, admin)

    _write_lines(
        paths["centres.json"],
        "[",
        (
            {"centre_code": c.centre_code, "name": c.name, "level": c.level, "admin_code": c.admin_code,
             "windows": list(c.windows)}
            for c in city.centres
        ),
        "]",
    )  # fmt: skip
    _write_lines(
        paths["workers.json"],
        "[",
        (
            {"worker_id": w.worker_id, "grid_code": w.grid_code, "name": w.name, "phone": w.phone,
             "on_duty": w.on_duty}
            for w in city.workers
        ),
        "]",
    )  # fmt: skip
    _write_lines(
        paths["police_rooms.json"],
        "[",
        (
            {
                "room_code": r.room_code,
                "name": r.name,
                "county_code": r.county_code,
                "grid_codes": list(r.grid_codes),
                "officers": [
                    {"officer_id": o.officer_id, "name": o.name, "role": o.role, "on_duty": o.on_duty}
                    for o in r.officers
                ],
            }
            for r in city.police_rooms
        ),
        "]",
    )
    _write_lines(
        paths["channels.json"],
        "[",
        (
            {"channel_id": c.channel_id, "device_id": c.device_id, "name": c.name, "lat": c.lat, "lon": c.lon,
             "civil_code": c.civil_code, "manufacturer": c.manufacturer, "model": c.model}
            for c in city.channels
        ),
        "]",
    )  # fmt: skip

    # mediation's seed document (as its POST /v1/seed and govmesh-mediation-seed read it)
    tmp = paths["mediation.json"].with_name("mediation.json.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write('{"studios":[\n' + ",\n".join(_dumps(s) for s in studio_records(city)) + "\n],\n")
        f.write('"mediators":[\n' + ",\n".join(_dumps(m) for m in mediator_records(city)) + "\n]}\n")
    os.replace(tmp, paths["mediation.json"])

    tmp = paths["elements.csv"].with_name("elements.csv.tmp")
    total = city.default_elements if elements is None else elements
    meter = Progress("citygen elements.csv", total) if progress else None
    with tmp.open("w", encoding="utf-8", newline="") as f:
        written = write_elements(city, f, elements, on_chunk=meter.update if meter else None)
    if meter is not None:
        meter.finish(written)
    os.replace(tmp, paths["elements.csv"])
    return paths

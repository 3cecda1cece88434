"""Import of the city's reference data: grids (GeoJSON), admin units, centres, workers, buildings.

Each file is validated whole before anything is written; an import replaces the rows
with the same keys (re-importing a file is idempotent)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa
from sqlmodel import SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.locator import GridLocator
from dispatch.adapters.tables import AdminUnitRow, BuildingRow, CentreRow, GridRow, WorkerRow
from dispatch.domain.codes import (
    CodeError,
    check_grid_chain,
    level_of_admin_code,
    validate_branch_code,
    validate_building_code,
)
from dispatch.domain.grids import GridDataError, normalise_address, service_list
from govmesh_contracts import Level
from govmesh_runtime.geo import GeoJSONError, GeometryRules, GridIndex, geometry_problems, load_outline

_CHUNK = 500


class CityImportError(ValueError):
    """A data file that cannot be imported, naming the item and the reason."""


_MAX_INT = 2**31 - 1  # what an INTEGER column holds on every backend


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT:
        raise CityImportError(f"{where}: a non-negative integer up to {_MAX_INT} is required")
    return value


def parse_grids(collection: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        GridIndex.from_geojson(collection)  # geometry and grid_code checks, with the feature named
    except GeoJSONError as exc:
        raise CityImportError(str(exc)) from None
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, feature in enumerate(collection["features"]):
        props = feature.get("properties") or {}
        where = f"features[{number}] ({props.get('grid_code')})"
        code = str(props["grid_code"])
        try:
            grid = check_grid_chain(
                code,
                community_code=props.get("community_code"),
                township_code=props.get("township_code"),
                county_code=props.get("county_code"),
            )
            if props.get("branch_code") is not None:
                validate_branch_code(str(props["branch_code"]), grid.community)
            function = str(props.get("function") or "")
            services = service_list(function)
        except (CodeError, GridDataError) as exc:
            raise CityImportError(f"{where}: {exc}") from None
        if code in seen:
            raise CityImportError(f"{where}: grid_code appears twice")
        seen.add(code)
        name = props.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CityImportError(f"{where}: properties.name is required")
        rows.append(
            {
                "grid_code": code,
                "name": name,
                "community_code": grid.community,
                "township_code": grid.township,
                "county_code": grid.county,
                "branch_code": props.get("branch_code"),
                "function": function,
                "households": _int(props.get("households", 0), f"{where}: properties.households"),
                "population": _int(props.get("population", 0), f"{where}: properties.population"),
                "services": json.dumps(props.get("services") or services, ensure_ascii=False),
                "geometry": json.dumps(feature["geometry"], separators=(",", ":")),
            }
        )
    return rows


def _is_parent(parent: str, code: str) -> bool:
    if len(code) == 6 and code.endswith("00"):  # a city's parent is its province
        return parent.endswith("0000") and parent[:2] == code[:2]
    if len(code) == 6:  # a county's parent is its city
        return parent == code[:4] + "00"
    return code.startswith(parent) and len(parent) < len(code)


def parse_admin(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    items: list[tuple[str, Any]] = [("city", document.get("city"))]
    for key in ("counties", "townships", "communities"):
        values = document.get(key) or []
        if not isinstance(values, list):
            raise CityImportError(f"admin.{key}: a list is required")
        items.extend((f"{key}[{i}]", v) for i, v in enumerate(values))
    rows = []
    for where, item in items:
        if item is None:
            continue
        if not isinstance(item, dict) or not item.get("code") or not item.get("name"):
            raise CityImportError(f"admin.{where}: code and name are required")
        code = str(item["code"])
        try:
            level = level_of_admin_code(code)
        except CodeError as exc:
            raise CityImportError(f"admin.{where}: {exc}") from None
        if item.get("level") not in (None, level.value):
            raise CityImportError(f"admin.{where}: level {item.get('level')!r} does not match code {code}")
        parent = item.get("parent_code")
        if parent is not None and not _is_parent(str(parent), code):
            raise CityImportError(f"admin.{where}: parent_code {parent} is not a prefix of {code}")
        rows.append({"code": code, "name": item["name"], "level": level.value, "parent_code": parent})
    return rows


def parse_centres(items: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for number, item in enumerate(items):
        where = f"centres[{number}]"
        if not isinstance(item, dict) or not item.get("centre_code") or not item.get("admin_code"):
            raise CityImportError(f"{where}: centre_code and admin_code are required")
        try:
            level = Level(str(item.get("level")))
        except ValueError:
            raise CityImportError(f"{where}: level must be one of community, township, county, city") from None
        windows = item.get("windows") or []
        if not isinstance(windows, list):
            raise CityImportError(f"{where}: windows must be a list")
        rows.append(
            {
                "centre_code": str(item["centre_code"]),
                "name": str(item.get("name") or item["centre_code"]),
                "level": level.value,
                "admin_code": str(item["admin_code"]),
                "windows": json.dumps(windows, ensure_ascii=False),
            }
        )
    return rows


def parse_workers(items: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for number, item in enumerate(items):
        where = f"workers[{number}]"
        if not isinstance(item, dict) or not item.get("worker_id") or not item.get("grid_code"):
            raise CityImportError(f"{where}: worker_id and grid_code are required")
        try:
            grid = check_grid_chain(str(item["grid_code"]), community_code=None, township_code=None, county_code=None)
        except CodeError as exc:
            raise CityImportError(f"{where}: {exc}") from None
        rows.append(
            {
                "worker_id": str(item["worker_id"]),
                "grid_code": grid.code,
                "community_code": grid.community,
                "name": str(item.get("name") or ""),
                "phone": item.get("phone"),
                "on_duty": bool(item.get("on_duty", True)),
            }
        )
    return rows


def parse_buildings(items: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for number, item in enumerate(items):
        where = f"buildings[{number}]"
        if not isinstance(item, dict) or not item.get("building_code") or not item.get("address"):
            raise CityImportError(f"{where}: building_code and address are required")
        grid_code = str(item.get("grid_code") or str(item["building_code"])[:15])
        try:
            validate_building_code(str(item["building_code"]), grid_code)
        except CodeError as exc:
            raise CityImportError(f"{where}: {exc}") from None
        rows.append(
            {
                "building_code": str(item["building_code"]),
                "grid_code": grid_code,
                "address": normalise_address(str(item["address"])),
                "name": item.get("name"),
            }
        )
    return rows


# (what, done, total) as an import goes on: the command line's progress lines
StageProgress = Callable[[str, int, int], None]


async def upsert(
    session: AsyncSession,
    table: type[SQLModel],
    key: str,
    rows: Sequence[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace rows with the same key; insert the others (chunked, one statement per chunk)."""
    key_column = getattr(table, key)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        await session.exec(delete(table).where(col(key_column).in_([r[key] for r in chunk])))
        await (await session.connection()).execute(sa.insert(table), list(chunk))
        if progress is not None:
            progress(start + len(chunk))
    if progress is not None and not rows:
        progress(0)
    return len(rows)


async def check_geometry(session: AsyncSession, rows: Sequence[Mapping[str, Any]], rules: GeometryRules) -> None:
    """Refuse (naming the codes) grids that overlap one another or a stored grid the import keeps,
    or leave the city's outline, beyond the tolerance: a grid re-uploaded as a city-sized polygon
    would otherwise receive every case of the city."""
    imported = [(str(row["grid_code"]), shapely.from_geojson(row["geometry"])) for row in rows]
    codes = {code for code, _ in imported}
    stored = (await session.exec(select(GridRow.grid_code, GridRow.geometry))).all()
    others = [(code, shapely.from_geojson(geometry)) for code, geometry in stored if code not in codes]
    problems = geometry_problems(imported, rules, others=others)
    if problems:
        raise CityImportError("; ".join(problems))


async def import_grids(
    session: AsyncSession, collection: Mapping[str, Any], rules: GeometryRules, progress: StageProgress | None = None
) -> int:
    rows = parse_grids(collection)
    await check_geometry(session, rows, rules)
    if progress is not None:
        progress("grid geometry checked", len(rows), len(rows))
    count = await GridLocator().upsert(session, rows)  # the grid store's: bumps the grids' version
    if progress is not None:
        progress("grids", len(rows), len(rows))
    return count


def _stage(progress: StageProgress | None, what: str, total: int) -> Callable[[int], None] | None:
    return None if progress is None else lambda done: progress(what, done, total)


async def import_city_dir(
    session: AsyncSession, directory: Path, rules: GeometryRules, progress: StageProgress | None = None
) -> dict[str, int]:
    """Import every file of the city generator's format that is present in ``directory``; the
    directory's ``outline.geojson`` is the city's outline when no outline file is configured."""
    if rules.outline is None and (directory / "outline.geojson").exists():
        try:
            rules = replace(rules, outline=load_outline(directory / "outline.geojson"))
        except GeoJSONError as exc:
            raise CityImportError(str(exc)) from None

    def load(name: str) -> Any:
        path = directory / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    async def write(what: str, table: type[SQLModel], key: str, rows: Sequence[dict[str, Any]]) -> int:
        return await upsert(session, table, key, rows, _stage(progress, what, len(rows)))

    counts: dict[str, int] = {}
    if (admin := load("admin.json")) is not None:
        counts["admin_units"] = await write("admin units", AdminUnitRow, "code", parse_admin(admin))
    if (centres := load("centres.json")) is not None:
        counts["centres"] = await write("centres", CentreRow, "centre_code", parse_centres(centres))
    if (grids := load("grids.geojson")) is not None:
        counts["grids"] = await import_grids(session, grids, rules, progress)
    if (workers := load("workers.json")) is not None:
        counts["workers"] = await write("workers", WorkerRow, "worker_id", parse_workers(workers))
    if (buildings := load("buildings.json")) is not None:
        counts["buildings"] = await write("buildings", BuildingRow, "building_code", parse_buildings(buildings))
    if not counts:
        raise CityImportError(f"{directory}: none of admin.json, centres.json, grids.geojson, workers.json found")
    return counts


async def export_grids(session: AsyncSession, where: sa.ColumnElement[bool] | None = None) -> dict[str, Any]:
    """Every grid (or those ``where`` selects) as a GeoJSON FeatureCollection."""
    query = select(GridRow).order_by(col(GridRow.grid_code))
    if where is not None:
        query = query.where(where)
    rows = (await session.exec(query)).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(row.geometry),
                "properties": {
                    "grid_code": row.grid_code,
                    "name": row.name,
                    "community_code": row.community_code,
                    "township_code": row.township_code,
                    "county_code": row.county_code,
                    "branch_code": row.branch_code,
                    "function": row.function,
                    "households": row.households,
                    "population": row.population,
                    "services": json.loads(row.services),
                },
            }
            for row in rows
        ],
    }

"""Policing's command line.

    python -m policing.cli import-city DIR [--if-empty]    # DIR/grids.geojson and DIR/police_rooms.json

Imports (replaces) the grid set and the police rooms into the service's database (the
``POLICING_DATABASE_URL`` setting); a gap, an overlap or an unknown grid is refused with
the grids named, and nothing is written. ``--if-empty``: only when the service has no police
room yet (``make run`` seeds its city so: a second run changes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from govmesh_runtime.db import Database
from govmesh_runtime.uow import UnitOfWork
from policing.adapters.reference import geometry_rules
from policing.bootstrap import MIGRATIONS
from policing.domain.jurisdiction import ReferenceDataError
from policing.handlers import ImportSummary, import_reference
from policing.settings import PolicingSettings, get_settings


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReferenceDataError([f"{path.name}: file not found in {path.parent}"]) from exc
    except json.JSONDecodeError as exc:
        raise ReferenceDataError([f"{path.name}: not valid JSON: {exc}"]) from exc


async def rooms_present(settings: PolicingSettings) -> int:
    """Police rooms already in the service's database (0 when it has none, or no tables yet)."""
    db = Database(settings.resolved_database_url())
    try:
        if settings.migrate_on_start:
            await db.migrate(MIGRATIONS)
        async with db.sessions() as session:
            return int(
                (await (await session.connection()).execute(sa.text("SELECT count(*) FROM police_rooms"))).scalar_one()
            )
    finally:
        await db.dispose()


async def import_city(directory: Path, settings: PolicingSettings) -> ImportSummary:
    grids = _read(directory / "grids.geojson")
    rooms = _read(directory / "police_rooms.json")
    # the configured outline, else the one the city generator wrote next to the grids
    outline = settings.city_outline_file
    if outline is None and (directory / "outline.geojson").exists():
        outline = directory / "outline.geojson"
    rules = geometry_rules(settings.grid_tolerance, outline)
    db = Database(settings.resolved_database_url())
    try:
        if settings.migrate_on_start:
            await db.migrate(MIGRATIONS)
        async with UnitOfWork(db.sessions, source=f"/govmesh/{settings.service_name}") as uow:
            summary = await import_reference(uow, grids=grids, rooms=rooms, rules=rules)
            await uow.commit()
        return summary
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policing.cli", description="Policing administration.")
    commands = parser.add_subparsers(dest="command", required=True)
    city = commands.add_parser("import-city", help="Import grids.geojson and police_rooms.json from a directory.")
    city.add_argument("directory", type=Path)
    city.add_argument("--if-empty", action="store_true", help="import only when the service has no police room yet")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.if_empty and (present := asyncio.run(rooms_present(settings))):
        print(f"policing: {present} police rooms already there, nothing imported")
        return 0
    try:
        summary = asyncio.run(import_city(args.directory, settings))
    except ReferenceDataError as exc:
        print("import refused, nothing written:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"imported {summary.grids} grids, {summary.rooms} police rooms, "
        f"{summary.officers} officers and {summary.auxiliaries} auxiliaries"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

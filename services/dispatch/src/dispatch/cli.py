"""Dispatch's command line: ``python -m dispatch.cli import-city DIR`` and ``import-elements FILE``.

Writes straight into dispatch's database (settings from the environment, as the
service); a running dispatch rebuilds its grid index on the next REST import or restart."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from dispatch.adapters.city import CityImportError, import_city_dir
from dispatch.adapters.elements import ElementImportError, import_elements_file
from dispatch.bootstrap import MIGRATIONS
from dispatch.settings import get_settings
from govmesh_runtime.db import Database
from govmesh_runtime.geo import GeoJSONError, GeometryRules


async def _run(command: str, path: Path) -> str:
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        await db.migrate(MIGRATIONS)
        async with db.sessions() as session:
            started = time.perf_counter()
            if command == "import-city":
                rules = GeometryRules.from_settings(settings.grid_tolerance, settings.city_outline_file)
                counts = await import_city_dir(session, path, rules)
                result = ", ".join(f"{k}={v}" for k, v in counts.items())
            else:
                result = f"elements={await import_elements_file(session, path)}"
            await session.commit()
        return f"{result} in {time.perf_counter() - started:.1f} s"
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatch.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    city = sub.add_parser(
        "import-city", help="import grids.geojson, admin.json, centres.json, workers.json (+buildings.json)"
    )
    city.add_argument("directory", type=Path)
    elements = sub.add_parser("import-elements", help="bulk import elements.csv")
    elements.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    path: Path = args.directory if args.command == "import-city" else args.file
    if not path.exists():
        print(f"{path}: not found", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(_run(args.command, path)))
    except (CityImportError, ElementImportError, GeoJSONError) as exc:
        print(f"import failed, nothing written: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

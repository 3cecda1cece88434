"""Dispatch's command line: ``python -m dispatch.cli import-city DIR`` and ``import-elements FILE``.

Writes straight into dispatch's database (settings from the environment, as the
service); a running dispatch rebuilds its grid index on the next REST import or restart.
``--if-empty``: only when dispatch has none yet (``make run`` seeds its city so). The
elements' import shows its progress (rows, rate, ETA) on stderr."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from dispatch.adapters.city import CityImportError, import_city_dir
from dispatch.adapters.elements import ElementImportError, import_elements_file
from dispatch.bootstrap import MIGRATIONS
from dispatch.settings import get_settings
from govmesh_kit.progress import Progress
from govmesh_runtime.db import Database
from govmesh_runtime.geo import GeoJSONError, GeometryRules

# what --if-empty looks at: the command's main table
_TABLES = {"import-city": ("dispatch_grids", "grids"), "import-elements": ("dispatch_elements", "elements")}


async def _run(command: str, path: Path, if_empty: bool = False) -> str:
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        await db.migrate(MIGRATIONS)
        async with db.sessions() as session:
            if if_empty:
                table, what = _TABLES[command]
                present = int(
                    (await (await session.connection()).execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608 - a fixed table name
                )
                if present:
                    return f"dispatch: {present} {what} already there, nothing imported"
            started = time.perf_counter()
            if command == "import-city":
                rules = GeometryRules.from_settings(settings.grid_tolerance, settings.city_outline_file)
                counts = await import_city_dir(session, path, rules)
                result = ", ".join(f"{k}={v}" for k, v in counts.items())
            else:
                meter = Progress("dispatch elements", unit="rows")
                count = await import_elements_file(session, path, lambda done, part: meter.update(done, part))
                meter.finish(count)
                result = f"elements={count}"
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
    city.add_argument("--if-empty", action="store_true", help="import only when dispatch has no grid yet")
    elements = sub.add_parser("import-elements", help="bulk import elements.csv (upsert by element id)")
    elements.add_argument("file", type=Path)
    elements.add_argument("--if-empty", action="store_true", help="import only when dispatch has no element yet")
    args = parser.parse_args(argv)
    path: Path = args.directory if args.command == "import-city" else args.file
    if not path.exists():
        print(f"{path}: not found", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(_run(args.command, path, args.if_empty)))
    except (CityImportError, ElementImportError, GeoJSONError) as exc:
        print(f"import failed, nothing written: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m video_bridge.cli import-grids FILE`` / ``import-channels FILE``: load the
city generator's grids.geojson and channels.json into this service's database.
``--if-empty``: only when the service has none yet (``make run`` seeds its city so). Both show
their progress (rows, rate, ETA; a line per stage at its end) on stderr."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import sqlalchemy as sa

from govmesh_runtime.db import Database
from govmesh_runtime.geo import GeometryRules
from govmesh_runtime.progress import Stages
from video_bridge.adapters.grids import GridLocator, import_grids
from video_bridge.adapters.importer import ChannelRecord, import_channels, remap_channels
from video_bridge.bootstrap import MIGRATIONS
from video_bridge.entrypoints.api.schemas import ChannelImport
from video_bridge.settings import get_settings


async def _run(command: str, path: Path, if_empty: bool = False) -> str:
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        await db.migrate(MIGRATIONS)
        if if_empty:
            table, what = ("grids", "grids") if command == "import-grids" else ("channels", "channels")
            async with db.sessions() as session:
                present = int(
                    (await (await session.connection()).execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608 - a fixed table name
                )
            if present:
                return f"video-bridge: {present} {what} already there, nothing imported"
        data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        progress = Stages("video-bridge")
        total = len(data.get("features") or []) if isinstance(data, dict) else len(data)
        locator = GridLocator()
        async with db.sessions() as session:
            if command == "import-grids":
                # the configured outline, else the one the city generator wrote next to the grids
                outline = settings.city_outline_file
                if outline is None and (path.parent / "outline.geojson").exists():
                    outline = path.parent / "outline.geojson"
                count = await import_grids(
                    session,
                    data,
                    GeometryRules.from_settings(settings.grid_tolerance, outline),
                    lambda done: progress("grids", done, total),
                )
                await session.flush()
                await locator.load(session)
                mapped = await remap_channels(session, locator)
                progress("channels remapped", mapped, mapped)
                await session.commit()
                return f"imported {count} grids; {mapped} channels mapped"
            await locator.load(session)
            records = [ChannelRecord(**ChannelImport.model_validate(entry).model_dump()) for entry in data]
            progress("channels read", len(records), len(records))
            result = await import_channels(
                session, records, locator, realm=settings.realm, progress=lambda done: progress("channels", done, total)
            )
            await session.commit()
            return (
                f"channels: {result.channels_created} created, {result.channels_updated} updated, "
                f"{result.devices_created} devices created, {result.mapped_to_grid} on a grid"
            )
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m video_bridge.cli")
    parser.add_argument("command", choices=["import-grids", "import-channels"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--if-empty", action="store_true", help="import only when the service has none yet")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(_run(args.command, args.file, args.if_empty)))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Studios and mediators as a JSON document: loaded by REST, at start-up and by the CLI.

``python -m mediation.entrypoints.seed FILE [--if-empty]`` loads a file into the database of
the configured service (``MEDIATION_DATABASE_URL``), running the migrations first; with
``--if-empty`` only when the service has no studio yet (``make run`` seeds its city so)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from govmesh_kit.clock import Clock, system_clock
from govmesh_runtime.db import Database
from govmesh_runtime.uow import UnitOfWork
from mediation.domain.commands import MediatorSpec, StudioSpec
from mediation.domain.disputes import Category
from mediation.handlers.studios import load_seed
from mediation.settings import MediationSettings, get_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "seed-small.json"


class StudioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    studio_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", examples=["ST-620702001001"])
    name: str = Field(min_length=1, max_length=200, examples=["县府街社区人民调解工作室"])
    area_codes: list[str] = Field(
        min_length=1,
        description="Administrative or grid codes served (prefixes of grid codes).",
        examples=[["620702001001"]],
    )
    rooms: list[str] = Field(min_length=1, examples=[["room 1", "room 2"]])


class MediatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mediator_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", examples=["M-0001"])
    studio_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(
        default="full_time",
        pattern=r"^(full_time|legal_adviser|volunteer)$",
        description="full_time, legal_adviser, volunteer",
    )
    skills: list[Category] = Field(default_factory=list, description="Dispute categories the mediator is trained for.")
    capacity: int = Field(default=10, ge=1, le=200)
    active: bool = True


class SeedDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    studios: list[StudioIn] = Field(default_factory=list)
    mediators: list[MediatorIn] = Field(default_factory=list)

    def specs(self) -> tuple[list[StudioSpec], list[MediatorSpec]]:
        return (
            [StudioSpec(s.studio_id, s.name, tuple(s.area_codes), tuple(s.rooms)) for s in self.studios],
            [
                MediatorSpec(
                    m.mediator_id, m.studio_id, m.name, m.kind, tuple(c.value for c in m.skills), m.capacity, m.active
                )
                for m in self.mediators
            ],
        )


def read_seed(path: Path) -> SeedDocument:
    return SeedDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))


async def load_document(document: SeedDocument, uow: UnitOfWork, clock: Clock) -> None:
    studios, mediators = document.specs()
    await load_seed(studios, mediators, uow, now=clock())


async def load_file(path: Path, settings: MediationSettings, if_empty: bool = False) -> SeedDocument | int:
    """The document loaded, or (``if_empty``) the number of studios already there."""
    document = read_seed(path)
    db = Database(settings.resolved_database_url())
    try:
        await db.migrate(MIGRATIONS)
        if if_empty:
            async with db.sessions() as session:
                studios = int(
                    (await (await session.connection()).execute(sa.text("SELECT count(*) FROM studios"))).scalar_one()
                )
            if studios:
                return studios
        async with UnitOfWork(db.sessions, source="/govmesh/mediation") as uow:
            await load_document(document, uow, system_clock)
            await uow.commit()
    finally:
        await db.dispose()
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="govmesh-mediation-seed", description=f"sample file: {SAMPLE}")
    parser.add_argument("file", type=Path, help="studios and mediators (JSON, as POST /v1/seed)")
    parser.add_argument("--if-empty", action="store_true", help="load only when the service has no studio yet")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    result = asyncio.run(load_file(args.file, get_settings(), args.if_empty))
    if isinstance(result, int):
        print(f"mediation: {result} studios already there, nothing loaded")
    else:
        print(f"mediation: loaded {len(result.studios)} studios and {len(result.mediators)} mediators")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""/v1/routing-rules: routing as data (matter code + grid function → targets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dispatch.adapters.repository import load_rules
from dispatch.domain.routing import RuleError, parse_rules
from dispatch.entrypoints.api.deps import GridImporter, GridReader, RuntimeDep, refusals
from dispatch.reference import replace_routing_rules
from govmesh_kit.errors import Invalid
from govmesh_runtime import access
from govmesh_runtime.app import UseCasesDep

router = APIRouter(prefix="/v1/routing-rules", tags=["routing"], responses=refusals(400, 403, 422))


class RuleDoc(BaseModel):
    matter_code: str = Field(min_length=1, max_length=64, description="Exact code, a family 'dispute.*', or '*'")
    grid_function: str | None = None
    targets: list[str] = Field(min_length=1, description="grid_worker, mediation, policing or department:<code>")


@router.get("", summary="The routing rules")
async def get_rules(caller: GridReader, runtime: RuntimeDep) -> list[RuleDoc]:
    async with runtime.db.sessions() as session:
        rules = await load_rules(session)
    return [
        RuleDoc(matter_code=r.matter_code, grid_function=r.grid_function, targets=[str(t) for t in r.targets])
        for r in sorted(rules, key=lambda r: (r.matter_code, r.grid_function or ""))
    ]


@router.put("", summary="Replace all routing rules (validated as a whole)")
async def put_rules(
    body: Annotated[list[RuleDoc], Field(max_length=10_000)],
    request: Request,
    caller: GridImporter,
    use_cases: UseCasesDep,
) -> list[RuleDoc]:
    if caller.places:  # the rules route the whole city's cases: not a part of the tree
        raise await access.refuse(
            request, caller, "routing rules are city-wide: a place-bound caller cannot change them", "routing rules"
        )
    try:
        rules = parse_rules([doc.model_dump() for doc in body])
    except RuleError as exc:
        raise Invalid(str(exc), field="rules") from None
    await use_cases.run(replace_routing_rules, rules)
    return body

"""/v1/matters: the one-door matter taxonomy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from govmesh_runtime.problems import refusals
from intake.domain.taxonomy import MATTERS, Matter, matter

# The public catalogue (also Open311's service list): any credential reads it, no scope needed.
router = APIRouter(prefix="/v1/matters", tags=["matters"], responses=refusals(401))


class AttributePublic(BaseModel):
    code: str = Field(examples=["parties_count"])
    datatype: str = Field(description="Open311 datatype.", examples=["number"])
    required: bool = Field(examples=[True])
    description: str = Field(examples=["How many parties are involved (2 or more)."])
    values: list[dict[str, str]] = Field(description="[{key, name}] for list datatypes.", examples=[[]])


class MatterPublic(BaseModel):
    code: str = Field(examples=["dispute.neighbour"])
    name_zh: str = Field(examples=["邻里纠纷"])
    name_en: str = Field(examples=["Neighbour dispute"])
    group: str = Field(examples=["人民调解 people's mediation"])
    description: str
    sla_hours: int = Field(description="Default deadline after receipt, in hours.", examples=[360])
    anonymous_allowed: bool = Field(examples=[True])
    attributes: list[AttributePublic]


def matter_view(m: Matter) -> MatterPublic:
    return MatterPublic(
        code=m.code,
        name_zh=m.name_zh,
        name_en=m.name_en,
        group=m.group,
        description=m.description,
        sla_hours=m.sla_hours,
        anonymous_allowed=m.anonymous_allowed,
        attributes=[
            AttributePublic(
                code=a.code,
                datatype=a.datatype.value,
                required=a.required,
                description=a.description,
                values=[{"key": k, "name": n} for k, n in a.values],
            )
            for a in m.attributes
        ],
    )


_EXAMPLE: dict[str, Any] = matter_view(MATTERS[2]).model_dump()


@router.get(
    "",
    summary="Every matter the one door accepts",
    responses={200: {"description": "The taxonomy.", "content": {"application/json": {"example": [_EXAMPLE]}}}},
)
async def list_matters() -> list[MatterPublic]:
    return [matter_view(m) for m in MATTERS]


@router.get(
    "/{code}",
    summary="One matter with its attributes",
    responses={
        200: {"description": "The matter.", "content": {"application/json": {"example": _EXAMPLE}}},
        404: {
            "description": "Unknown matter.",
            "content": {"application/json": {"example": {"detail": "unknown matter 'x'"}}},
        },
    },
)
async def get_matter(code: str) -> MatterPublic:
    found = matter(code)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown matter {code!r}")
    return matter_view(found)

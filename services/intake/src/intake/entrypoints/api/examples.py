"""Examples of the native API's answers for the OpenAPI document (one case, seen as each answer shows it)."""

from __future__ import annotations

from typing import Any

CASE_EXAMPLE: dict[str, Any] = {
    "id": "0b7c54a4-5a8e-4c1c-9d55-3f3b8e8f2a10",
    "case_number": "620702-20261125-000042",
    "matter_code": "dispute.neighbour",
    "description": "Water leaks from the flat above into ours.",
    "lat": 38.9326,
    "lon": 100.4498,
    "address": "甘州区 县府街 12号 3单元",
    "channel": "hotline",
    "status": "in_progress",
    "handled_by": "mediation",
    "grid_code": "620702001001001",
    "received_at": "2026-11-25T08:30:00Z",
    "updated_at": "2026-11-25T08:31:10Z",
    "due_at": "2026-12-10T08:30:00Z",
    "linked_reports": 0,
    "handled_since": "2026-11-25T08:31:10Z",
    "attributes": {"parties_count": 2.0},
    "attachments": ["https://files.example/leak.jpg"],
    "reporter": {
        "ref": "rep-3f2a9c0e11d24b7f8a61",
        "name": "张*",
        "phone": "138****5678",
        "id_number": None,
        "masked": True,
    },
    "satisfaction": None,
    "closed_without_feedback": False,
    "return_visit_satisfaction": None,
    "timeline": [
        {
            "kind": "received",
            "actor": "centre:620702",
            "note": "accepted via hotline as 邻里纠纷 (dispute.neighbour); due 2026-12-10T08:30+00:00",
            "at": "2026-11-25T08:30:00Z",
        },
        {"kind": "dispatched", "actor": "centre:620700", "note": "grid 620702001001", "at": "2026-11-25T08:30:02Z"},
        {
            "kind": "task_assigned",
            "actor": "mediation",
            "note": "task 5d0f2b8e for mediation (normal), due 2026-12-10T08:30+00:00",
            "at": "2026-11-25T08:31:10Z",
        },
    ],
}
ERROR_422 = {
    "description": "A bad field, named with its reason; nothing was written.",
    "content": {
        "application/json": {
            "example": {
                "detail": [
                    {
                        "loc": ["body", "reporter", "id_number"],
                        "msg": "check digit does not match (GB 11643 checksum)",
                        "type": "value_error",
                    }
                ]
            }
        }
    },
}

ERROR_400 = {
    "description": "The body is not well-formed JSON text (e.g. not UTF-8); nothing was written.",
    "content": {"application/json": {"example": {"detail": "There was an error parsing the body"}}},
}


def example(value: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": value}}}


LINKED_EXAMPLE: dict[str, Any] = {
    "outcome": "linked",
    "notice": "Your report 620702-20261125-000042-L7 is linked to open case 620702-20261125-000042 of "
    "the same matter nearby; you will follow that case.",
    "report": {
        "receipt": "620702-20261125-000042-L7",
        "received_at": "2026-11-25T09:02:00Z",
        "channel": "hotline",
        "description": "楼上又在漏水 Water again from upstairs.",
        "lat": 38.9327,
        "lon": 100.4499,
        "address": None,
        "attachments": ["https://files.example/ceiling.jpg"],
        "attributes": {"parties_count": 2.0},
        "reporter": {
            "ref": "rep-9a0e…",
            "name": "李*",
            "phone": "139****4321",
            "id_number": None,
            "masked": True,
        },
    },
    **{k: CASE_EXAMPLE[k] for k in ("id", "case_number", "matter_code", "status", "handled_by")},
    **{k: CASE_EXAMPLE[k] for k in ("updated_at", "due_at")},
    "linked_reports": 1,
    "timeline": [{k: t[k] for k in ("kind", "actor", "at")} for t in CASE_EXAMPLE["timeline"]],
}
LINKED_DESCRIPTION = (
    "Linked to an open case: your own report and the case's public status (nothing of the other "
    "residents' reports); or a retried request (the same answer as the first)."
)

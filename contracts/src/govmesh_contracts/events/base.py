"""Base class of every event payload."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class Event(BaseModel):
    """An immutable fact. Subclasses set ``event_type`` (the CloudEvents ``type``) and
    ``key_field`` (the aggregate id that becomes the Kafka key and ``ce_subject``)."""

    # extra="ignore": a consumer on v1 must accept additive fields from a newer producer.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    key_field: ClassVar[str]

    def key(self) -> str:
        return str(getattr(self, self.key_field))

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        schema = cls.model_json_schema(mode="serialization")
        schema["$schema"] = JSON_SCHEMA_DIALECT  # pydantic generates 2020-12; say so, for validators
        schema["$id"] = f"https://govmesh.example/schemas/{cls.event_type}.json"
        schema["x-cloudevents-type"] = cls.event_type
        return schema


class Location(BaseModel):
    """WGS 84 point."""

    model_config = ConfigDict(frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

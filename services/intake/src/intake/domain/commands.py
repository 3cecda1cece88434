"""Commands intake accepts."""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.cases import Channel


@dataclass(frozen=True)
class AcceptCase:
    matter_code: str
    description: str
    channel: Channel
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    idempotency_key: str | None = None

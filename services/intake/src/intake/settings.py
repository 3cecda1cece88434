from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    port: int = 8001
    centre_code: str = "620702"  # administrative-division code of the accepting centre (Ganzhou District, Zhangye)

    # The jurisdiction's bounds (Zhangye city, WGS 84): coordinates outside are rejected.
    bounds_min_lat: float = 37.9
    bounds_max_lat: float = 39.9
    bounds_min_lon: float = 97.3
    bounds_max_lon: float = 102.2

    # Duplicates: a report of the same matter this close to an open case, this soon after it, is linked to it.
    # A window of 0 turns duplicate detection off (e.g. for load tests that post the same matter many times).
    duplicate_distance_m: float = Field(default=100.0, ge=0)
    duplicate_window_s: float = Field(default=24 * 3600, ge=0)

    # Video alarms: alarms of one channel less than this apart are one burst, one case.
    alarm_burst_window_s: float = Field(default=600.0, ge=0)

    # Idempotency-Key: a retried request is recognised for this long after the first one (at least a
    # day: clients retry after timeouts and outages of their own); older keys are pruned.
    idempotency_key_retention_s: float = Field(default=7 * 24 * 3600, ge=24 * 3600)

    # Lists and searches
    page_size_max: int = 200

    # Open311 GeoReport v2 (clients' API keys are in the mesh's keyring: `govmesh-auth api-key`)
    open311_jurisdiction_id: str = "zhangye.gov.cn"
    open311_max_requests: int = 1000
    # GeoReport v2: discovery, services and requests are read without a key (keys are for POST);
    # true takes the reads behind a key with scope cases:read.
    open311_keys_for_reads: bool = False


def get_settings() -> IntakeSettings:
    return IntakeSettings()

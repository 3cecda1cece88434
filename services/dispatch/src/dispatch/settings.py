from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import GridImportSettings, ServiceSettings


class DispatchSettings(ServiceSettings, GridImportSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore", populate_by_name=True)

    service_name: str = "dispatch"
    port: int = 8002
    city_centre_code: str = "620700"  # Zhangye city governance centre (GB/T 2260 code)

    # Assignment
    max_worker_load: int = Field(
        default=10, ge=1, description="Open tasks at which a grid worker counts as overloaded."
    )

    # SLA timers and escalation
    timer_scan_interval_s: float = Field(default=5.0, gt=0, description="How often the persisted timers are scanned.")
    sla_override_s: float | None = Field(
        default=None, gt=0, description="Tests/demo: every deadline (and each escalation step) this many seconds."
    )
    escalation_step_s: float = Field(
        default=24 * 3600, gt=0, description="Time a level above gets after an escalation (unless sla_override_s)."
    )

    # Department webhooks: {"civil_affairs": "https://…"}; JSON in DISPATCH_DEPARTMENT_WEBHOOKS.
    department_webhooks: dict[str, str] = Field(default_factory=dict)
    webhook_secret: str = Field(default="change-me", description="HMAC-SHA256 key for X-Govmesh-Signature.")
    webhook_scan_interval_s: float = Field(default=1.0, gt=0)
    webhook_backoff_base_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    # Grid imports (a full-scale city's GeoJSON is ~3 MB) and element bulk loads (50,000 records,
    # ~10 MB) are larger than the mesh's 1 MiB default; GOVMESH_MAX_BODY_BYTES still overrides.
    max_body_bytes: int = Field(
        default=32 << 20, validation_alias=AliasChoices("GOVMESH_MAX_BODY_BYTES", "max_body_bytes")
    )

    # Where the city's data files are imported from at start when the registry is empty (optional).
    city_data_dir: str | None = None


def get_settings() -> DispatchSettings:
    return DispatchSettings()

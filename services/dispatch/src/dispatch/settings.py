from __future__ import annotations

import base64
import binascii
import secrets

from pydantic import AliasChoices, Field, field_validator, model_validator
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

    # Closing without feedback and return visits (回访)
    feedback_window_s: float = Field(
        default=7 * 24 * 3600, gt=0, description="A resolved case without the resident's feedback this long closes."
    )
    return_visit_share: float = Field(
        default=0.1, ge=0, le=1, description="Share of closed cases that get a return-visit task (chosen by case id)."
    )
    return_visit_due_s: float = Field(default=3 * 24 * 3600, gt=0, description="Time a return-visit task gets.")

    # Department webhooks: {"civil_affairs": "https://…"}; JSON in DISPATCH_DEPARTMENT_WEBHOOKS.
    department_webhooks: dict[str, str] = Field(default_factory=dict)
    webhook_secret: str | None = Field(
        default=None,
        description="Standard Webhooks signing secret, whsec_<base64 of 24–64 random bytes>; required outside "
        "development when DEPARTMENT_WEBHOOKS is set (development without one signs with a per-process random key).",
    )
    webhook_scan_interval_s: float = Field(default=1.0, gt=0)
    webhook_backoff_base_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Deadline of one delivery attempt.")
    webhook_max_attempts: int = Field(
        default=20, ge=1, description="Failed attempts after which a delivery is parked for an operator to resend."
    )

    # Photos a task's assignee takes on site (JPEG, PNG or WebP, recognised by their bytes).
    photo_max_bytes: int = Field(default=5 << 20, ge=1, description="Largest photo accepted (413 beyond).")
    photos_per_task: int = Field(default=6, ge=1, le=50, description="Photos a task may carry (409 beyond).")

    # Grid imports (a full-scale city's GeoJSON is ~3 MB) and element bulk loads (50,000 records,
    # ~10 MB) are larger than the mesh's 1 MiB default; GOVMESH_MAX_BODY_BYTES still overrides.
    max_body_bytes: int = Field(
        default=32 << 20, validation_alias=AliasChoices("GOVMESH_MAX_BODY_BYTES", "max_body_bytes")
    )

    # Where the city's data files are imported from at start when the registry is empty (optional).
    city_data_dir: str | None = None

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(WHSEC_PREFIX):
            raise ValueError("must be whsec_ followed by the base64 of 24 to 64 random bytes (Standard Webhooks)")
        try:
            key = base64.b64decode(value.removeprefix(WHSEC_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the part after whsec_ is not valid base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError(f"the key is {len(key)} bytes; Standard Webhooks wants 24 to 64")
        return value

    @model_validator(mode="after")
    def _secret_outside_development(self) -> DispatchSettings:
        if self.department_webhooks and self.webhook_secret is None and self.environment != "development":
            raise ValueError(
                "DISPATCH_WEBHOOK_SECRET is required outside development when DISPATCH_DEPARTMENT_WEBHOOKS is set "
                "(whsec_ + the base64 of 32 random bytes; see the dispatch README)"
            )
        return self

    def signing_secret(self) -> str:
        """The webhook signing secret; in development without one, a random key for this process
        (departments cannot verify it: set DISPATCH_WEBHOOK_SECRET to test a receiver)."""
        if self.webhook_secret is None:
            self.webhook_secret = WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        return self.webhook_secret


WHSEC_PREFIX = "whsec_"


def get_settings() -> DispatchSettings:
    return DispatchSettings()

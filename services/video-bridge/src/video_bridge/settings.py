from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from govmesh_contracts import MAX_RECORDINGS_PER_EVENT
from govmesh_runtime.settings import GridImportSettings, ServiceSettings
from video_bridge.domain.device_id import parse_device_id

DEFAULT_SIP_PASSWORD = "12345678"  # noqa: S105  (devices' factory default: development only)


class UpperPlatform(BaseModel):
    """An upper platform (provincial / public-security video platform) the bridge registers to
    (GB/T 28181 inter-platform cascade). The password has no default: the upper platform issues it."""

    platform_id: str = Field(description="The upper platform's 20-digit id (type 200).")
    domain: str = Field(default="", description="Its SIP domain; empty = the first 10 digits of its id.")
    host: str
    port: int = Field(default=5060, ge=1, le=65535)
    transport: Literal["UDP", "TCP"] = "UDP"
    password: str = Field(min_length=1, description="Digest password the upper platform gave this bridge.")
    username: str = Field(default="", description="Digest user name; empty = this bridge's server id.")
    register_expires_s: int = Field(default=3600, ge=60, le=86_400)
    keepalive_interval_s: float = Field(default=60.0, gt=0)
    keepalive_max_missed: int = Field(default=3, ge=1)

    @field_validator("platform_id")
    @classmethod
    def _valid_platform_id(cls, value: str) -> str:
        parse_device_id(value)
        return value

    @model_validator(mode="after")
    def _default_domain(self) -> UpperPlatform:
        if not self.domain:
            self.domain = self.platform_id[:10]
        return self


class VideoBridgeSettings(ServiceSettings, GridImportSettings):
    model_config = SettingsConfigDict(env_prefix="VIDEO_BRIDGE_", extra="ignore", populate_by_name=True)

    service_name: str = "video-bridge"
    port: int = 8005

    # SIP endpoint (GB/T 28181)
    sip_enabled: bool = True
    sip_host: str = Field(default="127.0.0.1", description="Address the SIP endpoint binds (UDP and TCP).")
    sip_port: int = Field(default=5060, ge=0, le=65535, description="0 = any free port (tests).")
    sip_advertised_host: str = Field(default="", description="Address put in Via/Contact; empty = sip_host.")
    sip_server_id: str = Field(default="62070200002000000001", description="This platform's 20-digit id (type 200).")
    sip_realm: str = Field(default="", description="Digest realm; empty = the SIP domain (first 10 digits).")
    sip_password: str = Field(default=DEFAULT_SIP_PASSWORD, description="Shared REGISTER password.")
    sip_device_passwords: dict[str, str] = Field(default_factory=dict, description="Per-device passwords (JSON).")
    sip_nonce_secret: str = Field(default="", description="HMAC secret of digest nonces; empty = random per start.")
    sip_nonce_lifetime_s: float = 300.0
    sip_udp_receive_buffer_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=0,
        description="UDP receive buffer asked of the kernel (capped at rmem_max); 0 = OS default.",
    )
    # Device admission and resource limits (per source = per source host)
    sip_lockout_failures: int = Field(default=10, ge=1, description="Failures within the window that lock out.")
    sip_lockout_window_s: float = Field(default=60.0, gt=0)
    sip_lockout_s: float = Field(default=300.0, ge=0, description="How long a device or source stays locked out.")
    sip_challenge_rate: float = Field(default=20.0, gt=0, description="401 challenges per second to one source.")
    sip_challenge_burst: int = Field(default=200, ge=1)
    sip_source_rate: float = Field(default=1000.0, gt=0, description="Messages per second taken from one source.")
    sip_source_burst: int = Field(default=2000, ge=1)
    sip_max_pending: int = Field(default=10_000, ge=1, description="Messages in flight (all sources).")
    sip_max_pending_per_source: int = Field(default=1000, ge=1)
    sip_max_client_transactions: int = Field(default=10_000, ge=1, description="Our requests awaiting answers.")
    sip_tcp_max_connections: int = Field(default=4096, ge=1)
    sip_tcp_max_per_source: int = Field(default=64, ge=1)
    sip_tcp_idle_timeout_s: float = Field(default=300.0, gt=0, description="A connection silent this long is closed.")
    sip_tcp_read_timeout_s: float = Field(default=10.0, gt=0, description="A message begun must end within this.")
    admit_unknown_devices: bool = Field(default=True, description="Admit devices not imported/configured.")
    known_devices: list[str] = Field(default_factory=list, description="Device ids admitted besides imported ones.")
    register_expires_max_s: int = 7200
    register_expires_min_s: int = 30

    # Liveness
    keepalive_interval_s: float = Field(default=60.0, gt=0)
    keepalive_max_missed: int = Field(default=3, ge=1)
    liveness_check_interval_s: float = Field(default=0.0, ge=0, description="0 = interval / 4, at most 10 s.")

    # Queries
    catalog_on_register: bool = True
    query_timeout_s: float = Field(default=10.0, gt=0)
    assembly_timeout_s: float = Field(default=30.0, gt=0)

    # Cascade to upper platforms (GB/T 28181 inter-platform)
    upper_platforms: list[UpperPlatform] = Field(
        default_factory=list, description="JSON list of the upper platforms this bridge registers to."
    )
    cascade_catalog_items_per_message: int = Field(
        default=20, ge=1, le=100, description="Catalog items per MESSAGE sent upward (bounded datagrams)."
    )
    cascade_retry_min_s: float = Field(default=1.0, gt=0, description="First wait before registering again.")
    cascade_retry_max_s: float = Field(default=300.0, gt=0, description="Longest wait (doubling backoff).")
    cascade_notify_interval_s: float = Field(
        default=5.0, gt=0, description="How often channel changes are sent to catalog subscribers."
    )

    # Grids and alarms
    grids_file: Path | None = Field(default=None, description="grids.geojson imported at start when set.")

    # Evidence follows the case: searched by the bridge itself for video-alarm cases and these matters
    evidence_matters: list[str] = Field(default_factory=list, description="Matter codes whose cases get evidence.")
    evidence_excluded_matters: list[str] = Field(
        default_factory=lambda: ["video.device_fault"],
        description="Video cases without a search (a dead camera's maintenance case has no footage to find).",
    )
    evidence_radius_m: float = Field(default=300.0, gt=0, le=5000, description="Channels this near the case's place.")
    evidence_before_s: float = Field(default=900.0, ge=0, le=3 * 86400, description="Window start before the case.")
    evidence_after_s: float = Field(default=300.0, ge=0, le=3 * 86400, description="Window end after the case.")
    evidence_page_size: int = Field(
        default=MAX_RECORDINGS_PER_EVENT, ge=1, le=MAX_RECORDINGS_PER_EVENT, description="Recordings per event."
    )
    evidence_max_attempts: int = Field(default=3, ge=1)
    case_retention_days: float = Field(default=90.0, gt=0, description="How long the bridge remembers a case.")

    # Dead cameras: a channel offline longer than this opens one maintenance case (0 = never)
    fault_after_s: float = Field(default=3600.0, ge=0)
    case_work_interval_s: float = Field(default=10.0, gt=0, description="Fault checks and evidence searches.")

    @field_validator("sip_server_id")
    @classmethod
    def _valid_server_id(cls, value: str) -> str:
        parse_device_id(value)
        return value

    def insecure_defaults(self) -> list[str]:
        problems = super().insecure_defaults()
        if self.sip_password == DEFAULT_SIP_PASSWORD:
            problems.append(f"{self.env_name('sip_password')}: the SIP REGISTER password is the default")
        weak = sorted(
            device for device, password in self.sip_device_passwords.items() if password == DEFAULT_SIP_PASSWORD
        )
        if weak:
            problems.append(f"{self.env_name('sip_device_passwords')}: the default password for {', '.join(weak)}")
        weak_upper = sorted(p.platform_id for p in self.upper_platforms if p.password == DEFAULT_SIP_PASSWORD)
        if weak_upper:
            problems.append(f"{self.env_name('upper_platforms')}: the default password for {', '.join(weak_upper)}")
        if self.admit_unknown_devices:
            problems.append(
                f"{self.env_name('admit_unknown_devices')}: devices that were never imported or configured are admitted"
            )
        return problems

    @property
    def admits_unknown(self) -> bool:
        """In production only imported or configured devices are admitted, whatever the setting."""
        return self.admit_unknown_devices and self.environment != "production"

    @property
    def realm(self) -> str:
        return self.sip_realm or self.sip_server_id[:10]

    @property
    def liveness_check_every_s(self) -> float:
        if self.liveness_check_interval_s > 0:
            return self.liveness_check_interval_s
        return min(self.keepalive_interval_s / 4, 10.0)


def get_settings() -> VideoBridgeSettings:
    return VideoBridgeSettings()

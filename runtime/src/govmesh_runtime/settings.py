"""Settings shared by every service, read from the environment.

Per-service values use the service's prefix (``INTAKE_PORT``, ``DISPATCH_DATABASE_URL``);
mesh-wide values have none (``KAFKA_BOOTSTRAP_SERVERS``, ``GOVMESH_DATA_DIR``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    # The repository's .data folder when run from a checkout; the working directory otherwise.
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Makefile").exists() and (parent / "contracts").is_dir():
            return parent / ".data"
    return Path.cwd() / ".data"


class ServiceSettings(BaseSettings):
    """Subclass per service with ``env_prefix`` set and the service's defaults."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite file under the data dir.")
    data_dir: Path = Field(
        default_factory=_default_data_dir, validation_alias=AliasChoices("GOVMESH_DATA_DIR", "data_dir")
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
        description="OTLP/HTTP collector base URL; spans are exported only when set.",
    )
    environment: str = Field(
        default="development",
        validation_alias=AliasChoices("GOVMESH_ENV", "environment"),
        description="development: a missing keyring is created with a random secret; elsewhere it is an error.",
    )
    keyring: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("GOVMESH_KEYRING", "keyring"),
        description="Client credentials (govmesh-auth); default <data dir>/auth/keyring.json.",
    )
    # OpenID Connect (docs/security.md): with an issuer, bearer tokens are that provider's, verified
    # by its JWKS; the keyring's HS256 tokens are refused (its API keys still work).
    oidc_issuer: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GOVMESH_OIDC_ISSUER", "oidc_issuer"),
        description="Issuer URL of the OIDC provider, e.g. http://127.0.0.1:8180/realms/govmesh (empty: keyring only).",
    )
    oidc_audience: str | None = Field(
        default=None,
        description="The audience this service accepts (<PREFIX>OIDC_AUDIENCE, e.g. INTAKE_OIDC_AUDIENCE);"
        " default govmesh-<service name>.",
    )
    oidc_algorithms: str = Field(
        default="RS256,ES256", validation_alias=AliasChoices("GOVMESH_OIDC_ALGORITHMS", "oidc_algorithms")
    )
    oidc_roles_claim: str = Field(
        default="realm_access.roles", validation_alias=AliasChoices("GOVMESH_OIDC_ROLES_CLAIM", "oidc_roles_claim")
    )
    oidc_place_claim: str = Field(
        default="place", validation_alias=AliasChoices("GOVMESH_OIDC_PLACE_CLAIM", "oidc_place_claim")
    )
    oidc_subject_claim: str = Field(
        default="preferred_username",
        validation_alias=AliasChoices("GOVMESH_OIDC_SUBJECT_CLAIM", "oidc_subject_claim"),
        description="The claim that names the actor (falls back to sub).",
    )
    oidc_jwks_min_refresh_s: float = Field(
        default=10,
        validation_alias=AliasChoices("GOVMESH_OIDC_JWKS_MIN_REFRESH_S", "oidc_jwks_min_refresh_s"),
        description="A token with an unknown key id refetches the JWKS at most this often.",
    )
    # Limits (OWASP API4): per-client rate, body size; 0 turns the rate limit off.
    rate_limit_per_s: float = Field(
        default=100, validation_alias=AliasChoices("GOVMESH_RATE_LIMIT_PER_S", "rate_limit_per_s")
    )
    rate_limit_burst: float = Field(
        default=200, validation_alias=AliasChoices("GOVMESH_RATE_LIMIT_BURST", "rate_limit_burst")
    )
    max_body_bytes: int = Field(
        default=1 << 20, validation_alias=AliasChoices("GOVMESH_MAX_BODY_BYTES", "max_body_bytes")
    )
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(
        default="FULL",
        validation_alias=AliasChoices("GOVMESH_SQLITE_SYNCHRONOUS", "sqlite_synchronous"),
        description="SQLite's synchronous pragma: FULL keeps every acknowledged commit on power loss; "
        "NORMAL only for measuring what that costs (bench).",
    )
    max_event_bytes: int | None = Field(
        default=None,
        ge=1024,
        validation_alias=AliasChoices("GOVMESH_MAX_EVENT_BYTES", "max_event_bytes"),
        description="Refuse events larger than this when they are written (below the topics' own"
        " max.message.bytes from the contracts registry, e.g. for a cluster with smaller limits).",
    )
    migrate_on_start: bool = True
    migration_database_url: str = Field(
        default="",
        description="PostgreSQL: the owner role migrations run as (e.g. postgresql://owner:pw@host/intake); the "
        "service's own database_url role then gets rows only, no DDL, and the audit log read + append. "
        "Empty: migrations run as database_url.",
    )
    consumers_enabled: bool = True

    # Outbox relay
    relay_batch_size: int = 500
    relay_poll_interval_s: float = 0.5
    outbox_retention_s: float = 7 * 24 * 3600

    # Consumer loop
    consumer_max_retries: int = 3
    consumer_retry_backoff_s: float = 0.2
    consumer_batch_size: int = 200

    def resolved_oidc_audience(self) -> str:
        return self.oidc_audience or f"govmesh-{self.service_name}"

    def keyring_path(self) -> Path:
        return self.keyring or self.data_dir / "auth" / "keyring.json"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        db_dir = self.data_dir / "db"
        db_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{db_dir / (self.service_name + '.sqlite')}"


class GridImportSettings(BaseSettings):
    """Mixed into the settings of the services that import grid boundaries (dispatch, policing,
    video-bridge): the geometry checks of an import (``govmesh_runtime.geo.GeometryRules``)."""

    grid_tolerance: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of the smaller grid's area two imported grids may overlap by, and of a grid's area "
        "that may lie outside the city's outline (digitising slivers), before the import is refused.",
    )
    city_outline_file: Path | None = Field(
        default=None,
        description="GeoJSON of the city's outline (the city generator writes outline.geojson); imported grids "
        "must lie within it. Unset: only overlaps are checked.",
    )

"""Settings shared by every service, read from the environment.

Per-service values use the service's prefix (``INTAKE_PORT``, ``DISPATCH_DATABASE_URL``);
mesh-wide values have none (``KAFKA_BOOTSTRAP_SERVERS``, ``GOVMESH_DATA_DIR``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from govmesh_runtime.kafka import KafkaSecurity, KafkaSettingsError


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
    # How the service connects to Kafka (docs/deploy.md): mesh-wide protocol, mechanism and CA;
    # its own user and password (<PREFIX>KAFKA_SASL_USERNAME / _PASSWORD: one principal per service).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism")
    )
    kafka_ssl_cafile: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SSL_CAFILE", "kafka_ssl_cafile"),
        description="PEM file of the CA that signed the brokers' certificates (default: the system's CAs).",
    )
    kafka_sasl_username: str | None = Field(default=None, description="Default: the service's name.")
    kafka_sasl_password: str | None = None
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
    # Before authentication a client is only its address (a gateway or NAT may carry many
    # principals): a wider budget, default 10 × the per-principal one.
    rate_limit_per_address_s: float | None = Field(
        default=None, validation_alias=AliasChoices("GOVMESH_RATE_LIMIT_PER_ADDRESS_S", "rate_limit_per_address_s")
    )
    rate_limit_address_burst: float | None = Field(
        default=None, validation_alias=AliasChoices("GOVMESH_RATE_LIMIT_ADDRESS_BURST", "rate_limit_address_burst")
    )
    # The HTTP server: a slow or greedy client cannot hold the service.
    http_limit_concurrency: int = Field(
        default=1000, validation_alias=AliasChoices("GOVMESH_HTTP_LIMIT_CONCURRENCY", "http_limit_concurrency")
    )
    http_timeout_keep_alive_s: float = Field(
        default=5, validation_alias=AliasChoices("GOVMESH_HTTP_TIMEOUT_KEEP_ALIVE_S", "http_timeout_keep_alive_s")
    )
    http_header_timeout_s: float = Field(
        default=10,
        gt=0,
        validation_alias=AliasChoices("GOVMESH_HTTP_HEADER_TIMEOUT_S", "http_header_timeout_s"),
        description="A request's headers must arrive within this (from the connection or the previous answer).",
    )
    http_body_timeout_s: float = Field(
        default=30,
        gt=0,
        validation_alias=AliasChoices("GOVMESH_HTTP_BODY_TIMEOUT_S", "http_body_timeout_s"),
        description="Each part of a request's body must arrive within this (408 otherwise).",
    )
    http_max_header_bytes: int = Field(
        default=64 * 1024, validation_alias=AliasChoices("GOVMESH_HTTP_MAX_HEADER_BYTES", "http_max_header_bytes")
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
    relay_lease_s: float = Field(
        default=10,
        ge=1,
        validation_alias=AliasChoices("GOVMESH_RELAY_LEASE_S", "relay_lease_s"),
        description="PostgreSQL, several instances: a relay leader that hangs loses its leadership after this;"
        " a standby takes over within it plus 2 s.",
    )
    outbox_retention_s: float = 7 * 24 * 3600
    outbox_payload_retention_s: float = Field(
        default=24 * 3600,
        ge=0,
        validation_alias=AliasChoices("GOVMESH_OUTBOX_PAYLOAD_RETENTION_S", "outbox_payload_retention_s"),
        description="A sent event's payload (which may name a resident) is cleared after this many seconds.",
    )

    # Bounded tables (govmesh_runtime.retention): a periodic job on every instance deletes what is older.
    prune_interval_s: float = Field(
        default=3600, gt=0, validation_alias=AliasChoices("GOVMESH_PRUNE_INTERVAL_S", "prune_interval_s")
    )
    topic_retention_s: float = Field(
        default=7 * 24 * 3600,
        gt=0,
        validation_alias=AliasChoices("GOVMESH_TOPIC_RETENTION_S", "topic_retention_s"),
        description="The brokers' retention of the topics this service consumes (retention.ms; Kafka's"
        " default seven days): how long a record can be delivered again. The inbox's floor.",
    )
    inbox_retention_s: float = Field(
        default=14 * 24 * 3600,
        gt=0,
        validation_alias=AliasChoices("GOVMESH_INBOX_RETENTION_S", "inbox_retention_s"),
        description="Applied events' ids are kept this long (at least GOVMESH_TOPIC_RETENTION_S), so a"
        " redelivered record is still recognised and dropped.",
    )

    # Consumer loop
    consumer_max_retries: int = 3
    consumer_retry_backoff_s: float = 0.2
    consumer_batch_size: int = 200

    @model_validator(mode="after")
    def _inbox_outlives_the_topics(self) -> ServiceSettings:
        # Below the floor, a record the broker can still deliver (a crash before the offset commit,
        # a group reset to the earliest offset) would find no inbox row and be applied twice.
        if self.inbox_retention_s < self.topic_retention_s:
            raise ValueError(
                f"GOVMESH_INBOX_RETENTION_S ({self.inbox_retention_s:g} s) is below GOVMESH_TOPIC_RETENTION_S"
                f" ({self.topic_retention_s:g} s): an event redelivered from the topic would be applied twice"
            )
        return self

    def kafka_security(self) -> KafkaSecurity:
        """How this service's clients connect; a missing password names the variable to set."""
        try:
            return KafkaSecurity(
                protocol=self.kafka_security_protocol,
                sasl_mechanism=self.kafka_sasl_mechanism,
                username=self.kafka_sasl_username or self.service_name,
                password=self.kafka_sasl_password,
                cafile=self.kafka_ssl_cafile,
            )
        except KafkaSettingsError as exc:
            raise KafkaSettingsError(
                f"{self.service_name}: {exc} (this service: {self.env_name('kafka_sasl_password')})"
            ) from None

    def resolved_oidc_audience(self) -> str:
        return self.oidc_audience or f"govmesh-{self.service_name}"

    def keyring_path(self) -> Path:
        return self.keyring or self.data_dir / "auth" / "keyring.json"

    def address_rate_limit(self) -> tuple[float, float]:
        """(requests per second, burst) per client address, before authentication."""
        rate = self.rate_limit_per_address_s
        burst = self.rate_limit_address_burst
        return (
            10 * self.rate_limit_per_s if rate is None else rate,
            10 * self.rate_limit_burst if burst is None else burst,
        )

    def env_name(self, field: str) -> str:
        """The environment variable that sets ``field`` (what an operator must change)."""
        alias = type(self).model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return f"{self.model_config.get('env_prefix', '')}{field}".upper()

    def insecure_defaults(self) -> list[str]:
        """Settings still at a development default that production must not run with, each as
        "<VARIABLE>: why". Services add theirs (webhook key, SIP password …)."""
        problems = []
        keyring = self.keyring_path()
        if keyring.exists() and _development_keyring(keyring):
            problems.append(
                f"{self.env_name('keyring')}: {keyring} is a development keyring (created on the fly);"
                " make one with `govmesh-auth init`"
            )
        return problems

    def refuse_insecure_defaults(self) -> None:
        """With ``GOVMESH_ENV=production`` a service does not start on a default secret."""
        if self.environment != "production":
            return
        problems = self.insecure_defaults()
        if problems:
            raise InsecureSettings(
                f"{self.service_name} refuses to start with GOVMESH_ENV=production: " + "; ".join(problems)
            )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        db_dir = self.data_dir / "db"
        db_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{db_dir / (self.service_name + '.sqlite')}"


class InsecureSettings(RuntimeError):
    """A production service configured with a development default (a known secret)."""


def _development_keyring(path: Path) -> bool:
    """Keyrings that services create for themselves in development say so; `govmesh-auth init`'s don't."""
    try:
        return bool(json.loads(path.read_text()).get("development", False))
    except (OSError, ValueError):
        return False


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

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class MediationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIATION_", extra="ignore", populate_by_name=True)

    service_name: str = "mediation"
    port: int = 8003
    seed_file: Path | None = None  # studios and mediators (JSON) loaded at start-up, upserted by id
    sweep_interval_s: float = 60.0  # how often the one-month and judicial-confirmation deadlines are checked


def get_settings() -> MediationSettings:
    return MediationSettings()

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class MediationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIATION_", extra="ignore", populate_by_name=True)

    service_name: str = "mediation"
    port: int = 8003


def get_settings() -> MediationSettings:
    return MediationSettings()

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import GridImportSettings, ServiceSettings


class PolicingSettings(ServiceSettings, GridImportSettings):
    model_config = SettingsConfigDict(env_prefix="POLICING_", extra="ignore", populate_by_name=True)

    service_name: str = "policing"
    port: int = 8004


def get_settings() -> PolicingSettings:
    return PolicingSettings()

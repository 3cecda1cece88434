from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore", populate_by_name=True)

    service_name: str = "dispatch"
    port: int = 8002
    city_centre_code: str = "620700"  # Zhangye city governance centre (GB/T 2260 code)


def get_settings() -> DispatchSettings:
    return DispatchSettings()

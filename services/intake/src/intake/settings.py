from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    port: int = 8001
    centre_code: str = "620702"  # administrative-division code of the accepting centre (Ganzhou District, Zhangye)


def get_settings() -> IntakeSettings:
    return IntakeSettings()

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class PolicingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="POLICING_", extra="ignore", populate_by_name=True)

    service_name: str = "policing"
    port: int = 8004
    api_token: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Static bearer token standing in for the policing scope until authentication (issue 9) lands. "
            "Empty: every policing-scope endpoint answers 401 (fail closed)."
        ),
    )


def get_settings() -> PolicingSettings:
    return PolicingSettings()

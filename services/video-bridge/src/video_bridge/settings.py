from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class VideoBridgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VIDEO_BRIDGE_", extra="ignore", populate_by_name=True)

    service_name: str = "video-bridge"
    port: int = 8005


def get_settings() -> VideoBridgeSettings:
    return VideoBridgeSettings()

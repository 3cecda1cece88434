"""The console's settings (``CONSOLE_*``; the OIDC issuer and the keyring are mesh-wide)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from govmesh_runtime.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", populate_by_name=True)

    service_name: str = "console"
    port: int = 8000
    # Where the services' REST APIs are (the console never reads their databases).
    intake_url: str = "http://127.0.0.1:8001"
    dispatch_url: str = "http://127.0.0.1:8002"
    mediation_url: str = "http://127.0.0.1:8003"
    policing_url: str = "http://127.0.0.1:8004"
    video_url: str = "http://127.0.0.1:8005"
    # The city's map tiles under the grid map: an XYZ/WMTS URL template with {z}, {x}, {y}
    # (e.g. a Tianditu WMTS GetTile URL with its tk); empty: the grids are drawn as vectors alone.
    map_tiles: str = ""
    # Zoom level of the tiles fetched for the map (a city: 12..14).
    map_tiles_zoom: int = Field(default=13, ge=1, le=18)
    # The OIDC client of the console at the issuer (public client, authorization code + PKCE).
    oidc_client_id: str = "govmesh-console"
    # The console's own address as the browser sees it (the OIDC redirect URI is built from it);
    # empty: taken from each request.
    public_url: str = ""
    # Development sign-in (a chosen role and place, token from the local keyring): lifetime.
    dev_token_ttl_s: int = Field(default=900, ge=60, le=12 * 3600)
    # A session without a request for this long is forgotten.
    session_idle_s: int = Field(default=8 * 3600, ge=60)
    # Where sessions are kept so a restart signs nobody out (SQLite, owner-only); empty: the
    # data directory's console/sessions.sqlite; "memory": this process only.
    sessions_file: str = ""
    # Set on https deployments so the session cookie is never sent in clear.
    cookie_secure: bool = False
    page_size: int = Field(default=20, ge=5, le=200)
    # Before submitting, open cases of the same matter this near are shown as possible duplicates.
    duplicate_radius_m: float = Field(default=100.0, ge=0)

    def resolved_sessions_file(self) -> Path | None:
        if self.sessions_file == "memory":
            return None
        return Path(self.sessions_file) if self.sessions_file else self.data_dir / "console" / "sessions.sqlite"

    @property
    def development(self) -> bool:
        return self.environment == "development"


def get_settings() -> ConsoleSettings:
    return ConsoleSettings()

"""No default secret in production (issue 14, item 6): with ``GOVMESH_ENV=production`` a
service refuses to start while a secret is still a development default — the keyring a
service made for itself, dispatch's webhook key, video-bridge's SIP password, admission of
unknown devices — and the error names the setting to change."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dispatch.bootstrap import create_app as dispatch_app
from dispatch.settings import DispatchSettings
from govmesh_runtime import auth_cli
from govmesh_runtime.auth import Keyring
from govmesh_runtime.settings import InsecureSettings
from intake.bootstrap import create_app as intake_app
from intake.settings import IntakeSettings
from video_bridge.bootstrap import create_app as bridge_app
from video_bridge.settings import VideoBridgeSettings


@pytest.fixture
def production_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "prod" / "keyring.json"
    monkeypatch.setenv("GOVMESH_KEYRING", str(path))
    assert auth_cli.main(["init"]) == 0
    return path


def _production(**values: Any) -> dict[str, Any]:
    return {"environment": "production", "consumers_enabled": False, **values}


def test_a_keyring_a_service_made_for_itself_is_refused_in_production(tmp_path: Path, production_keyring: Path) -> None:
    development = tmp_path / "dev" / "keyring.json"
    Keyring.load(development, development=True)  # what a service does on a fresh machine
    with pytest.raises(InsecureSettings, match=f"GOVMESH_KEYRING: {development} is a development keyring"):
        intake_app(IntakeSettings(**_production(data_dir=tmp_path, keyring=development)))
    intake_app(IntakeSettings(**_production(data_dir=tmp_path, keyring=production_keyring)))  # starts
    # development keeps working with it
    intake_app(IntakeSettings(data_dir=tmp_path, keyring=development, consumers_enabled=False))


def test_dispatch_has_no_webhook_key_to_default_to_in_production(tmp_path: Path, production_keyring: Path) -> None:
    hooks = {"civil_affairs": "https://civil-affairs.example/tasks"}
    with pytest.raises(ValidationError, match="DISPATCH_WEBHOOK_SECRET is required outside development"):
        DispatchSettings(**_production(data_dir=tmp_path, keyring=production_keyring, department_webhooks=hooks))
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    dispatch_app(
        DispatchSettings(
            **_production(
                data_dir=tmp_path, keyring=production_keyring, department_webhooks=hooks, webhook_secret=secret
            )
        )
    )
    dispatch_app(DispatchSettings(**_production(data_dir=tmp_path, keyring=production_keyring)))  # no webhooks


def test_the_bridge_refuses_the_default_sip_password_and_unknown_devices_in_production(
    tmp_path: Path, production_keyring: Path
) -> None:
    settings = VideoBridgeSettings(**_production(data_dir=tmp_path, keyring=production_keyring))
    with pytest.raises(InsecureSettings) as refused:
        bridge_app(settings)
    assert "VIDEO_BRIDGE_SIP_PASSWORD: the SIP REGISTER password is the default" in str(refused.value)
    assert "VIDEO_BRIDGE_ADMIT_UNKNOWN_DEVICES" in str(refused.value)
    own_password = settings.model_copy(update={"sip_password": "a-city-password"})
    with pytest.raises(InsecureSettings, match="VIDEO_BRIDGE_ADMIT_UNKNOWN_DEVICES") as refused:
        bridge_app(own_password)
    assert "SIP_PASSWORD" not in str(refused.value)
    weak_device = own_password.model_copy(
        update={"admit_unknown_devices": False, "sip_device_passwords": {"62070200001320000001": "12345678"}}
    )
    with pytest.raises(InsecureSettings, match="VIDEO_BRIDGE_SIP_DEVICE_PASSWORDS: the default password for 6207"):
        bridge_app(weak_device)
    bridge_app(own_password.model_copy(update={"admit_unknown_devices": False}))


def test_the_process_exits_naming_the_setting(tmp_path: Path, production_keyring: Path) -> None:
    env = {
        **os.environ,
        "GOVMESH_ENV": "production",
        "GOVMESH_DATA_DIR": str(tmp_path),
        "VIDEO_BRIDGE_ADMIT_UNKNOWN_DEVICES": "false",
        "VIDEO_BRIDGE_PORT": "0",
    }
    started = subprocess.run(
        [sys.executable, "-m", "video_bridge"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert started.returncode != 0
    assert "VIDEO_BRIDGE_SIP_PASSWORD: the SIP REGISTER password is the default" in started.stderr

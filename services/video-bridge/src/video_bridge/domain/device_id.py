"""GB/T 28181 20-digit codes: centre (administrative division) 8, industry 2, type 3,
network 1, serial 6."""

from __future__ import annotations

from dataclasses import dataclass

TYPE_NAMES = {
    "111": "DVR",
    "112": "video server",
    "113": "encoder",
    "114": "decoder",
    "115": "video switching matrix",
    "116": "audio switching matrix",
    "117": "alarm controller",
    "118": "NVR",
    "121": "checkpoint camera",
    "130": "HVR",
    "131": "camera",
    "132": "IPC",
    "133": "display",
    "134": "alarm input",
    "135": "alarm output",
    "136": "voice input",
    "137": "voice output",
    "138": "mobile",
    "200": "central signalling server",
    "205": "alarm server",
    "215": "business group",
    "216": "virtual organisation",
    "300": "central user",
    "400": "end user",
    "502": "video analysis",
}
CHANNEL_TYPES = frozenset({"121", "131", "132", "134", "135", "136", "137", "138"})
# GB/T 2260 province-level codes (first two digits of the centre code).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)


class InvalidDeviceId(ValueError):
    """Not a GB/T 28181 code, with the reason."""


@dataclass(frozen=True)
class DeviceId:
    value: str

    @property
    def centre(self) -> str:
        return self.value[:8]

    @property
    def industry(self) -> str:
        return self.value[8:10]

    @property
    def type_code(self) -> str:
        return self.value[10:13]

    @property
    def network(self) -> str:
        return self.value[13]

    @property
    def serial(self) -> str:
        return self.value[14:]

    @property
    def domain(self) -> str:
        """The SIP domain: the first 10 digits."""
        return self.value[:10]

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type_code, "unknown")

    @property
    def is_channel(self) -> bool:
        return self.type_code in CHANNEL_TYPES

    def __str__(self) -> str:
        return self.value


def parse_device_id(value: str | None) -> DeviceId:
    if value is None or value == "":
        raise InvalidDeviceId("missing")
    if len(value) != 20:
        raise InvalidDeviceId(f"must be 20 digits, got {len(value)} characters")
    if not value.isascii() or not value.isdigit():
        raise InvalidDeviceId("must be digits only")
    if int(value[:2]) not in PROVINCES:
        raise InvalidDeviceId(f"centre code {value[:8]} does not start with a GB/T 2260 province code")
    return DeviceId(value)


def is_device_id(value: str | None) -> bool:
    try:
        parse_device_id(value)
    except InvalidDeviceId:
        return False
    return True

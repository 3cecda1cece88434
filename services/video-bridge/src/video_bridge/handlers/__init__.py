"""Video-bridge's handlers: registry changes and the events they emit, one unit of work each,
a module per concern.

- ``devices``: admission, registration, keepalives and silence (liveness);
- ``channels``: the catalog and the device's own answers (DeviceInfo, DeviceStatus);
- ``alarms``: alarms from devices and webhooks;
- ``evidence``: recordings attached to cases, and the cases learnt from intake;
- ``faults``: dead cameras;
- ``common``: what they share.

The names below are re-exported so that ``from video_bridge import handlers`` and
``handlers.<name>`` keep working.
"""

from video_bridge.domain.sip import Peer
from video_bridge.handlers.alarms import record_alarm
from video_bridge.handlers.channels import apply_catalog, import_channel_records, set_channel_grid, store_device_answer
from video_bridge.handlers.common import parse_device_id_or_none
from video_bridge.handlers.devices import (
    is_admitted,
    keepalive,
    mark_timed_out,
    record_seen,
    register,
    registered_device,
    set_device_secret,
    unregister,
)
from video_bridge.handlers.evidence import (
    BRIDGE,
    SEARCH_CASES_SINCE,
    attach_evidence,
    claim_evidence_searches,
    forget_old_cases,
    learn_case,
)
from video_bridge.handlers.faults import clear_faults, open_faults

__all__ = [
    "BRIDGE",
    "SEARCH_CASES_SINCE",
    "Peer",
    "apply_catalog",
    "attach_evidence",
    "claim_evidence_searches",
    "clear_faults",
    "forget_old_cases",
    "import_channel_records",
    "is_admitted",
    "keepalive",
    "learn_case",
    "mark_timed_out",
    "open_faults",
    "parse_device_id_or_none",
    "record_alarm",
    "record_seen",
    "register",
    "registered_device",
    "set_channel_grid",
    "set_device_secret",
    "store_device_answer",
    "unregister",
]

"""Every subscription is exercised on the real broker.

For every (topic, event type, consuming service) that the services register (their
consumer specs, as their composition roots build them), at least one test carries
``@pytest.mark.exercises(topic, event_type, service)``: it publishes that event on the
real Kafka and checks the consumer's effect. A new subscription without such a test fails
here, with the list of what is missing.

The markers are read statically (ast) from every test file, so this test needs no broker
and does not import the other tests. ``event_type`` may be the class name
(``ViolenceRiskFlagged``) or the CloudEvents type (``gov.mediation.dispute.violence-risk-flagged``);
``service`` the service's name (``video-bridge``) or package (``video_bridge``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from govmesh_contracts.topics import EVENT_TYPES, TOPICS, topic_for
from govmesh_runtime.consumer import ConsumerSpec

ROOT = Path(__file__).resolve().parents[2]
TEST_DIRS = [ROOT / "tests", *sorted((ROOT / "services").glob("*/tests"))]

Triple = tuple[str, str, str]


def _apps(tmp_path: Path) -> dict[str, FastAPI]:
    """Each service's app from its own composition root (built, not started: no I/O)."""
    from dispatch.bootstrap import create_app as dispatch_app
    from dispatch.settings import DispatchSettings
    from intake.bootstrap import create_app as intake_app
    from intake.settings import IntakeSettings
    from mediation.bootstrap import create_app as mediation_app
    from mediation.settings import MediationSettings
    from policing.bootstrap import create_app as policing_app
    from policing.settings import PolicingSettings
    from video_bridge.bootstrap import create_app as video_bridge_app
    from video_bridge.settings import VideoBridgeSettings

    builders: dict[str, tuple[Callable[..., FastAPI], Any]] = {
        "intake": (intake_app, IntakeSettings),
        "dispatch": (dispatch_app, DispatchSettings),
        "mediation": (mediation_app, MediationSettings),
        "policing": (policing_app, PolicingSettings),
        "video-bridge": (video_bridge_app, VideoBridgeSettings),
    }
    return {name: build(settings(data_dir=tmp_path / name)) for name, (build, settings) in builders.items()}


def registered(tmp_path: Path) -> set[Triple]:
    triples: set[Triple] = set()
    for service, app in _apps(tmp_path).items():
        specs: tuple[ConsumerSpec, ...] = app.state.consumer_specs
        for spec in specs:
            for event_class in spec.handlers:
                topic = topic_for(event_class).name
                assert topic in spec.topics, f"{service}'s {spec.name} handles {event_class.__name__} from {topic}, "
                "which it does not subscribe to"
                triples.add((topic, event_class.__name__, service))
    return triples


def _marker_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "exercises"
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "mark"
        ):
            yield node


def _normalise(topic: str, event_type: str, service: str) -> Triple:
    cls = EVENT_TYPES.get(event_type)
    return topic, cls.__name__ if cls else event_type, service.replace("_", "-")


def exercised() -> tuple[set[Triple], list[str]]:
    """The triples of every ``pytest.mark.exercises(...)`` in the test files, and the markers
    that are not three string literals (which this check could not read)."""
    found: set[Triple] = set()
    unreadable: list[str] = []
    for folder in TEST_DIRS:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for call in _marker_calls(tree):
                args = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if len(args) != 3 or len(call.args) != 3 or call.keywords:
                    unreadable.append(f"{path.relative_to(ROOT)}:{call.lineno}")
                    continue
                found.add(_normalise(*args))
    return found, unreadable


def test_every_registered_subscription_has_a_test_on_the_real_broker(tmp_path: Path) -> None:
    subscriptions = registered(tmp_path)
    assert len(subscriptions) > 0
    marked, unreadable = exercised()
    assert unreadable == [], f"exercises markers need three string literals: {unreadable}"
    missing = sorted(subscriptions - marked)
    assert missing == [], "subscriptions no test exercises on the real broker (topic, event type, service):\n" + (
        "\n".join(f"  {t}" for t in missing)
    )


def test_every_marker_names_a_registered_subscription(tmp_path: Path) -> None:
    """A marker for a subscription that does not exist (a typo, a removed handler) proves nothing."""
    stale = sorted(exercised()[0] - registered(tmp_path))
    assert stale == [], f"exercises markers that name no registered subscription: {stale}"


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (("mediation.disputes.v1", "ViolenceRiskFlagged", "policing"),) * 2,
        (
            ("mediation.disputes.v1", "gov.mediation.dispute.violence-risk-flagged", "policing"),
            ("mediation.disputes.v1", "ViolenceRiskFlagged", "policing"),
        ),
        (
            ("video.alarms.v1", "VideoAlarmRaised", "video_bridge"),
            ("video.alarms.v1", "VideoAlarmRaised", "video-bridge"),
        ),
    ],
)
def test_markers_name_events_by_class_or_cloudevents_type(marker: Triple, expected: Triple) -> None:
    assert _normalise(*marker) == expected


def test_the_registry_names_every_consumer_the_broker_acls_must_let_read(tmp_path: Path) -> None:
    """``Topic.consumers`` (what ``govmesh-topics acls`` grants READ on) is exactly what the services
    subscribe to; their consumer groups are named ``<service>-…`` (the ACL's group prefix)."""
    subscribed: set[tuple[str, str]] = set()
    for service, app in _apps(tmp_path).items():
        for spec in app.state.consumer_specs:
            assert spec.name.startswith(f"{service}-"), f"{service}'s consumer group {spec.name} is not {service}-…"
            subscribed |= {(topic, service) for topic in spec.topics}
    declared = {(t.name, consumer) for t in TOPICS for consumer in t.consumers}
    assert declared == subscribed, (
        f"add to Topic.consumers in contracts/topics.py: {sorted(subscribed - declared)}; "
        f"remove: {sorted(declared - subscribed)}"
    )

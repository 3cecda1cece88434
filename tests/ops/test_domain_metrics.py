"""The domain gauges counted from the services' own tables (SQLite and PostgreSQL, real
migrations), and counters that move only once the transaction commits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY

import dispatch
import video_bridge
from dispatch.adapters import metrics as dispatch_metrics
from dispatch.adapters.tables import DispatchCaseRow
from govmesh_runtime.db import Database
from video_bridge.adapters import metrics as video_metrics
from video_bridge.adapters.tables import ChannelRow

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def case(grid_code: str | None, level: str, status: str, due_in: timedelta) -> DispatchCaseRow:
    return DispatchCaseRow(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261125-{uuid.uuid4().int % 10**6:06d}",
        matter_code="dispute.neighbour",
        grid_code=grid_code,
        status=status,
        handled_by="centre:C1",
        received_at=NOW - timedelta(hours=2),
        dispatched_at=NOW - timedelta(hours=2),
        level=level,
        due_at=NOW + due_in,
    )


async def test_open_and_overdue_cases_by_level_and_county(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate(Path(dispatch.__file__).parent / "migrations")
        async with db.sessions() as session:
            for row in (
                case("620702001001001", "community", "dispatched", timedelta(hours=1)),
                case("620702001001002", "community", "dispatched", -timedelta(minutes=5)),  # overdue
                case("620722100200001", "township", "dispatched", -timedelta(hours=3)),  # overdue, another county
                case("620702001001001", "community", "resolved", -timedelta(hours=1)),  # not open
                case("620702001001001", "community", "closed", -timedelta(hours=1)),  # not open
                case(None, "city", "dispatched", timedelta(hours=4)),  # not on a grid
            ):
                session.add(row)
            await session.commit()
            await dispatch_metrics.refresh_case_gauges(session, NOW)
    finally:
        await db.dispose()

    assert sample("govmesh_cases_open", level="community", county="620702") == 2
    assert sample("govmesh_cases_overdue", level="community", county="620702") == 1
    assert sample("govmesh_cases_open", level="township", county="620722") == 1
    assert sample("govmesh_cases_overdue", level="township", county="620722") == 1
    assert sample("govmesh_cases_open", level="city", county="none") == 1
    assert sample("govmesh_cases_overdue", level="city", county="none") == 0
    assert sample("govmesh_cases_open", level="county", county="none") == 0  # every level is shown


async def test_channels_online_and_offline(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate(Path(video_bridge.__file__).parent / "migrations")
        async with db.sessions() as session:
            for number, online in enumerate((True, True, False)):
                channel = f"6207020000131{number:07d}"
                session.add(ChannelRow(channel_id=channel, device_id="62070200001180000001", online=online))
            await session.commit()
            await video_metrics.refresh_channel_gauge(session)
    finally:
        await db.dispose()

    assert sample("govmesh_video_channels", status="online") == 2
    assert sample("govmesh_video_channels", status="offline") == 1


async def test_a_counter_moves_on_commit_and_not_on_rollback(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await db.migrate(Path(video_bridge.__file__).parent / "migrations")
    labels = {"source": "webhook", "priority": "3"}
    before = sample("govmesh_video_alarms_total", **labels) or 0
    try:
        async with db.sessions() as session:
            video_metrics.after_commit(session, video_metrics.VIDEO_ALARMS.labels(*labels.values()).inc)
            await session.rollback()
        assert sample("govmesh_video_alarms_total", **labels) == before
        async with db.sessions() as session:
            video_metrics.after_commit(session, video_metrics.VIDEO_ALARMS.labels(*labels.values()).inc)
            assert sample("govmesh_video_alarms_total", **labels) == before
            await session.commit()
            await session.commit()  # once only
        assert sample("govmesh_video_alarms_total", **labels) == before + 1
    finally:
        await db.dispose()


def test_sip_methods_are_a_bounded_label() -> None:
    assert video_metrics.sip_method("REGISTER") == "REGISTER"
    assert video_metrics.sip_method("X-ANYTHING") == "other"
    assert video_metrics.alarm_priority(9) == "other"

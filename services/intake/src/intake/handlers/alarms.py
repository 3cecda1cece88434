"""Camera alarms and camera faults become cases.

A video alarm (video.alarms.v1) opens a case, and the further alarms of the channel's burst join
it; a camera offline past the bridge's threshold (video.faults.v1) opens one maintenance case per
outage, cleared at the source when the camera is back."""

from __future__ import annotations

from functools import partial

from govmesh_contracts import CaseClearedAtSource, ChannelFaultCleared, ChannelFaultOpened, Event, VideoAlarmRaised
from govmesh_runtime.consumer import Handler
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import AlarmBurstRow, ChannelFaultCaseRow, TimelineEntryRow
from intake.domain.cases import OPEN_STATUSES, Channel, within_burst
from intake.domain.commands import AcceptCase
from intake.domain.messages import BEIJING, msg
from intake.domain.taxonomy import DEVICE_FAULT_MATTER, matter_for_alarm
from intake.domain.timeline import Step
from intake.handlers.cases import accept_case
from intake.handlers.timeline import apply_step
from intake.settings import IntakeSettings

log = get_logger(__name__)


async def record_video_alarm(event: VideoAlarmRaised, uow: UnitOfWork, *, settings: IntakeSettings) -> None:
    """A camera alarm becomes a case; further alarms of the channel's burst join that case."""
    repo = SqlCaseRepository(uow.session)
    burst = await repo.alarm_burst(event.channel_id)
    if burst is not None and within_burst(burst.last_alarm_at, event.alarm_time, settings.alarm_burst_window_s):
        case = await repo.get(burst.case_id)
        if case is not None and case.status in {s.value for s in OPEN_STATUSES}:
            burst.alarms += 1
            burst.last_alarm_at = max(burst.last_alarm_at, event.alarm_time)
            uow.session.add(burst)
            note = msg("alarm_burst", alarms=burst.alarms, channel=event.channel_id)
            await apply_step(
                uow, Step(case_id=case.id, kind="alarm_repeated", actor="video", note=note, at=event.alarm_time)
            )
            return
    kind = event.alarm_type or f"method {event.method}"
    description = f"Video alarm ({kind}, priority {event.priority}) from channel {event.channel_id}"
    if event.description:
        description += f": {event.description}"
    attributes: dict[str, str | float | int | list[str]] = {"channel_id": event.channel_id}
    code = matter_for_alarm(event.alarm_type)
    if code == "video.alarm" and event.alarm_type:
        attributes["alarm_type"] = event.alarm_type[:200]
    accepted = await accept_case(
        AcceptCase(
            matter_code=code,
            description=description[:4000],
            channel=Channel.VIDEO,
            lat=event.location.lat if event.location else None,
            lon=event.location.lon if event.location else None,
            attributes=attributes if code == "video.alarm" else {},
            source_ref=event.channel_id,
            grid_code=event.grid_code,  # the camera's configured grid: dispatch's hint when it has no point
            priority="urgent" if event.priority <= 2 else "normal",  # GB/T 28181 AlarmPriority 1 and 2
        ),
        uow,
        settings=settings,
        validate=False,
    )
    if burst is None:
        uow.session.add(
            AlarmBurstRow(
                channel_id=event.channel_id,
                case_id=accepted.case_id,
                alarms=1,
                first_alarm_at=event.alarm_time,
                last_alarm_at=event.alarm_time,
            )
        )
    else:
        burst.case_id = accepted.case_id
        burst.alarms = 1
        burst.first_alarm_at = burst.last_alarm_at = event.alarm_time
        uow.session.add(burst)


# --- dead cameras (video.faults.v1): a maintenance case per outage --------------------------------


async def open_fault_case(event: ChannelFaultOpened, uow: UnitOfWork, *, settings: IntakeSettings) -> None:
    """A camera offline longer than the bridge's threshold becomes one maintenance case (设备故障),
    routed by dispatch to the department that keeps the cameras. The bridge's fault id makes a
    second delivery of the same outage (a replay under another event id) no second case."""
    if await uow.session.get(ChannelFaultCaseRow, event.fault_id) is not None:
        return
    # The case's own text (what people read on the board): in the city's language.
    where = f"（{event.address}）" if event.address else ""
    name = f"{event.channel_name} " if event.channel_name else ""
    since = event.offline_since.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    description = f"摄像机 {name}{event.channel_id}{where} 自 {since}（北京时间）起离线，设备状态 {event.status}"
    accepted = await accept_case(
        AcceptCase(
            matter_code=DEVICE_FAULT_MATTER,
            description=description[:4000],
            channel=Channel.VIDEO,
            lat=event.location.lat if event.location else None,
            lon=event.location.lon if event.location else None,
            attributes={"channel_id": event.channel_id},
            source_ref=event.channel_id,
            grid_code=event.grid_code,
        ),
        uow,
        settings=settings,
        validate=False,
    )
    uow.session.add(
        ChannelFaultCaseRow(
            fault_id=event.fault_id, channel_id=event.channel_id, case_id=accepted.case_id, opened_at=event.opened_at
        )
    )


async def clear_fault_case(event: ChannelFaultCleared, uow: UnitOfWork) -> None:
    """The camera is back (or gone from its catalog): its case, if still in handling, is cleared at
    the source (CaseClearedAtSource: dispatch cancels the open tasks and resolves it with the note)."""
    fault = await uow.session.get(ChannelFaultCaseRow, event.fault_id)
    if fault is None or fault.cleared_at is not None:
        log.info("fault_clear_ignored", fault_id=str(event.fault_id), reason="unknown or already cleared")
        return
    fault.cleared_at = event.cleared_at
    uow.session.add(fault)
    case = await SqlCaseRepository(uow.session).get(fault.case_id)
    if case is None:
        return
    hours = (event.cleared_at - event.offline_since).total_seconds() / 3600
    key = "cleared_at_source.online" if event.reason == "online" else "cleared_at_source.removed"
    words = msg(key, channel=event.channel_id, at=event.cleared_at.isoformat(timespec="minutes"), hours=f"{hours:.1f}")
    note = words.text("en")  # dispatch's resolution summary (an event field: one language)
    if case.status in {s.value for s in OPEN_STATUSES}:
        envelope = uow.emit(
            CaseClearedAtSource(case_id=case.id, note=note, cleared_by="video-bridge", cleared_at=event.cleared_at)
        )
        event_id: str | None = envelope.id
    else:
        event_id = None  # handled already (resolved, closed, cancelled): the timeline only says so
    case.updated_at = max(case.updated_at, event.cleared_at)
    uow.session.add(case)
    uow.session.add(
        TimelineEntryRow(
            case_id=case.id,
            event_id=event_id,
            kind="cleared_at_source",
            actor="video",
            at=event.cleared_at,
            **words.columns(),
        )
    )


def alarm_handlers(settings: IntakeSettings) -> dict[type[Event], Handler]:
    return {VideoAlarmRaised: partial(record_video_alarm, settings=settings)}


def fault_handlers(settings: IntakeSettings) -> dict[type[Event], Handler]:
    return {ChannelFaultOpened: partial(open_fault_case, settings=settings), ChannelFaultCleared: clear_fault_case}

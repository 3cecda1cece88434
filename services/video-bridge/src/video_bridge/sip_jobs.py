"""The SIP endpoint's background loops: devices silent for too long go offline, catalogs whose
parts stopped coming are applied with what arrived, and batched keepalives are written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.handlers import devices
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_device_client import DeviceClient
from video_bridge.sip_registrar import Registrar

log = get_logger(__name__)


class SipJobs:
    def __init__(
        self,
        settings: VideoBridgeSettings,
        registrar: Registrar,
        client: DeviceClient,
        uow_factory: Callable[..., UnitOfWork],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.registrar = registrar
        self.client = client
        self._uow = uow_factory
        self._clock = clock

    async def liveness_loop(self) -> None:
        every = self.settings.liveness_check_every_s
        while True:
            await asyncio.sleep(every)
            try:
                await self.check_liveness()
                await self.client.expire_assemblies(time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("liveness_check_failed", error=repr(exc))

    async def check_liveness(self) -> list[str]:
        """Devices silent for too long (by the clock) go offline; returns their ids."""
        await self.registrar.flush_seen()
        async with self._uow() as uow:
            gone = await devices.mark_timed_out(
                uow,
                interval_s=self.settings.keepalive_interval_s,
                max_missed=self.settings.keepalive_max_missed,
                now=self._clock(),
            )
            await uow.commit()
        if gone:
            self.registrar.went_offline(gone)
            log.info("devices_offline", count=len(gone), devices=gone[:20])
        return gone

    async def flush_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.settings.liveness_check_every_s))
            try:
                await self.registrar.flush_seen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("keepalive_flush_failed", error=repr(exc))

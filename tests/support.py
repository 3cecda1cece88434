"""Helpers for tests on the real broker: read a topic from the start, produce, wait for a
condition, and run a service as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from govmesh_runtime.auth import Keyring
from govmesh_runtime.roles import ALL_SCOPES

ROOT = Path(__file__).resolve().parent.parent


def auth_headers(
    scopes: Iterable[str] = ALL_SCOPES, places: Iterable[str] = (), subject: str = "test-admin"
) -> dict[str, str]:
    """A bearer token from the tests' keyring (GOVMESH_KEYRING, set by mesh_fixtures):
    by default every scope, everywhere."""
    ring = Keyring.load(Path(os.environ["GOVMESH_KEYRING"]), development=True)
    token = ring.issue_token(subject, list(scopes), list(places), ttl_s=6 * 3600)
    # The tests read the English words of the services (notes, errors); zh-CN is what a request
    # without Accept-Language gets, and the tests of the languages send their own.
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


ADMIN = auth_headers()


def api_key(scopes: Iterable[str] = ALL_SCOPES, places: Iterable[str] = (), subject: str = "test-api-client") -> str:
    """An API key (as Open311 clients send) issued into the tests' keyring."""
    ring = Keyring.load(Path(os.environ["GOVMESH_KEYRING"]), development=True)
    _, key = ring.issue_api_key(subject, list(scopes), list(places))
    ring.save()
    return key


async def read_topic(bootstrap: str, topic: str, *, min_records: int = 0, timeout: float = 30) -> list[Any]:
    """Every record of a topic from the beginning (no consumer group); waits for at least min_records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        records: list[Any] = []
        while True:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps) if tps else {}
            records = []
            while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
            if len(records) >= min_records or time.monotonic() > deadline:
                return records
            await asyncio.sleep(0.3)
    finally:
        await consumer.stop()


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 30, interval: float = 0.2) -> None:
    """Wait until check() is true; fail with a clear message after timeout (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {check.__name__}")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """A service as a real process (``python -m <package>``) on a free port, its log in ``log``.

    ``env`` is the whole environment: pass KAFKA_BOOTSTRAP_SERVERS, GOVMESH_DATA_DIR and
    any ``<PREFIX>_DATABASE_URL``."""

    def __init__(self, package: str, env: dict[str, str], log: Path) -> None:
        self.package = package
        self.port = free_port()
        prefix = package.upper() + "_"
        self.log = log
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", package],
                env={**env, prefix + "PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.package} exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        pytest.fail(f"{self.package} not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

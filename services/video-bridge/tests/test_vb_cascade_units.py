"""Unit tests of the cascade's parts: catalog pages (bounded, SumNum on each), digest
registration upward against a checking fake registrar, re-registration after failures with
backoff, and the UPPER_PLATFORMS setting (no default secret, ids checked)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from video_bridge.cascade import bodies
from video_bridge.cascade.upward import RegistrationFailed, UpwardLink, backoff, refresh_after
from video_bridge.domain import manscdp
from video_bridge.domain.digest import NonceIssuer, Verdict, verify
from video_bridge.domain.manscdp import AlarmNotice, RecordItem
from video_bridge.domain.sip import SipMessage, response_to
from video_bridge.handlers import Peer
from video_bridge.settings import UpperPlatform, VideoBridgeSettings

SERVER_ID = "62070200002000000001"
UPPER_ID = "62000000002000000001"


def entry(i: int, online: bool = True) -> bodies.CatalogEntry:
    return bodies.CatalogEntry(
        channel_id=f"62070200001310{i:06d}",
        name=f"东街口{i}",
        manufacturer="Hikvision",
        model="DS-2CD",
        civil_code="620702",
        address="甘州区",
        online=online,
        lat=38.93,
        lon=100.45,
    )


def test_the_catalog_goes_up_in_bounded_pages_each_with_the_total() -> None:
    entries = [entry(i, online=i % 2 == 0) for i in range(45)]
    messages = bodies.catalog_responses(SERVER_ID, "17", entries, per_message=20)
    assert len(messages) == 3
    seen = []
    for body in messages:
        doc = manscdp.parse(body)
        total, items = manscdp.catalog_items(doc)
        assert (doc.root, doc.sn, doc.device_id, total) == ("Response", "17", SERVER_ID, 45)
        assert len(items) <= 20 and len(body) < 16_000
        assert doc.element.find("DeviceList").get("Num") == str(len(items))  # type: ignore[union-attr]
        seen += items
    assert [i.channel_id for i in seen] == [e.channel_id for e in entries]
    assert seen[0].name == "东街口0" and seen[0].status == "ON" and seen[1].status == "OFF"
    assert {i.parent_id for i in seen} == {SERVER_ID}


def test_long_names_make_smaller_pages_never_a_body_over_the_bound() -> None:
    wordy = [
        bodies.CatalogEntry(f"62070200001310{i:06d}", "长" * 200, "海康", "DS", "620702", "街" * 300, True, None, None)
        for i in range(100)
    ]
    messages = bodies.catalog_responses(SERVER_ID, "5", wordy, per_message=100)
    assert len(messages) > 1 and max(len(m) for m in messages) <= bodies.MAX_BODY_BYTES
    counted = [manscdp.catalog_items(manscdp.parse(m)) for m in messages]
    assert {total for total, _ in counted} == {100} and sum(len(items) for _, items in counted) == 100


def test_an_empty_catalog_is_still_answered() -> None:
    (body,) = bodies.catalog_responses(SERVER_ID, "3", [], per_message=20)
    assert manscdp.catalog_items(manscdp.parse(body)) == (0, [])


def test_records_relayed_under_the_upper_platforms_sn_and_an_alarm_with_its_type() -> None:
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    records = [RecordItem(f"62070200001310{i:06d}", start, start, "time", f"/r/{i}") for i in range(3)]
    pages = bodies.record_responses("62070200001310000000", "cam", "904", records, per_message=2)
    parsed = [manscdp.record_items(manscdp.parse(p)) for p in pages]
    assert [(total, len(items)) for total, items in parsed] == [(3, 2), (3, 1)]
    assert parsed[0][1][0].start_time == start  # UTC → local time upward → UTC again
    notice = AlarmNotice("62070200001310000001", 1, "5", start, "fire & smoke", 38.9, 100.4, "2")
    doc = manscdp.parse(bodies.alarm_notify("9", notice, now=start))
    assert manscdp.alarm_notice(doc) == notice


def test_backoff_doubles_up_to_the_cap_and_refresh_comes_before_expiry() -> None:
    assert [backoff(n, 1, 30) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert refresh_after(3600) == 3540 and refresh_after(60) == 30


class Registrar:
    """A fake upper platform checking digest credentials like a real registrar would."""

    def __init__(self, password: str, *, answer_keepalives: bool = True) -> None:
        self.password = password
        self.nonces = NonceIssuer(b"k" * 32)
        self.answer_keepalives = answer_keepalives
        self.registrations = 0
        self.keepalives = 0
        self.grant = 1800
        self.dialogs: list[tuple[str, int]] = []
        self.server_id = SERVER_ID

    def via_address(self, transport: str) -> tuple[str, int]:
        return "127.0.0.1", 5060

    def respond(self, request: SipMessage, response: SipMessage, peer: Peer) -> None:
        raise AssertionError("not used")

    async def transact(self, request: SipMessage, peer: Peer) -> SipMessage:
        if request.method == "MESSAGE":
            self.keepalives += 1
            if not self.answer_keepalives:
                raise RuntimeError("not answered")
            return response_to(request, 200)
        verdict = verify(
            request.get("authorization"),
            issuer=self.nonces,
            method="REGISTER",
            realm="6200000000",
            username=SERVER_ID,
            password=self.password,
            now=time.time(),
        )
        if verdict is Verdict.MISSING:
            challenge = response_to(request, 401)
            challenge.add("www-authenticate", self.nonces.challenge("6200000000", time.time()))
            return challenge
        if verdict is not Verdict.OK:
            return response_to(request, 403)
        self.registrations += 1
        self.dialogs.append((request.call_id, request.cseq[0]))
        ok = response_to(request, 200)
        ok.add("expires", str(self.grant))
        return ok


def platform(**overrides: object) -> UpperPlatform:
    values: dict[str, object] = {"platform_id": UPPER_ID, "host": "127.0.0.1", "password": "s3cret", **overrides}
    return UpperPlatform(**values)  # type: ignore[arg-type]


async def test_digest_registration_answers_the_challenge_and_a_wrong_password_fails() -> None:
    registrar = Registrar("s3cret")
    link = UpwardLink(platform(), registrar, 0.01, 0.1)
    assert await link.register(3600) == 1800
    assert registrar.registrations == 1
    wrong = UpwardLink(platform(password="nope"), Registrar("s3cret"), 0.01, 0.1)  # noqa: S106
    with pytest.raises(RegistrationFailed, match="403"):
        await wrong.register(3600)


async def test_unanswered_keepalives_make_the_link_register_again_after_a_backoff() -> None:
    registrar = Registrar("s3cret", answer_keepalives=False)
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    link = UpwardLink(platform(keepalive_interval_s=0.01, keepalive_max_missed=2), registrar, 1.0, 8.0, sleep=no_wait)
    task = asyncio.create_task(link.run())
    try:
        for _ in range(500):
            if registrar.registrations >= 4:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert registrar.registrations >= 4
    # registered, but never kept alive: the waits grow, as after refused registrations
    assert waits[:3] == [1.0, 2.0, 4.0]
    assert registrar.keepalives >= 6


async def test_a_registration_is_refreshed_before_it_expires_in_the_same_dialog() -> None:
    registrar = Registrar("s3cret")
    registrar.grant = 1  # refreshed half-way: after 0.5 s
    link = UpwardLink(platform(keepalive_interval_s=0.05), registrar, 1.0, 8.0)
    task = asyncio.create_task(link.run())
    try:
        for _ in range(1000):
            if registrar.registrations >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert registrar.registrations >= 3 and link.state.failures == 0
    call_ids = {call_id for call_id, _ in registrar.dialogs}
    cseqs = [cseq for _, cseq in registrar.dialogs]
    assert len(call_ids) == 1 and cseqs == sorted(set(cseqs))  # one dialog, CSeq going up


def test_upper_platforms_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    value = [{"platform_id": UPPER_ID, "host": "10.1.1.1", "port": 5061, "transport": "TCP", "password": "x"}]
    monkeypatch.setenv("VIDEO_BRIDGE_UPPER_PLATFORMS", json.dumps(value))
    (parsed,) = VideoBridgeSettings().upper_platforms
    assert (parsed.domain, parsed.port, parsed.transport, parsed.register_expires_s) == (
        "6200000000",
        5061,
        "TCP",
        3600,
    )
    with pytest.raises(ValidationError, match="password"):
        UpperPlatform(platform_id=UPPER_ID, host="h")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="platform_id"):
        platform(platform_id="123")
    weak = VideoBridgeSettings(upper_platforms=[platform(password="12345678")])  # noqa: S106
    assert any("UPPER_PLATFORMS" in problem and UPPER_ID in problem for problem in weak.insecure_defaults())

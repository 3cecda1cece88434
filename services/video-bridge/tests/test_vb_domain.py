"""Unit tests of the plain-Python domain: SIP, digest, device ids, MANSCDP, assembly, liveness, evidence."""

# ruff: noqa: S106  (test passwords)

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from govmesh_kit.distances import distance_m
from video_bridge.domain import manscdp
from video_bridge.domain.assembly import Assembler
from video_bridge.domain.device_id import InvalidDeviceId, parse_device_id
from video_bridge.domain.digest import NonceIssuer, Verdict, expected_response, parse_authorization, verify
from video_bridge.domain.evidence import bounding_box, pages, wants_evidence, window_around
from video_bridge.domain.liveness import channel_online, is_timed_out
from video_bridge.domain.sip import SipParseError, parse_datagram, response_to, via_with_received

# --- SIP ---------------------------------------------------------------------------------


def test_parser_tolerates_lf_compact_headers_folding_and_case() -> None:
    raw = (
        b"message sip:62070200002000000001@6207020000 SIP/2.0\n"
        b"v: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1\n"
        b"f: <sip:62070200001320000001@6207020000>;tag=abc\n"
        b"t: <sip:62070200002000000001@6207020000>\n"
        b"i: call-1\nCSEQ: 7 MESSAGE\nX-Long: first\n  second\nl: 5\n\nhello trailing junk"
    )
    message = parse_datagram(raw)
    assert message.method == "MESSAGE"
    assert message.from_user == "62070200001320000001" and message.from_tag == "abc"
    assert message.call_id == "call-1" and message.cseq == (7, "MESSAGE")
    assert message.get("X-LONG") == "first second"
    assert message.body == b"hello"


def test_serializer_is_strict_crlf_canonical_names_and_right_length() -> None:
    request = parse_datagram(
        b"OPTIONS sip:x@y SIP/2.0\nv: SIP/2.0/UDP h:1;rport;branch=z9hG4bKa\nf: <sip:a@b>;tag=1\nt: <sip:c@d>\n"
        b"i: 1\nCSeq: 1 OPTIONS\nContent-Length: 999\n\n" + b"x" * 999
    )
    response = response_to(request, 200, to_tag="t1")
    response.body = b"abc"
    wire = response.encode()
    assert wire.startswith(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h:1;rport;branch=z9hG4bKa\r\n")
    assert b"\r\nCall-ID: 1\r\n" in wire and b"\r\nTo: <sip:c@d>;tag=t1\r\n" in wire
    assert wire.endswith(b"\r\nContent-Length: 3\r\n\r\nabc")
    assert b"\n" not in wire.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"HELLO WORLD\r\n\r\n", "neither a SIP request nor a response"),
        (b"MESSAGE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", "without a name and a colon"),
        (b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nshort", "shorter"),
        (b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "not a number"),
    ],
)
def test_parser_refuses_what_it_cannot_use_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_datagram(raw)


def test_via_gets_received_and_rport_for_nat() -> None:
    assert via_with_received("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1", "1.2.3.4", 40000) == (
        "SIP/2.0/UDP 10.0.0.5:5060;rport=40000;branch=z9hG4bK1;received=1.2.3.4"
    )


# --- digest ------------------------------------------------------------------------------

ISSUER = NonceIssuer(b"secret", lifetime_s=300)
DEVICE = "62070200001320000001"


def _authorization(nonce: str, password: str, *, username: str = DEVICE) -> str:
    response = expected_response(
        username=username,
        realm="6207020000",
        password=password,
        method="REGISTER",
        uri="sip:62070200002000000001@6207020000",
        nonce=nonce,
        qop="auth",
        nc="00000001",
        cnonce="c0ffee",
    )
    return (
        f'Digest username="{username}", realm="6207020000", nonce="{nonce}", '
        f'uri="sip:62070200002000000001@6207020000", response="{response}", qop=auth, nc=00000001, cnonce="c0ffee"'
    )


@pytest.mark.parametrize(
    ("header", "now", "verdict"),
    [
        (None, 1000.0, Verdict.MISSING),
        ("Basic abc", 1000.0, Verdict.MISSING),
        (_authorization(ISSUER.issue(1000), "12345678"), 1010.0, Verdict.OK),
        (_authorization(ISSUER.issue(1000), "wrong"), 1010.0, Verdict.WRONG),
        (_authorization(ISSUER.issue(1000), "12345678", username="62070200001320000002"), 1010.0, Verdict.WRONG),
        (_authorization("1000.forged", "12345678"), 1010.0, Verdict.WRONG),
        (_authorization(ISSUER.issue(1000), "12345678"), 2000.0, Verdict.STALE),
    ],
)
def test_digest_verdicts(header: str | None, now: float, verdict: Verdict) -> None:
    result = verify(
        header, issuer=ISSUER, method="REGISTER", realm="6207020000", username=DEVICE, password="12345678", now=now
    )
    assert result is verdict


def test_rfc2617_example_response() -> None:
    # RFC 2617 section 3.5 (HTTP example; the algorithm is the same for SIP)
    assert (
        expected_response(
            username="Mufasa",
            realm="testrealm@host.com",
            password="Circle Of Life",
            method="GET",
            uri="/dir/index.html",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )
    assert parse_authorization('Digest username="a b", nc=00000001')["username"] == "a b"


# --- device ids --------------------------------------------------------------------------


def test_device_id_parts() -> None:
    device = parse_device_id("62070200001320000007")
    assert (device.centre, device.industry, device.type_code, device.network, device.serial) == (
        "62070200",
        "00",
        "132",
        "0",
        "000007",
    )
    assert device.type_name == "IPC" and device.is_channel and device.domain == "6207020000"
    assert not parse_device_id("62070200001180000001").is_channel


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "missing"),
        ("6207020000132000000", "20 digits"),
        ("6207020000132000000x", "digits only"),
        ("99070200001320000001", "province"),
        ("６２０７０２００００１３２００００００１", "digits only"),
    ],
)
def test_bad_device_ids_are_refused_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidDeviceId, match=reason):
        parse_device_id(value)


# --- MANSCDP -----------------------------------------------------------------------------


def test_gb2312_body_is_decoded_and_answers_are_gb2312() -> None:
    body = (
        '<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>5</SN>'
        '<DeviceID>62070200001180000001</DeviceID><SumNum>9</SumNum><DeviceList Num="1"><Item>'
        "<DeviceID>62070200001310000001</DeviceID><Name>东大街 & 南关</Name><Status>on</Status>"
        "<Longitude>100.45</Longitude><Latitude>38.93</Latitude></Item></DeviceList></Response>"
    ).encode("gb2312")
    doc = manscdp.parse(body)
    total, items = manscdp.catalog_items(doc)
    assert (doc.root, doc.cmd_type, doc.sn, doc.charset) == ("Response", "Catalog", "5", "gb2312")
    assert total == 9 and items[0].name == "东大街 & 南关" and items[0].status == "ON"
    assert (items[0].lat, items[0].lon) == (38.93, 100.45)
    query = manscdp.build("Query", "Catalog", 6, "62070200001180000001", [("Name", "甘州")])
    assert query.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    assert "甘州".encode("gb2312") in query


def test_zero_coordinates_are_no_location_and_local_time_is_utc_plus_8() -> None:
    body = manscdp.build(
        "Notify",
        "Alarm",
        1,
        "62070200001310000001",
        [("AlarmPriority", "9"), ("AlarmTime", "2026-11-25T08:00:00"), ("Longitude", "0"), ("Latitude", "0")],
    )
    notice = manscdp.alarm_notice(manscdp.parse(body))
    assert notice.priority == 4  # out of range → lowest
    assert (notice.lat, notice.lon) == (None, None)
    assert notice.alarm_time == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"<Notify><SN>1</SN></Notify>", "CmdType is missing"),
        (b"<Hello><CmdType>x</CmdType></Hello>", "unknown root"),
        (b"<Notify><CmdType>x</Notify>", "not well-formed"),
        (b'<!DOCTYPE a [<!ENTITY x "y">]><Notify><CmdType>&x;</CmdType></Notify>', "DTDs"),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(manscdp.ManscdpError, match=reason):
        manscdp.parse(body)


# --- assembly, liveness, evidence --------------------------------------------------------


def test_assembler_waits_for_sumnum_and_ignores_repeated_parts() -> None:
    assembler: Assembler[str] = Assembler(timeout_s=30)
    key = ("dev", "1")
    assert assembler.add(key, 3, [("a", "A"), ("b", "B")], now=0) is None
    assert assembler.add(key, 3, [("a", "A")], now=1) is None  # a retransmitted part
    assert assembler.add(key, 3, [("c", "C")], now=2) == ["A", "B", "C"]
    assert len(assembler) == 0
    assert assembler.add(("dev", "2"), 2, [("a", "A")], now=0) is None
    assert assembler.expire(now=31) == [(("dev", "2"), ["A"])]


def test_offline_after_the_missed_intervals_only() -> None:
    seen = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert not is_timed_out(seen, seen + timedelta(seconds=180), 60, 3)
    assert is_timed_out(seen, seen + timedelta(seconds=181), 60, 3)
    assert channel_online(True, "ON") and not channel_online(True, "VLOST") and not channel_online(False, "ON")


def test_evidence_window_pages_and_distances() -> None:
    case_at = datetime(2026, 11, 25, 10, 15, tzinfo=UTC)
    assert window_around(case_at, 900, 2700) == (case_at - timedelta(minutes=15), case_at + timedelta(minutes=45))
    assert pages(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert pages([], 500) == [[]]  # a search that found nothing is still told, in one event
    with pytest.raises(ValueError, match="at least 1"):
        pages([1], 0)
    assert 1100 < distance_m(38.93, 100.45, 38.94, 100.45) < 1120
    min_lat, max_lat, min_lon, max_lon = bounding_box(38.93, 100.45, 1000)
    assert min_lat < 38.93 < max_lat and min_lon < 100.45 < max_lon


@pytest.mark.parametrize(
    ("channel", "matter", "wanted"),
    [
        ("video", "video.alarm", True),  # a camera alarm's case
        ("video", "security.incident", True),  # an alarm mapped to another matter
        ("video", "video.device_fault", False),  # a dead camera's maintenance case: nothing to find
        ("window", "security.incident", True),  # a configured matter, from any channel
        ("hotline", "dispute.neighbour", False),
    ],
)
def test_which_cases_the_bridge_searches_by_itself(channel: str, matter: str, wanted: bool) -> None:
    assert wants_evidence(channel, matter, ["security.incident"], ["video.device_fault"]) is wanted

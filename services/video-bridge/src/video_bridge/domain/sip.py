"""SIP (RFC 3261) messages: a parser tolerant of what real devices send and a
serializer strict about what we send.

Tolerated on input: LF-only line ends, header names in any case and in compact form,
folded header lines, a missing Content-Length over UDP, junk after the body. Rejected
(``SipParseError``): no start line, a start line that is neither a request nor a
response, a header line without a colon, a body shorter than its Content-Length.
Sent: CRLF line ends, canonical header names, a Content-Length that is always right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_535

COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
}
CANONICAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}
REQUIRED_REQUEST_HEADERS = ("via", "from", "to", "call-id", "cseq")


@dataclass(frozen=True)
class Peer:
    """Where a device's messages come from (recorded on every message: NAT rebinding)."""

    transport: str  # UDP | TCP
    host: str
    port: int


_REQUEST_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9._!%*+`'~-]*)\s+(\S+)\s+SIP/(\d+\.\d+)\s*$", re.IGNORECASE)
_STATUS_LINE = re.compile(r"^SIP/(\d+\.\d+)\s+(\d{3})(?:\s+(.*))?$", re.IGNORECASE)
_USER = re.compile(r"sips?:([^@;>\s]+)@", re.IGNORECASE)
_TAG = re.compile(r";\s*tag=([^;>\s]+)", re.IGNORECASE)

REASONS = {
    100: "Trying",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    423: "Interval Too Brief",
    481: "Call/Transaction Does Not Exist",
    489: "Bad Event",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class SipParseError(ValueError):
    """Input that is not a SIP message we can use, with the reason."""


def canonical_name(name: str) -> str:
    lower = name.strip().lower()
    lower = COMPACT.get(lower, lower)
    return CANONICAL.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


@dataclass
class SipMessage:
    """A request (``method`` set) or a response (``status`` set)."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    method: str | None = None
    uri: str = ""
    status: int | None = None
    reason: str = ""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        wanted = COMPACT.get(name.lower(), name.lower())
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        wanted = COMPACT.get(name.lower(), name.lower())
        return [value for key, value in self.headers if key == wanted]

    def set(self, name: str, value: str) -> None:
        key = COMPACT.get(name.lower(), name.lower())
        self.headers = [(k, v) for k, v in self.headers if k != key]
        self.headers.append((key, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((COMPACT.get(name.lower(), name.lower()), value))

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header; (0, "") if it is missing or malformed."""
        parts = (self.get("cseq") or "").split()
        if len(parts) == 2 and parts[0].isdigit() and len(parts[0]) <= 10:
            return int(parts[0]), parts[1].upper()
        return 0, ""

    @property
    def from_user(self) -> str | None:
        return _user_of(self.get("from"))

    @property
    def to_user(self) -> str | None:
        return _user_of(self.get("to"))

    @property
    def from_tag(self) -> str | None:
        match = _TAG.search(self.get("from") or "")
        return match.group(1) if match else None

    def missing_headers(self) -> list[str]:
        return [name for name in REQUIRED_REQUEST_HEADERS if self.get(name) is None]

    def encode(self) -> bytes:
        """Strict serialization: CRLF, canonical names, the right Content-Length."""
        if self.method is not None:
            start = f"{self.method} {self.uri} SIP/2.0"
        else:
            status = self.status or 500
            start = f"SIP/2.0 {status} {self.reason or REASONS.get(status, 'Unknown')}"
        lines = [start]
        for key, value in self.headers:
            if key == "content-length":
                continue
            clean = value.replace("\r", " ").replace("\n", " ")
            lines.append(f"{canonical_name(key)}: {clean}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def _user_of(value: str | None) -> str | None:
    if not value:
        return None
    match = _USER.search(value)
    return match.group(1) if match else None


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """(head, rest) at the first blank line (CRLF or LF), or None if there is none."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    candidates = [(crlf, 4), (lf, 2)]
    found = [(pos, size) for pos, size in candidates if pos >= 0]
    if not found:
        return None
    pos, size = min(found)
    return data[:pos], data[pos + size :]


def parse_head(head: bytes) -> SipMessage:
    text = head.decode("utf-8", errors="replace")
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while raw_lines and not raw_lines[0].strip():
        raw_lines.pop(0)
    if not raw_lines:
        raise SipParseError("empty message")
    start, *rest = raw_lines
    message = SipMessage()
    request = _REQUEST_LINE.match(start.strip())
    status = _STATUS_LINE.match(start.strip())
    if status:
        message.status = int(status.group(2))
        message.reason = (status.group(3) or "").strip()
    elif request:
        message.method = request.group(1).upper()
        message.uri = request.group(2)
    else:
        raise SipParseError("start line is neither a SIP request nor a response")
    lines: list[str] = []
    for line in rest:
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()  # folded header
        elif line.strip():
            lines.append(line)
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise SipParseError(f"header line without a name and a colon: {line[:40]!r}")
        key = name.strip().lower()
        message.headers.append((COMPACT.get(key, key), value.strip()))
    return message


def content_length(message: SipMessage) -> int | None:
    """The Content-Length value, None if absent; SipParseError if it is not a number."""
    value = message.get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 9:
        raise SipParseError(f"Content-Length is not a number: {value[:20]!r}")
    return int(value)


def parse_datagram(data: bytes) -> SipMessage:
    """One SIP message from one UDP datagram."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError("message too large")
    parts = split_head(data)
    if parts is None:
        head, rest = data, b""
    else:
        head, rest = parts
    message = parse_head(head)
    length = content_length(message)
    if length is None:
        message.body = rest
    elif len(rest) < length:
        raise SipParseError(f"body is shorter ({len(rest)} bytes) than Content-Length {length}")
    else:
        message.body = rest[:length]
    return message


def response_to(
    request: SipMessage, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> SipMessage:
    """A response that copies Via, From, To (tagged), Call-ID and CSeq from the request."""
    response = SipMessage(status=status, reason=reason or REASONS.get(status, "Unknown"))
    for via in request.get_all("via"):
        response.add("via", via)
    for name in ("from", "to", "call-id", "cseq"):
        value = request.get(name)
        if value is not None:
            if name == "to" and to_tag and not _TAG.search(value):
                value = f"{value};tag={to_tag}"
            response.add(name, value)
    return response


def via_with_received(via: str, host: str, port: int) -> str:
    """RFC 3581: add received= and fill rport= so answers reach a device behind NAT."""
    out = re.sub(r";\s*rport(?==|;|$)(=\d*)?", f";rport={port}", via, count=1)
    if "received=" not in out.lower():
        out += f";received={host}"
    return out

"""A GB/T 28181 device in Python for tests: REGISTER with digest, keepalive, catalog
answers, alarms, over UDP or TCP. It answers the server's requests (e.g. the Catalog
query) with 200 and hands them to the test."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from typing import Any

from video_bridge.domain.digest import expected_response, parse_authorization
from video_bridge.domain.sip import SipMessage, parse_datagram, parse_head, response_to, split_head

SERVER_ID = "62070200002000000001"


def new_ids(count: int = 3) -> tuple[str, list[str]]:
    """A fresh NVR id and channel ids under it (unique per test)."""
    serial = secrets.randbelow(900_000) + 100_000
    device = f"6207020000118{0}{serial:06d}"
    channels = [f"6207020000131{0}{(serial + i + 1) % 1_000_000:06d}" for i in range(count)]
    return device, channels


def xml(root: str, cmd: str, sn: str | int, device_id: str, inner: str = "") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="GB2312"?>\n<{root}>\n<CmdType>{cmd}</CmdType>\n<SN>{sn}</SN>\n'
        f"<DeviceID>{device_id}</DeviceID>\n{inner}</{root}>\n"
    )
    return text.encode("gb2312")


def catalog_item(channel_id: str, parent: str, lat: float, lon: float, status: str = "ON", event: str = "") -> str:
    ev = f"<Event>{event}</Event>" if event else ""
    return (
        f"<Item><DeviceID>{channel_id}</DeviceID><Name>东街口{channel_id[-3:]}</Name><Manufacturer>Hikvision</Manufacturer>"
        f"<Model>DS-2CD</Model><CivilCode>620702</CivilCode><Address>甘州区</Address><Parental>0</Parental>"
        f"<ParentID>{parent}</ParentID><Status>{status}</Status><Longitude>{lon}</Longitude>"
        f"<Latitude>{lat}</Latitude>{ev}</Item>"
    )


class SipDevice:
    def __init__(
        self,
        device_id: str,
        port: int,
        *,
        password: str = "12345678",  # noqa: S107  (the bridge's default shared password)
        transport: str = "UDP",
        host: str = "127.0.0.1",
        local_host: str = "127.0.0.1",
        local_port: int = 0,
    ) -> None:
        """``local_host``/``local_port``: where the device sends from (another loopback address
        plays another host; the same port again plays the same device after a pause)."""
        self.device_id = device_id
        self.local_host = local_host
        self.password = password
        self.transport = transport
        self.server = (host, port)
        self.local_port = local_port
        self._cseq = 1
        self._call_id = secrets.token_hex(8)
        self._pending: dict[tuple[str, int], asyncio.Future[SipMessage]] = {}
        self.requests: asyncio.Queue[SipMessage] = asyncio.Queue()
        self.responses: list[SipMessage] = []  # every response received, retransmissions included
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.auto_answer = True

    async def __aenter__(self) -> SipDevice:
        loop = asyncio.get_running_loop()
        if self.transport == "UDP":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Proto(self), local_addr=(self.local_host, self.local_port), remote_addr=self.server
            )
            self._udp = transport
            self.local_port = transport.get_extra_info("sockname")[1]
        else:
            reader, writer = await asyncio.open_connection(
                *self.server, local_addr=(self.local_host, self.local_port) if self.local_port else None
            )
            self._writer = writer
            self.local_port = writer.get_extra_info("sockname")[1]
            self._reader_task = asyncio.create_task(self._read_tcp(reader))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()

    def send_raw(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data)
        elif self._writer is not None:
            self._writer.write(data)

    async def _read_tcp(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buffer += chunk
            while (parts := split_head(buffer)) is not None:
                head, rest = parts
                message = parse_head(head)
                length = int(message.get("content-length") or 0)
                if len(rest) < length:
                    break
                message.body, buffer = rest[:length], rest[length:]
                self.received(message)

    def datagram(self, data: bytes) -> None:
        self.received(parse_datagram(data))

    def received(self, message: SipMessage) -> None:
        if message.is_request:
            if self.auto_answer:
                self.send_raw(response_to(message, 200, to_tag="dev").encode())
            self.requests.put_nowait(message)
            return
        self.responses.append(message)
        number, _ = message.cseq
        future = self._pending.get((message.call_id, number))
        if future is not None and not future.done() and (message.status or 0) >= 200:
            future.set_result(message)

    def build(self, method: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()) -> SipMessage:
        self._cseq += 1
        domain = self.device_id[:10]
        msg = SipMessage(method=method, uri=f"sip:{SERVER_ID}@{domain}")
        msg.add(
            "via",
            f"SIP/2.0/{self.transport} {self.local_host}:{self.local_port};rport;branch=z9hG4bK{secrets.token_hex(6)}",
        )
        msg.add("from", f"<sip:{self.device_id}@{domain}>;tag={self._call_id[:6]}")
        msg.add("to", f"<sip:{self.device_id}@{domain}>" if method == "REGISTER" else f"<sip:{SERVER_ID}@{domain}>")
        msg.add("call-id", self._call_id if method == "REGISTER" else secrets.token_hex(8))
        msg.add("cseq", f"{self._cseq} {method}")
        msg.add("max-forwards", "70")
        for name, value in headers:
            msg.add(name, value)
        if body:
            msg.add("content-type", "Application/MANSCDP+xml")
        msg.body = body
        return msg

    async def send(self, msg: SipMessage, timeout: float = 5) -> SipMessage:
        number, _ = msg.cseq
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[(msg.call_id, number)] = future
        data = msg.encode()
        self.send_raw(data)
        try:
            if self.transport == "UDP":  # RFC 3261 timer A: retransmit until answered
                for delay in (0.5, 1.0, 2.0):
                    try:
                        return await asyncio.wait_for(asyncio.shield(future), delay)
                    except TimeoutError:
                        self.send_raw(data)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop((msg.call_id, number), None)

    async def send_together(self, *messages: SipMessage, timeout: float = 5) -> list[SipMessage]:
        """Several requests at once (over TCP in one write, so they arrive in one read); their answers."""
        loop = asyncio.get_running_loop()
        futures = []
        for msg in messages:
            future: asyncio.Future[SipMessage] = loop.create_future()
            self._pending[(msg.call_id, msg.cseq[0])] = future
            futures.append(future)
        if self.transport == "TCP":
            self.send_raw(b"".join(m.encode() for m in messages))
        else:
            for msg in messages:
                self.send_raw(msg.encode())
        return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))

    async def request(self, method: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()) -> SipMessage:
        return await self.send(self.build(method, body, headers))

    async def register(self, *, expires: int = 3600, password: str | None = None) -> tuple[SipMessage, SipMessage]:
        """(challenge, final answer) of a digest registration."""
        contact = ("contact", f"<sip:{self.device_id}@{self.local_host}:{self.local_port}>")
        challenge = await self.request("REGISTER", headers=[contact, ("expires", str(expires))])
        assert challenge.status == 401, challenge.encode()
        final = await self.send(self.authorized_register(challenge, expires=expires, password=password))
        return challenge, final

    def authorized_register(self, challenge: SipMessage, *, expires: int, password: str | None = None) -> SipMessage:
        """The REGISTER that answers a 401 challenge (digest, qop=auth)."""
        contact = ("contact", f"<sip:{self.device_id}@{self.local_host}:{self.local_port}>")
        params = parse_authorization(challenge.get("www-authenticate") or "")
        uri = f"sip:{SERVER_ID}@{self.device_id[:10]}"
        cnonce = secrets.token_hex(4)
        response = expected_response(
            username=self.device_id,
            realm=params["realm"],
            password=password if password is not None else self.password,
            method="REGISTER",
            uri=uri,
            nonce=params["nonce"],
            qop="auth",
            nc="00000001",
            cnonce=cnonce,
        )
        auth = (
            f'Digest username="{self.device_id}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5, cnonce="{cnonce}", qop=auth, nc=00000001'
        )
        return self.build("REGISTER", headers=[contact, ("expires", str(expires)), ("authorization", auth)])

    def keepalive_message(self, sn: int = 1) -> SipMessage:
        return self.build("MESSAGE", xml("Notify", "Keepalive", sn, self.device_id, "<Status>OK</Status>\n"))

    async def keepalive(self, sn: int = 1) -> SipMessage:
        return await self.send(self.keepalive_message(sn))

    async def next_request(self, timeout: float = 10) -> SipMessage:
        return await asyncio.wait_for(self.requests.get(), timeout)


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, device: SipDevice) -> None:
        self.device = device

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.device.datagram(data)

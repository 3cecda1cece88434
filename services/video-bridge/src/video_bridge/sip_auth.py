"""Device admission for the SIP endpoint: digest nonces bound to the peer with their
nonce count tracked, the digest URI checked, per-device secrets (HA1), lock-outs after
repeated failures, and the ownership checks of what a device reports (channels).

Nonces are kept in memory (bounded): a nonce this process did not hand out, or one it has
forgotten (restart, eviction), is answered with a fresh challenge (``stale=true``), which a
device follows at once. A nonce is good only from the source host it was issued to, and each
``nc`` only once: a sniffed REGISTER replayed from elsewhere, or replayed from the same
place, gets a challenge it cannot answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlmodel import col, select

from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.tables import ChannelRow, DeviceRow
from video_bridge.domain.digest import Verdict, ha1, md5_hex, parse_authorization

MAX_NONCES = 100_000
MAX_TRACKED = 100_000

__all__ = [
    "Lockouts",
    "PeerNonces",
    "device_secret",
    "digest_uri_names",
    "foreign_channels",
    "ha1",
    "owns_channel",
    "verify_register",
]


@dataclass
class _Nonce:
    host: str
    issued: float
    last_nc: int  # the highest nonce count used so far (0 = none)


class PeerNonces:
    """Digest nonces issued to one source host each, valid for ``lifetime_s``, each nc once."""

    def __init__(self, lifetime_s: float, *, secret: bytes | None = None, max_nonces: int = MAX_NONCES) -> None:
        self.lifetime_s = lifetime_s
        self._secret = secret or secrets.token_bytes(32)
        self._max = max_nonces
        self._nonces: OrderedDict[str, _Nonce] = OrderedDict()

    def issue(self, host: str, now: float) -> str:
        salt = secrets.token_hex(8)
        mac = hmac.new(self._secret, f"{salt}:{host}".encode(), hashlib.sha256).hexdigest()[:16]
        nonce = f"{salt}{mac}"
        self._nonces[nonce] = _Nonce(host, now, 0)
        while len(self._nonces) > self._max:
            self._nonces.popitem(last=False)
        return nonce

    def challenge(self, realm: str, host: str, now: float, *, stale: bool = False) -> str:
        header = f'Digest realm="{realm}", nonce="{self.issue(host, now)}", algorithm=MD5, qop="auth"'
        return header + (", stale=true" if stale else "")

    def known(self, nonce: str) -> bool:
        return nonce in self._nonces

    def use(self, nonce: str, host: str, nc: int, now: float) -> Verdict:
        """Spend ``nc`` of ``nonce`` from ``host``: OK once per count, in increasing order."""
        state = self._nonces.get(nonce)
        if state is None or now - state.issued > self.lifetime_s:
            self._nonces.pop(nonce, None)
            return Verdict.STALE  # unknown, forgotten or old: a fresh challenge
        if state.host != host:
            return Verdict.STALE  # issued to another host: that one may answer it, not this one
        if nc <= state.last_nc:
            return Verdict.STALE  # a replay (or a device that reuses its count): challenge again
        state.last_nc = nc
        return Verdict.OK


def verify_register(
    authorization: str | None,
    *,
    nonces: PeerNonces,
    method: str,
    uri_ok: Callable[[str], bool],
    realm: str,
    username: str,
    secret_ha1: str,
    host: str,
    now: float,
) -> Verdict:
    """A request's digest credentials for ``username``: nonce of this host, fresh nc, a
    digest URI that names us (``uri_ok``), the response computed from the stored HA1."""
    if not authorization:
        return Verdict.MISSING
    params = parse_authorization(authorization)
    if not params or "response" not in params or "nonce" not in params:
        return Verdict.MISSING
    if params.get("username") != username or params.get("realm", realm) != realm:
        return Verdict.WRONG
    if params.get("algorithm", "MD5").upper() != "MD5":
        return Verdict.WRONG
    uri = params.get("uri", "")
    if not uri_ok(uri):
        return Verdict.WRONG  # credentials made for another server
    qop = params.get("qop")
    if qop is not None and qop.lower() != "auth":
        return Verdict.WRONG
    nc_text = params.get("nc", "")
    if qop and (not nc_text or "cnonce" not in params):
        return Verdict.WRONG
    try:
        nc = int(nc_text, 16) if qop else 1  # without qop a nonce is good once
    except ValueError:
        return Verdict.WRONG
    ha2 = md5_hex(f"{method}:{uri}")
    if qop:
        expected = md5_hex(f"{secret_ha1}:{params['nonce']}:{nc_text}:{params['cnonce']}:{qop}:{ha2}")
    else:
        expected = md5_hex(f"{secret_ha1}:{params['nonce']}:{ha2}")
    if not hmac.compare_digest(expected, params["response"].lower()):
        # a wrong answer to a nonce we no longer hold is only stale (no lock-out for a restart)
        return Verdict.WRONG if nonces.known(params["nonce"]) else Verdict.STALE
    return nonces.use(params["nonce"], host, nc, now)


class Lockouts:
    """Failures per key (``device:<id>``, ``source:<host>``); ``threshold`` of them within
    ``window_s`` lock the key for ``lock_s``."""

    def __init__(self, threshold: int, window_s: float, lock_s: float, *, max_keys: int = MAX_TRACKED) -> None:
        self.threshold = threshold
        self.window_s = window_s
        self.lock_s = lock_s
        self._max = max_keys
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._locked: OrderedDict[str, float] = OrderedDict()

    def locked(self, keys: Iterable[str], now: float) -> bool:
        for key in keys:
            until = self._locked.get(key)
            if until is not None:
                if now < until:
                    return True
                del self._locked[key]
        return False

    def failed(self, keys: Iterable[str], now: float) -> bool:
        """Count a failure against every key; True if one of them is now locked."""
        locked = False
        for key in keys:
            times = [t for t in self._failures.pop(key, []) if now - t < self.window_s] + [now]
            if len(times) >= self.threshold:
                self._locked[key] = now + self.lock_s
                while len(self._locked) > self._max:
                    self._locked.popitem(last=False)
                locked = True
            else:
                self._failures[key] = times
                while len(self._failures) > self._max:
                    self._failures.popitem(last=False)
        return locked

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def digest_uri_names(uri: str, request_uri: str, *, server_id: str, hosts: set[str], ports: set[int]) -> bool:
    """Whether a digest ``uri`` names this server: the Request-URI itself (RFC 3261), our id as
    its user, or one of our hosts/domains with one of our ports (sipp, and some devices, put
    the address they sent to). Credentials computed for another server are refused."""
    if uri == request_uri:
        return True
    text = uri.strip().removeprefix("sips:").removeprefix("sip:").split(";")[0]
    user, _, hostport = text.rpartition("@")
    if user:
        return user == server_id
    host, _, port = hostport.partition(":")
    if host not in hosts:
        return False
    return not port or (port.isdigit() and int(port) in ports)


async def device_secret(uow: UnitOfWork, device_id: str) -> str | None:
    """The device's HA1 from the registry, if it has one of its own."""
    device = await uow.session.get(DeviceRow, device_id)
    return device.sip_ha1 if device is not None else None


async def foreign_channels(uow: UnitOfWork, device_id: str, channel_ids: Iterable[str]) -> set[str]:
    """Those of ``channel_ids`` that the registry holds under another device (or that are
    another registered device's own id): a device reports only its own channels."""
    ids = {c for c in channel_ids if c != device_id}
    if not ids:
        return set()
    rows = (await uow.session.exec(select(ChannelRow).where(col(ChannelRow.channel_id).in_(ids)))).all()
    foreign = {row.channel_id for row in rows if row.device_id != device_id}
    devices = (await uow.session.exec(select(DeviceRow.device_id).where(col(DeviceRow.device_id).in_(ids)))).all()
    return foreign | set(devices)


async def owns_channel(uow: UnitOfWork, device_id: str, channel_id: str) -> bool:
    """An alarm's channel: the device itself, or a channel the registry holds under it."""
    if channel_id == device_id:
        return True
    channel = await uow.session.get(ChannelRow, channel_id)
    return channel is not None and channel.device_id == device_id

"""HTTP digest authentication for SIP REGISTER (RFC 2617/3261, MD5, qop=auth).

Nonces are stateless: ``<unix time>.<HMAC of it>``, so any instance (or a restarted
one) can check a nonce it handed out, and a nonce older than its lifetime is stale.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import Enum

_PARAM = re.compile(r'([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    """What the registry stores instead of a device's password (RFC 2617 HA1)."""
    return md5_hex(f"{username}:{realm}:{password}")


def parse_authorization(value: str) -> dict[str, str]:
    """The parameters of a ``Digest`` Authorization header, names lower-cased; {} if not digest."""
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(params)}


def expected_response(
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    ha1 = md5_hex(f"{username}:{realm}:{password}")
    ha2 = md5_hex(f"{method}:{uri}")
    if qop:
        return md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5_hex(f"{ha1}:{nonce}:{ha2}")


class Verdict(Enum):
    OK = "ok"
    MISSING = "missing"  # no (digest) credentials: challenge
    STALE = "stale"  # a nonce we issued, too old: challenge again with stale=true
    WRONG = "wrong"  # credentials that do not match: forbidden


@dataclass(frozen=True)
class NonceIssuer:
    secret: bytes
    lifetime_s: float = 300.0

    def issue(self, now: float) -> str:
        stamp = str(int(now))
        return f"{stamp}.{self._mac(stamp)}"

    def check(self, nonce: str, now: float) -> Verdict:
        stamp, _, mac = nonce.partition(".")
        if not stamp.isdigit() or not hmac.compare_digest(mac, self._mac(stamp)):
            return Verdict.WRONG
        if now - int(stamp) > self.lifetime_s:
            return Verdict.STALE
        return Verdict.OK

    def _mac(self, stamp: str) -> str:
        return hmac.new(self.secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self, realm: str, now: float, *, stale: bool = False) -> str:
        header = f'Digest realm="{realm}", nonce="{self.issue(now)}", algorithm=MD5, qop="auth"'
        return header + (", stale=true" if stale else "")


def verify(
    authorization: str | None,
    *,
    issuer: NonceIssuer,
    method: str,
    realm: str,
    username: str,
    password: str,
    now: float,
) -> Verdict:
    """Check a REGISTER's Authorization for ``username`` with ``password``."""
    if not authorization:
        return Verdict.MISSING
    params = parse_authorization(authorization)
    if not params or "response" not in params or "nonce" not in params:
        return Verdict.MISSING
    if params.get("username") != username or params.get("realm", realm) != realm:
        return Verdict.WRONG
    if params.get("algorithm", "MD5").upper() != "MD5":
        return Verdict.WRONG
    nonce_state = issuer.check(params["nonce"], now)
    if nonce_state is not Verdict.OK:
        return nonce_state
    qop = params.get("qop")
    if qop is not None and qop.lower() != "auth":
        return Verdict.WRONG
    if qop and ("nc" not in params or "cnonce" not in params):
        return Verdict.WRONG
    expected = expected_response(
        username=username,
        realm=params.get("realm", realm),
        password=password,
        method=method,
        uri=params.get("uri", ""),
        nonce=params["nonce"],
        qop=qop,
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
    )
    return Verdict.OK if hmac.compare_digest(expected, params["response"].lower()) else Verdict.WRONG

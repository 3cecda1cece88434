"""Resource limits of the SIP endpoint: per-source token buckets (checked before parsing,
so a flood costs a dict lookup per datagram) and TCP connection counts.

Everything here is bounded: a table keyed by source forgets its oldest entries past a size,
so a flood from many spoofed addresses cannot grow memory without end.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_TRACKED_SOURCES = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key (a source address): ``rate`` tokens a second, at most ``burst``."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = MAX_TRACKED_SOURCES) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, now: float) -> bool:
        """Spend one token of ``key``; False when it has none (the caller drops or waits)."""
        bucket = self._refill(key, now)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def wait_s(self, key: str, now: float) -> float:
        """How long until ``key`` has a token (0 if it has one now)."""
        bucket = self._refill(key, now)
        if bucket.tokens >= 1.0 or self.rate <= 0:
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _refill(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return bucket
        if now > bucket.at:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket


class ConnectionCounts:
    """Open TCP connections, in all and per source host, against their caps."""

    def __init__(self, max_total: int, max_per_source: int) -> None:
        self.max_total = max_total
        self.max_per_source = max_per_source
        self.total = 0
        self._by_host: dict[str, int] = {}

    def open(self, host: str) -> bool:
        """Count a new connection from ``host``; False (and nothing counted) when over a cap."""
        if self.total >= self.max_total or self._by_host.get(host, 0) >= self.max_per_source:
            return False
        self.total += 1
        self._by_host[host] = self._by_host.get(host, 0) + 1
        return True

    def close(self, host: str) -> None:
        self.total -= 1
        left = self._by_host.get(host, 1) - 1
        if left > 0:
            self._by_host[host] = left
        else:
            self._by_host.pop(host, None)

"""A bounded load generator that behaves like a careful client of intake.

Cases are posted at a steady rate over REST, each with its own Idempotency-Key; a
request that fails with a connection error, a timeout, a 5xx or a 429 is retried with
the same key (backing off up to 2 s) until it is answered 2xx or the client gives up
(a bound set when the load stops). What was accepted — key → case id — is what the
harness later holds the mesh to. Runs in its own thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

# (matter code, attributes): routed by dispatch to grid worker; mediation + grid worker; grid worker + policing
MATTERS: tuple[tuple[str, dict[str, object]], ...] = (
    ("convenience.service", {"service_item": "residence certificate"}),
    ("dispute.neighbour", {}),
    ("public_order", {"people_involved": 3}),
)
MAX_IN_FLIGHT = 64  # requests at a time; the others wait their turn (not counted as errors)
# How long the client waits for an answer before it retries (same key). It was 5 s: on a busy box
# intake answered in more than that while new cases queued on its daily counter row, every
# request timed out and was retried while intake still worked on it, and the client saw almost
# nothing accepted although intake created the cases (README.md, "the rolling restart's drop").
REQUEST_TIMEOUT_S = 30.0
# Zhangye, Ganzhou district: inside intake's bounds
BBOX = (38.90, 38.97, 100.40, 100.50)


@dataclass
class Submission:
    key: str
    matter: str
    attempts: int = 0
    case_id: str | None = None
    outcome: str | None = None  # created | retried | linked
    accepted_at: float | None = None  # time.monotonic() of the 2xx answer
    rejected: str | None = None  # a 4xx other than 429: status and body
    body: dict[str, object] = field(default_factory=dict, repr=False)


@dataclass
class LoadStats:
    transport_errors: int = 0
    server_errors: int = 0
    retried_requests: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class LoadGenerator:
    def __init__(
        self,
        url: str,
        *,
        tag: str,
        rate: float,
        seed: int,
        headers: dict[str, str],
        request_timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.tag = tag
        self.rate = rate
        self.headers = headers
        self.request_timeout = request_timeout
        self.rnd = random.Random(seed)
        self.submissions: list[Submission] = []
        self.stats = LoadStats()
        self._stop_issuing = threading.Event()
        self._settle_timeout = 60.0
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        self.error: BaseException | None = None

    # --- control (main thread) ---

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"load-{self.tag}", daemon=True)
        self._thread.start()

    def stop(self, settle_timeout: float) -> None:
        """Stop issuing new cases; let requests in flight retry for up to settle_timeout, then give up."""
        self._settle_timeout = settle_timeout
        self._stop_issuing.set()
        assert self._thread is not None
        self._thread.join(timeout=settle_timeout + 30)
        if self._thread.is_alive():
            raise RuntimeError("load generator did not stop")
        if self.error is not None:
            raise RuntimeError(f"load generator failed: {self.error!r}") from self.error

    @property
    def accepted(self) -> dict[str, str]:
        return {s.key: s.case_id for s in self.submissions if s.case_id is not None}

    def accepted_per(self, window_s: float) -> list[int]:
        """How many cases were accepted (answered 2xx) in each window since the load started."""
        times = [s.accepted_at - self.started_at for s in self.submissions if s.accepted_at is not None]
        counts = [0] * (int(max(times, default=0) // window_s) + 1)
        for t in times:
            counts[int(t // window_s)] += 1
        return counts

    @property
    def unacked(self) -> list[Submission]:
        return [s for s in self.submissions if s.case_id is None and s.rejected is None]

    @property
    def rejected(self) -> list[Submission]:
        return [s for s in self.submissions if s.rejected is not None]

    # --- the loop (load thread) ---

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by stop()
            self.error = exc

    async def _main(self) -> None:
        # At most MAX_IN_FLIGHT requests at a time, counted here, and no limit in httpx's pool: a
        # request never waits in the pool. It used to (max_connections=64): once the server had been
        # slow for a while (many read timeouts, a queue of retries waiting for a connection) the pool
        # handed out no connection any more, every attempt ended in PoolTimeout, and the client stopped
        # reaching intake altogether until the load ended (README.md, "the rolling restart's drop").
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=self.request_timeout, limits=limits) as client:
            loop = asyncio.get_running_loop()
            tasks: set[asyncio.Task[None]] = set()
            origin = loop.time()
            issued = 0
            while not self._stop_issuing.is_set():
                due = origin + issued / self.rate
                now = loop.time()
                if due > now:
                    await asyncio.sleep(min(due - now, 0.1))
                    continue
                if now - due > 1.0:  # starved of CPU for a while: no burst to catch up
                    origin = now - issued / self.rate
                task = asyncio.create_task(self._submit(client, self._next()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                issued += 1
            if tasks:
                _, pending = await asyncio.wait(set(tasks), timeout=self._settle_timeout)
                for task in pending:
                    task.cancel()  # the client gives up: the submission stays unacknowledged
                await asyncio.gather(*pending, return_exceptions=True)

    def _next(self) -> Submission:
        matter, attributes = self.rnd.choice(MATTERS)
        key = str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))
        body: dict[str, object] = {
            "matter_code": matter,
            "description": f"chaos {self.tag} {key}",
            "lat": round(self.rnd.uniform(BBOX[0], BBOX[1]), 6),
            "lon": round(self.rnd.uniform(BBOX[2], BBOX[3]), 6),
            "channel": "api",
            "attributes": attributes,
        }
        sub = Submission(key=key, matter=matter, body=body)
        self.submissions.append(sub)
        return sub

    def _count(self, kind: str) -> None:
        self.stats.errors_by_kind[kind] = self.stats.errors_by_kind.get(kind, 0) + 1

    async def _submit(self, client: httpx.AsyncClient, sub: Submission) -> None:
        headers = {**self.headers, "Idempotency-Key": sub.key}
        backoff = 0.2
        while True:
            sub.attempts += 1
            if sub.attempts > 1:
                self.stats.retried_requests += 1
            try:
                async with self._slots:
                    resp = await client.post(self.url, json=sub.body, headers=headers)
            except httpx.TransportError as exc:
                self.stats.transport_errors += 1
                self._count(type(exc).__name__)
            else:
                if resp.status_code in (200, 201):
                    data = resp.json()
                    sub.case_id = str(data["id"])
                    sub.outcome = str(data.get("outcome"))
                    sub.accepted_at = time.monotonic()
                    return
                if resp.status_code >= 500 or resp.status_code == 429:
                    self.stats.server_errors += 1
                    self._count(f"HTTP {resp.status_code}")
                else:
                    sub.rejected = f"{resp.status_code} {resp.text[:300]}"
                    return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

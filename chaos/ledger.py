"""What the mesh did, read back from the topics themselves, and the verdict per case.

The ledger reads intake.cases.v1, dispatch.cases.v1 and dispatch.tasks.v1 from the
beginning (then incrementally, a fresh consumer without a group each poll, so it
survives broker restarts) and keeps, per case id, the distinct event ids and the Kafka
records it saw. The rules (also in chaos/README.md):

* completed: the case has a CaseDispatched and at least one TaskAssigned on the topics,
  dispatch's REST view of the case holds exactly the tasks the topic announced, and —
  when mediation / policing run in the mesh — each of its mediation tasks has a
  DisputeOpened and each of its policing tasks a PoliceTaskOpened;
* lost: accepted by intake (2xx) but not completed once the run has drained (bounded);
* handled twice: for one case, more than one distinct CaseDispatched event, or two
  tasks for the same target (a second task set), or more than one distinct
  CaseReceived event, or one Idempotency-Key that produced more than one case, or a
  TaskAssigned whose task dispatch does not hold, or one dispatch task that opened
  more than one dispute / police task;
* out of order: on one topic, the events of one key (the case id) — in the order a consumer
  applies them, the first record of each event id by offset (later copies are dropped by its
  inbox) — are not in the order they were produced (the envelope's time, set when the event
  was written with the state change): a reordering by a relay (two leaders, a retried batch)
  or a broker fault. Checked for every event of every topic read, not only the end state;
* a redelivered copy (the same event id in more than one record) is at-least-once
  delivery, not a second handling: consumers apply it once (inbox); it is counted and
  shown, never hidden.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from govmesh_contracts import TOPICS as REGISTRY
from govmesh_contracts import (
    CaseDispatched,
    CaseReceived,
    DecodeError,
    DisputeOpened,
    PoliceTaskOpened,
    PoliceTaskSource,
    TaskAssigned,
    decode,
)

TOPICS = (
    "intake.cases.v1",
    "dispatch.cases.v1",
    "dispatch.tasks.v1",
    "mediation.disputes.v1",
    "policing.police-tasks.v1",
)
PARTITIONS = {t.name: t.partitions for t in REGISTRY if t.name in TOPICS}


@dataclass
class Trail:
    """Everything the topics say about one case."""

    received: set[str] = field(default_factory=set)  # CaseReceived event ids
    dispatched: set[str] = field(default_factory=set)  # CaseDispatched event ids
    tasks: dict[str, str] = field(default_factory=dict)  # task id -> target
    task_events: set[str] = field(default_factory=set)  # TaskAssigned event ids
    records: int = 0  # Kafka records about this case
    copies: int = 0  # records repeating an event id already seen


class Ledger:
    def __init__(self, bootstrap: str, downstream: frozenset[str] = frozenset()) -> None:
        """downstream: task targets whose service runs in the mesh (mediation, policing):
        their tasks must be opened there, once."""
        self.bootstrap = bootstrap
        self.downstream = downstream
        self.opened: dict[str, set[str]] = {}  # dispatch task id -> dispute / police task ids opened for it
        self.opened_events: set[str] = set()
        self.opened_copies: dict[str, int] = {}  # dispatch task id -> redelivered copies of its opening
        self.positions: dict[TopicPartition, int] = {}
        self.cases: dict[str, Trail] = {}
        self.keys: dict[str, set[str]] = {}  # idempotency key (from the description) -> case ids
        self.undecodable = 0
        self.event_ids: set[str] = set()
        self.latest: dict[
            tuple[str, str], tuple[datetime, str]
        ] = {}  # (topic, key) -> time, type of the last first-seen
        self.disorder: dict[str, list[str]] = {}  # case id -> events applied before an earlier-produced one

    def poll(self, timeout: float = 60) -> None:
        asyncio.run(asyncio.wait_for(self._poll(), timeout))

    async def _poll(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None, request_timeout_ms=20000
        )
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t in TOPICS for p in range(PARTITIONS[t])]
            consumer.assign(tps)
            for tp in tps:
                if tp in self.positions:
                    consumer.seek(tp, self.positions[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            end = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).items():
                    for record in records:
                        self._take(list(record.headers or ()), record.value, tp.topic, record.key)
                    self.positions[tp] = records[-1].offset + 1
        finally:
            await consumer.stop()

    def _take(
        self, headers: list[tuple[str, bytes]], value: bytes | None, topic: str = "", key: bytes | None = None
    ) -> None:
        try:
            envelope, event = decode(headers, value)
        except (DecodeError, RecursionError):  # the poison scenario's records, among others
            self.undecodable += 1
            return
        self._check_order(topic, key, envelope.id, envelope.type, envelope.time, getattr(event, "case_id", None))
        if isinstance(event, DisputeOpened | PoliceTaskOpened):
            self._take_downstream(envelope.id, event)
            return
        if not isinstance(event, CaseReceived | CaseDispatched | TaskAssigned):
            return
        trail = self.cases.setdefault(str(event.case_id), Trail())
        trail.records += 1
        seen: set[str]
        if isinstance(event, CaseReceived):
            seen = trail.received
            parts = (event.description or "").split()
            if len(parts) == 3 and parts[0] == "chaos":
                self.keys.setdefault(parts[2], set()).add(str(event.case_id))
        elif isinstance(event, CaseDispatched):
            seen = trail.dispatched
        else:
            seen = trail.task_events
            trail.tasks[str(event.task_id)] = str(getattr(event.target, "value", event.target))
        if envelope.id in seen:
            trail.copies += 1
        seen.add(envelope.id)

    def _check_order(
        self, topic: str, key: bytes | None, event_id: str, event_type: str, at: datetime | None, case_id: object
    ) -> None:
        """Per key and topic, first copies in offset order must come in produced order."""
        if event_id in self.event_ids:
            return  # a copy: the consumer's inbox drops it
        self.event_ids.add(event_id)
        if key is None or at is None:  # ce_time is optional in CloudEvents (the mesh always sets it)
            return
        slot = (topic, key.decode(errors="replace"))
        previous = self.latest.get(slot)
        if previous is not None and at < previous[0]:
            who = str(case_id) if case_id is not None else slot[1]
            self.disorder.setdefault(who, []).append(
                f"{topic}: {event_type} produced {at.isoformat()}"
                f" after {previous[1]} produced {previous[0].isoformat()}"
            )
            return
        self.latest[slot] = (at, event_type)

    def _take_downstream(self, event_id: str, event: DisputeOpened | PoliceTaskOpened) -> None:
        if isinstance(event, DisputeOpened):
            task_id, opened_id = str(event.task_id), str(event.dispute_id)
        elif event.source is PoliceTaskSource.DISPATCH:
            task_id, opened_id = event.source_ref, str(event.police_task_id)
        else:
            return
        if event_id in self.opened_events:
            self.opened_copies[task_id] = self.opened_copies.get(task_id, 0) + 1
        self.opened_events.add(event_id)
        self.opened.setdefault(task_id, set()).add(opened_id)

    def unopened(self, case_id: str) -> list[str]:
        """The case's tasks for a service running downstream that it has not opened (yet)."""
        trail = self.cases.get(case_id, Trail())
        return [t for t, target in trail.tasks.items() if target in self.downstream and not self.opened.get(t)]

    def completed(self, case_id: str) -> bool:
        trail = self.cases.get(case_id)
        return trail is not None and bool(trail.dispatched) and bool(trail.tasks) and not self.unopened(case_id)


IntakeView = dict[str, int]  # timeline entry kind -> how many; "status:<status>" -> 1
INTAKE_KINDS = ("dispatched", "task_assigned", "dispute_opened")


async def intake_views(base_url: str, case_ids: list[str], headers: dict[str, str]) -> dict[str, IntakeView | None]:
    """Intake's resident-facing view: case id -> its status and the timeline entries the mesh's events made."""
    out: dict[str, IntakeView | None] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=headers) as client:

        async def one(case_id: str) -> None:
            async with gate:
                for attempt in range(3):
                    try:
                        resp = await client.get(f"/v1/cases/{case_id}")
                    except httpx.TransportError:
                        await asyncio.sleep(0.5 * (attempt + 1))
                        continue
                    if resp.status_code == 404:
                        out[case_id] = None
                        return
                    resp.raise_for_status()
                    body = resp.json()
                    view: IntakeView = Counter(str(step["kind"]) for step in body["timeline"])
                    view[f"status:{body['status']}"] = 1
                    out[case_id] = view
                    return
                raise RuntimeError(f"intake REST did not answer for case {case_id}")

        await asyncio.gather(*(one(c) for c in case_ids))
    return out


def intake_gaps(case_id: str, ledger: Ledger, view: IntakeView | None) -> tuple[list[str], list[str]]:
    """(missing, doubled) in intake's timeline of the case, against what the topics hold."""
    if view is None:
        return ["intake does not know the case"], []
    trail = ledger.cases.get(case_id, Trail())
    expected = {
        "dispatched": min(len(trail.dispatched), 1),
        "task_assigned": len(trail.tasks),
        "dispute_opened": sum(1 for t, target in trail.tasks.items() if target == "mediation" and ledger.opened.get(t))
        if "mediation" in ledger.downstream
        else view.get("dispute_opened", 0),
    }
    missing = [f"{kind} {view.get(kind, 0)} of {n}" for kind, n in expected.items() if view.get(kind, 0) < n]
    if view.get("status:received"):
        missing.append("status still 'received'")
    doubled = [f"{kind} {view.get(kind, 0)} (expected {n})" for kind, n in expected.items() if view.get(kind, 0) > n]
    return missing, doubled


@dataclass
class Verdict:
    accepted: int = 0
    completed: int = 0
    lost: dict[str, str] = field(default_factory=dict)  # case id (or key) -> why
    twice: dict[str, str] = field(default_factory=dict)  # case id (or key) -> why
    disordered: dict[str, str] = field(default_factory=dict)  # case id -> which events came out of order
    copies: int = 0


async def dispatch_views(base_url: str, case_ids: list[str], headers: dict[str, str]) -> dict[str, list[str] | None]:
    """Dispatch's REST view: case id -> its task ids (None: dispatch does not know the case)."""
    out: dict[str, list[str] | None] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=headers) as client:

        async def one(case_id: str) -> None:
            async with gate:
                for attempt in range(3):
                    try:
                        resp = await client.get(f"/v1/cases/{case_id}")
                    except httpx.TransportError:
                        await asyncio.sleep(0.5 * (attempt + 1))
                        continue
                    if resp.status_code == 404:
                        out[case_id] = None
                        return
                    resp.raise_for_status()
                    out[case_id] = [str(t["task_id"]) for t in resp.json()["tasks"]]
                    return
                raise RuntimeError(f"dispatch REST did not answer for case {case_id}")

        await asyncio.gather(*(one(c) for c in case_ids))
    return out


def judge(
    accepted: dict[str, str],
    ledger: Ledger,
    views: dict[str, list[str] | None],
    intake: dict[str, IntakeView | None] | None = None,
) -> Verdict:
    """accepted: Idempotency-Key -> case id (the client's record of 2xx answers); views: dispatch's
    REST (task ids per case); intake: intake's REST (timeline per case), when checked."""
    verdict = Verdict(accepted=len(accepted))
    for key, case_id in accepted.items():
        trail = ledger.cases.get(case_id, Trail())
        verdict.copies += trail.copies + sum(ledger.opened_copies.get(t, 0) for t in trail.tasks)
        view = views.get(case_id)
        twice: list[str] = []
        if len(trail.dispatched) > 1:
            twice.append(f"{len(trail.dispatched)} distinct CaseDispatched events")
        repeated = [target for target, n in Counter(trail.tasks.values()).items() if n > 1]
        if repeated:
            twice.append(f"second task set: targets {repeated} repeated ({len(trail.tasks)} tasks)")
        if len(trail.received) > 1:
            twice.append(f"{len(trail.received)} distinct CaseReceived events")
        if len(ledger.keys.get(key, ())) > 1:
            twice.append(f"Idempotency-Key {key} made {len(ledger.keys[key])} cases: {sorted(ledger.keys[key])}")
        opened_twice = {t: sorted(ids) for t, ids in ledger.opened.items() if t in trail.tasks and len(ids) > 1}
        if opened_twice:
            twice.append(f"dispatch tasks opened more than once downstream (task -> ids): {opened_twice}")
        missing_in_intake, doubled_in_intake = intake_gaps(case_id, ledger, intake.get(case_id)) if intake else ([], [])
        if doubled_in_intake:
            twice.append(f"intake's timeline applied events twice: {doubled_in_intake}")
        if view is not None and set(trail.tasks) - set(view):
            twice.append(f"TaskAssigned for tasks dispatch does not hold: {sorted(set(trail.tasks) - set(view))}")
        if twice:
            verdict.twice[case_id] = "; ".join(twice)
        if ledger.disorder.get(case_id):
            verdict.disordered[case_id] = "; ".join(ledger.disorder[case_id][:3])
        if not ledger.completed(case_id):
            state = (
                f"CaseReceived {len(trail.received)}, CaseDispatched {len(trail.dispatched)}, "
                f"TaskAssigned {len(trail.tasks)}, dispatch REST {'404' if view is None else len(view)} tasks, "
                f"not opened downstream: {[(t, trail.tasks[t]) for t in ledger.unopened(case_id)]}"
            )
            verdict.lost[case_id] = state
        elif view is None or set(view) - set(trail.tasks):
            verdict.lost[case_id] = (
                "dispatch does not know the case"
                if view is None
                else f"tasks without their TaskAssigned event: {sorted(set(view) - set(trail.tasks))}"
            )
        elif missing_in_intake:
            verdict.lost[case_id] = f"intake's timeline misses what the topics hold: {missing_in_intake}"
        else:
            verdict.completed += 1
    return verdict


def selfcheck() -> None:
    """The rules catch what they must: run before every chaos run (milliseconds, no I/O).

    Feeds encoded events for made-up cases through the ledger and checks that a case
    without its TaskAssigned is lost, a second CaseDispatched or task set is twice, a
    redelivered record is a copy and nothing else, and a clean case is completed."""
    import uuid
    from datetime import UTC, datetime

    from govmesh_contracts import Event, Location, TaskTarget, encode, envelope_for

    now = datetime.now(UTC)
    ledger = Ledger("unused:0", downstream=frozenset({"mediation"}))

    def emit(event: Event, times: int = 1) -> None:
        record = encode(event, envelope_for(event, source="/chaos/selfcheck"))
        for _ in range(times):
            ledger._take(record.headers, record.value)

    def case(key: str, *, dispatched: int = 1, task_sets: int = 1, copies: int = 1, disputes: int = 1) -> str:
        case_id = uuid.uuid4()
        emit(
            CaseReceived(
                case_id=case_id,
                case_number="620702-20261125-000001",
                matter_code="dispute.neighbour",
                channel="api",
                description=f"chaos selfcheck {key}",
                location=Location(lat=38.93, lon=100.45),
                received_at=now,
            ),
            copies,
        )
        for _ in range(dispatched):
            emit(CaseDispatched(case_id=case_id, handled_by="620700", dispatched_at=now), copies)
        for _ in range(task_sets):
            for target in (TaskTarget.MEDIATION, TaskTarget.GRID_WORKER):
                emit(
                    TaskAssigned(
                        task_id=uuid.uuid4(),
                        case_id=case_id,
                        case_number="620702-20261125-000001",
                        matter_code="dispute.neighbour",
                        target=target,
                        description="selfcheck",
                        due_at=now,
                        assigned_at=now,
                    ),
                    copies,
                )
        for task_id, task_target in ledger.cases.get(str(case_id), Trail()).tasks.items():
            for _ in range(disputes if task_target == "mediation" else 0):
                emit(
                    DisputeOpened(
                        dispute_id=uuid.uuid4(),
                        case_id=case_id,
                        task_id=uuid.UUID(task_id),
                        case_number="620702-20261125-000001",
                        category="neighbour",
                        risk_level="low",
                        opened_at=now,
                        target_close_at=now,
                    ),
                    copies,
                )
        return str(case_id)

    clean, copied = case("k-clean"), case("k-copied", copies=2)
    undispatched, no_tasks = case("k-lost", dispatched=0), case("k-no-tasks", task_sets=0)
    double, second_set = case("k-double", dispatched=2), case("k-set", task_sets=2)
    unopened, opened_twice = case("k-unopened", disputes=0), case("k-opened-twice", disputes=2)
    accepted = {
        "k-clean": clean,
        "k-copied": copied,
        "k-lost": undispatched,
        "k-no-tasks": no_tasks,
        "k-double": double,
        "k-set": second_set,
        "k-unopened": unopened,
        "k-opened-twice": opened_twice,
        "k-never-received": str(uuid.uuid4()),
    }
    views: dict[str, list[str] | None] = {
        c: [t for t, _ in ledger.cases[c].tasks.items()] if c in ledger.cases else None for c in accepted.values()
    }
    verdict = judge(accepted, ledger, views)
    expected_lost = {undispatched, no_tasks, unopened, accepted["k-never-received"]}
    problems = []
    if set(verdict.lost) != expected_lost:
        problems.append(f"lost {sorted(verdict.lost)} != {sorted(expected_lost)}")
    if set(verdict.twice) != {double, second_set, opened_twice}:
        problems.append(f"twice {sorted(verdict.twice)} != {sorted({double, second_set, opened_twice})}")
    # completed: clean, copied, double, second_set, opened_twice; copied repeats 5 events (received,
    # dispatched, two tasks, the dispute)
    if verdict.completed != 5 or verdict.copies != 5:
        problems.append(f"completed {verdict.completed} (want 5), copies {verdict.copies} (want 5)")
    trail = ledger.cases[clean]
    disputes = sum(1 for t in trail.tasks if ledger.opened.get(t))
    good: IntakeView = {"status:in_progress": 1, "dispatched": 1, "task_assigned": 2, "dispute_opened": disputes}
    if intake_gaps(clean, ledger, good) != ([], []):
        problems.append(f"a complete timeline is judged {intake_gaps(clean, ledger, good)}")
    if not intake_gaps(clean, ledger, {**good, "dispatched": 2})[1]:
        problems.append("a timeline with two 'dispatched' entries is not judged twice")
    if not intake_gaps(clean, ledger, {**good, "task_assigned": 1, "status:received": 1})[0]:
        problems.append("a timeline missing a task is not judged incomplete")
    late, early = uuid.uuid4(), now.replace(year=now.year - 1)
    for at in (now, early):  # the second produced before the first, applied after it
        event = CaseDispatched(case_id=late, handled_by="620700", dispatched_at=now)
        record = encode(event, envelope_for(event, source="/chaos/selfcheck").model_copy(update={"time": at}))
        ledger._take(record.headers, record.value, "dispatch.cases.v1", record.key)
    if set(ledger.disorder) != {str(late)}:
        problems.append(f"out of order {sorted(ledger.disorder)} != {[str(late)]}")
    if problems:
        raise AssertionError("chaos rules self-check failed: " + "; ".join(problems))

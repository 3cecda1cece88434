"""End to end: mediation as a real process on the real broker.

An integrator (here: the test) puts dispatch's mediation tasks on ``dispatch.tasks.v1``;
mediation opens the disputes, studios drive them over REST, and the results come out on
``mediation.disputes.v1`` and ``mediation.task-results.v1``:

- a neighbour dispute goes from task to agreement, follow-up and a ``done`` task result;
- a land dispute fails and is referred to the court (``referred`` result);
- a family dispute marked at risk of violence reaches policing as ``ViolenceRiskFlagged``;
- a session that clashes with another is refused with a clear error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, Service, eventually, produce, read_topic

from govmesh_contracts import Event, TaskAssigned, TaskTarget, decode, encode, envelope_for

pytestmark = pytest.mark.e2e

SEED = Path(__file__).resolve().parents[2] / "services/mediation/src/mediation/data/seed-small.json"
GRID = "620702001001002"


@pytest.fixture(params=["sqlite", "postgres"])
def mediation(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Service]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(tmp_path),
        "MEDIATION_SEED_FILE": str(SEED),
    }
    if request.param == "postgres":
        env["MEDIATION_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")
    service = Service("mediation", env, tmp_path / "mediation.log")
    try:
        service.wait_ready()
        yield service
    finally:
        code = service.terminate()
    assert code == -15, "mediation must exit on SIGTERM, not be killed"
    log = service.log.read_text()
    assert '"event": "service_stopped"' in log
    for secret in ("13812345678", "张三丰", "620702199001011234"):
        assert secret not in log, "personal data in the log"


def _task(matter: str) -> TaskAssigned:
    now = datetime.now(UTC)
    return TaskAssigned(
        task_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        case_number=f"620702-{now:%Y%m%d}-{uuid.uuid4().int % 999999:06d}",
        matter_code=matter,
        target=TaskTarget.MEDIATION,
        grid_code=GRID,
        description="A quarrel between neighbours over a water leak.",
        due_at=now + timedelta(days=30),
        assigned_at=now,
    )


async def _publish(bootstrap: str, *events: Event) -> None:
    records = []
    for event in events:
        record = encode(event, envelope_for(event, source="/govmesh/dispatch"))
        records.append((record.key, record.value, record.headers))
    await produce(bootstrap, "dispatch.tasks.v1", records)


async def _events(bootstrap: str, topic: str, key: str) -> list[Event]:
    records = await read_topic(bootstrap, topic)
    return [decode(list(r.headers), r.value)[1] for r in records if r.key == key.encode()]


def _ok(response: httpx.Response, code: int = 204) -> Any:
    assert response.status_code == code, response.text
    return response.json() if response.content else None


@pytest.mark.exercises("dispatch.tasks.v1", "TaskAssigned", "mediation")
async def test_disputes_from_dispatch_tasks_to_their_results(mediation: Service, kafka_bootstrap: str) -> None:
    neighbour, land, family = _task("dispute.neighbour"), _task("dispute.land"), _task("dispute.family")
    # the neighbour task twice (as a redelivery with a new event id would): still one dispute
    await _publish(kafka_bootstrap, neighbour, land, family, neighbour)

    async with httpx.AsyncClient(base_url=mediation.url, timeout=10, headers=ADMIN) as http:
        disputes: dict[str, dict[str, Any]] = {}

        async def all_opened() -> bool:
            board = (await http.get("/v1/disputes", params={"limit": 500})).json()
            disputes.update({d["task_id"]: d for d in board})
            return all(str(t.task_id) in disputes for t in (neighbour, land, family))

        await eventually(all_opened)
        a, b, c = (disputes[str(t.task_id)] for t in (neighbour, land, family))
        board = (await http.get("/v1/disputes", params={"limit": 500})).json()
        assert [d["task_id"] for d in board].count(str(neighbour.task_id)) == 1
        assert (a["category"], b["category"], c["category"]) == ("neighbour", "land", "family")
        assert a["status"] == "assigned" and a["mediator_id"] == "M-0001"

        # 1. neighbour dispute: parties, a session (notices), agreement, follow-up → done
        applicant = _ok(
            await http.post(
                f"/v1/disputes/{a['dispute_id']}/parties",
                json={"role": "applicant", "name": "张三丰", "phone": "13812345678", "id_number": "620702199001011234"},
            ),
            201,
        )["id"]
        _ok(
            await http.post(f"/v1/disputes/{a['dispute_id']}/parties", json={"role": "respondent", "name": "李四"}), 201
        )
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        slot = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(), "room": "room 1"}
        session_id = _ok(await http.post(f"/v1/disputes/{a['dispute_id']}/sessions", json=slot), 201)["id"]

        # the land dispute went to the least loaded mediator of the studio; reassigned to M-0001,
        # the same hour is refused with a clear error
        assert b["mediator_id"] == "M-0002"
        reassigned = await http.post(f"/v1/disputes/{b['dispute_id']}/assignment", json={"mediator_id": "M-0001"})
        assert _ok(reassigned, 200) == {"mediator_id": "M-0001"}
        clash = await http.post(f"/v1/disputes/{b['dispute_id']}/sessions", json={**slot, "room": "room 2"})
        assert clash.status_code == 409
        [error] = clash.json()["errors"]
        assert error["loc"][-1] == "starts_at"
        assert "the mediator is already in session" in error["msg"]
        assert [(x["kind"], x["session_id"]) for x in error["conflicts"]] == [("mediator", session_id)]

        terms = [{"obligor": "respondent", "action": "repair the pipe", "due_on": start.date().isoformat()}]
        _ok(await http.post(f"/v1/disputes/{a['dispute_id']}/agreement", json={"terms": terms}), 201)
        assert _ok(
            await http.post(f"/v1/disputes/{a['dispute_id']}/follow-ups", json={"performed_terms": [1]}), 201
        ) == {"closed": True}

        # 2. land dispute: mediation fails, referred to the court
        _ok(
            await http.post(
                f"/v1/disputes/{b['dispute_id']}/referral",
                json={"referral_to": "court", "reason": "boundary contested"},
            )
        )

        # 3. family dispute at risk of violence
        flagged = await http.post(
            f"/v1/disputes/{c['dispute_id']}/risk", json={"risk_level": "critical", "summary": "threats of violence"}
        )
        assert _ok(flagged, 200) == {"flagged_to_policing": True}

    # On the topics: the dispute's story keyed by dispute id, the results keyed by case id.
    async def topic_has(topic: str, key: str, types: list[str]) -> list[Event]:
        found: list[Event] = []

        async def present() -> bool:
            found[:] = await _events(kafka_bootstrap, topic, key)
            return all(t in [e.event_type for e in found] for t in types)

        await eventually(present, timeout=60, interval=1)
        return found

    story_a = await topic_has(
        "mediation.disputes.v1",
        a["dispute_id"],
        [
            "gov.mediation.dispute.opened",
            "gov.mediation.dispute.mediator-assigned",
            "gov.mediation.session.scheduled",
            "gov.mediation.dispute.agreement-reached",
            "gov.mediation.dispute.follow-up-recorded",
            "gov.mediation.dispute.closed",
        ],
    )
    types_a = [e.event_type for e in story_a]
    assert (types_a[0], types_a[-1]) == ("gov.mediation.dispute.opened", "gov.mediation.dispute.closed")
    [notice] = [e for e in story_a if e.event_type == "gov.mediation.session.scheduled"]
    assert str(applicant) in {str(n.party_id) for n in notice.notices}  # type: ignore[attr-defined]
    [result_a] = await topic_has("mediation.task-results.v1", str(neighbour.case_id), ["gov.mediation.task.completed"])
    assert (result_a.task_id, result_a.outcome.value) == (neighbour.task_id, "done")  # type: ignore[attr-defined]

    story_b = await topic_has("mediation.disputes.v1", b["dispute_id"], ["gov.mediation.dispute.referred"])
    [referred] = [e for e in story_b if e.event_type == "gov.mediation.dispute.referred"]
    assert referred.referral_to == "court"  # type: ignore[attr-defined]
    [result_b] = await topic_has("mediation.task-results.v1", str(land.case_id), ["gov.mediation.task.completed"])
    assert (result_b.outcome.value, result_b.referral_to) == ("referred", "court")  # type: ignore[attr-defined]

    story_c = await topic_has("mediation.disputes.v1", c["dispute_id"], ["gov.mediation.dispute.violence-risk-flagged"])
    [flag] = [e for e in story_c if e.event_type == "gov.mediation.dispute.violence-risk-flagged"]
    assert (flag.case_id, flag.grid_code, flag.risk_level) == (family.case_id, GRID, "critical")  # type: ignore[attr-defined]

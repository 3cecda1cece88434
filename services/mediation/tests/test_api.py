"""Component tests: mediation in-process (ASGI), its own SQLite database, a fixed clock.

Events are checked where the service puts them: its outbox (the relay publishes them;
the e2e test follows them onto Kafka)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from support import ADMIN, auth_headers

from govmesh_contracts import TaskAssigned, TaskCancelled, TaskReassigned, TaskTarget
from govmesh_kit.clock import SettableClock
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import OutboxMessage
from mediation.bootstrap import create_app
from mediation.entrypoints.seed import SAMPLE
from mediation.handlers import (
    hand_over_on_task_reassigned,
    open_dispute_on_task_assigned,
    withdraw_on_task_cancelled,
)
from mediation.settings import MediationSettings

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
GRID = "620702001001003"  # in 县府街 community (620702001001)


class Mediation:
    def __init__(self, http: httpx.AsyncClient, runtime: Runtime, clock: SettableClock, sweeper: Any) -> None:
        self.http, self.runtime, self.clock, self.sweeper = http, runtime, clock, sweeper

    async def task(
        self, matter: str = "dispute.neighbour", grid: str | None = GRID, priority: str = "normal"
    ) -> TaskAssigned:
        event = TaskAssigned(
            task_id=uuid.uuid4(),
            case_id=uuid.uuid4(),
            case_number="620702-20261126-000001",
            matter_code=matter,
            target=TaskTarget.MEDIATION,
            grid_code=grid,
            description="Water leaks from the flat above; the neighbours quarrel.",
            priority=priority,
            due_at=self.clock() + timedelta(days=15),
            assigned_at=self.clock(),
        )
        async with self.runtime.uow() as uow:
            await open_dispute_on_task_assigned(event, uow, now=self.clock())
            await uow.commit()
        return event

    async def dispute_for(self, event: TaskAssigned) -> dict[str, Any]:
        board = (await self.http.get("/v1/disputes", params={"status": "assigned"})).json()
        board += (await self.http.get("/v1/disputes", params={"status": "open"})).json()
        [summary] = [d for d in board if d["task_id"] == str(event.task_id)]
        detail = await self.http.get(f"/v1/disputes/{summary['dispute_id']}")
        assert detail.status_code == 200, detail.text
        result: dict[str, Any] = detail.json()
        return result

    async def party(self, dispute_id: str, role: str, name: str, phone: str, id_number: str | None = None) -> str:
        body = {"role": role, "name": name, "phone": phone, "id_number": id_number}
        response = await self.http.post(f"/v1/disputes/{dispute_id}/parties", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def events(self, aggregate: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        async with self.runtime.db.sessions() as session:
            rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        out = [(r.event_type, json.loads(r.payload)) for r in rows]
        if aggregate is None:
            return out
        return [(t, p) for t, p in out if aggregate in (p.get("dispute_id"), p.get("case_id"))]


@pytest.fixture
async def med(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> AsyncIterator[Mediation]:
    """The service on each backend (SQLite and PostgreSQL), its clock standing at T0."""
    clock = SettableClock(T0)
    settings = MediationSettings(
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        sweep_interval_s=3600,
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mediation", headers=ADMIN) as http:
            seeded = await http.post("/v1/seed", json=json.loads(SAMPLE.read_text(encoding="utf-8")))
            assert seeded.status_code == 200, seeded.text
            yield Mediation(http, app.state.runtime, clock, app.state.sweeper)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


# --- from task to agreement, follow-up and result ---------------------------------------------


async def test_a_task_opens_a_dispute_assigned_by_area_and_skill(med: Mediation) -> None:
    event = await med.task("dispute.neighbour")
    dispute = await med.dispute_for(event)
    assert dispute["category"] == "neighbour"
    assert dispute["status"] == "assigned"
    assert (dispute["mediator_id"], dispute["studio_id"]) == ("M-0001", "ST-620702001001")
    assert dispute["target_close_at"] == (T0 + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert [e["kind"] for e in dispute["log"]] == ["opened", "assigned"]
    types = [t for t, _ in await med.events(dispute["dispute_id"])]
    assert types == ["gov.mediation.dispute.opened", "gov.mediation.dispute.mediator-assigned"]
    # the same task again (another event id) opens nothing new
    async with med.runtime.uow() as uow:
        await open_dispute_on_task_assigned(event, uow, now=med.clock())
        await uow.commit()
    assert len([t for t, _ in await med.events(dispute["dispute_id"])]) == 2


async def test_a_labour_dispute_goes_to_the_labour_skilled_mediator(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task("dispute.labour"))
    assert dispute["mediator_id"] == "M-0002"


async def test_agreement_follow_up_and_task_result(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    did = dispute["dispute_id"]
    applicant = await med.party(did, "applicant", "张三丰", "13812345678", "620702199001011234")
    respondent = await med.party(did, "respondent", "李四", "13987654321")

    detail = (await med.http.get(f"/v1/disputes/{did}")).json()
    shown = {p["party_id"]: p for p in detail["parties"]}
    assert shown[applicant]["name"] == "张**"
    assert shown[applicant]["phone"] == "138****5678"
    assert shown[applicant]["id_number"] == "6207**********1234"

    session = await med.http.post(
        f"/v1/disputes/{did}/sessions", json={"starts_at": at(2), "ends_at": at(3), "room": "room 1"}
    )
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    [(_, notice)] = [(t, p) for t, p in await med.events(did) if t == "gov.mediation.session.scheduled"]
    assert {(n["party_id"], n["role"]) for n in notice["notices"]} == {
        (applicant, "applicant"),
        (respondent, "respondent"),
    }
    published = json.dumps(notice)  # no name, phone or ID number (ids may hold any digits: check whole values)
    assert not any(
        value in published for value in ("张", "138****", "13812345678", "13987654321", "6207**", "620702199001011234")
    )

    med.clock.advance(timedelta(hours=3))
    held = await med.http.post(
        f"/v1/sessions/{sid}/record",
        json={
            "minutes": "Both sides agreed the pipe is the respondent's.",
            "attendance": {applicant: True, respondent: True},
        },
    )
    assert held.status_code == 204, held.text

    terms = [
        {"obligor": "respondent", "action": "repair the pipe", "due_on": "2026-12-05"},
        {"obligor": "respondent", "action": "pay 800 yuan for the ceiling", "due_on": "2026-12-10"},
    ]
    agreement = await med.http.post(f"/v1/disputes/{did}/agreement", json={"terms": terms})
    assert agreement.status_code == 201, agreement.text
    detail = (await med.http.get(f"/v1/disputes/{did}")).json()
    assert detail["status"] == "agreed"
    assert detail["agreement"]["confirmation_status"] == "open"
    assert detail["agreement"]["confirmation_deadline"].startswith("2026-12-26")

    med.clock.advance(timedelta(days=10))
    first = await med.http.post(
        f"/v1/disputes/{did}/follow-ups", json={"performed_terms": [1], "note": "pipe repaired"}
    )
    assert first.json() == {"closed": False}
    assert (await med.http.get(f"/v1/disputes/{did}")).json()["status"] == "agreed"
    med.clock.advance(timedelta(days=5))
    second = await med.http.post(f"/v1/disputes/{did}/follow-ups", json={"performed_terms": [2]})
    assert second.json() == {"closed": True}

    detail = (await med.http.get(f"/v1/disputes/{did}")).json()
    assert (detail["status"], detail["outcome"], detail["late"]) == ("closed", "done", False)
    assert [v["performed_terms"] for v in detail["follow_ups"]] == [[1], [2]]
    results = [p for t, p in await med.events(dispute["case_id"]) if t == "gov.mediation.task.completed"]
    assert len(results) == 1
    assert results[0]["task_id"] == dispute["task_id"]
    assert results[0]["outcome"] == "done"
    assert "2 terms performed" in results[0]["summary"]


async def test_failure_and_referral_closes_with_a_referred_result(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task("dispute.land"))
    did = dispute["dispute_id"]
    police = await med.http.post(f"/v1/disputes/{did}/referral", json={"referral_to": "policing", "reason": "no deal"})
    assert police.status_code == 422
    assert police.json()["errors"][0]["loc"][-1] == "referral_to"
    assert "public-order" in police.json()["errors"][0]["msg"]

    court = await med.http.post(
        f"/v1/disputes/{did}/referral", json={"referral_to": "court", "reason": "boundary contested after two sessions"}
    )
    assert court.status_code == 204, court.text
    detail = (await med.http.get(f"/v1/disputes/{did}")).json()
    assert (detail["status"], detail["outcome"], detail["referral_to"]) == ("closed", "referred", "court")
    types = [t for t, _ in await med.events(did)]
    assert types[-2:] == ["gov.mediation.dispute.referred", "gov.mediation.dispute.closed"]
    [result] = [p for t, p in await med.events(dispute["case_id"]) if t == "gov.mediation.task.completed"]
    assert (result["outcome"], result["referral_to"]) == ("referred", "court")

    again = await med.http.post(f"/v1/disputes/{did}/withdrawal", json={"reason": "x"})
    assert again.status_code == 409
    assert "closed" in again.json()["errors"][0]["msg"]


async def test_a_withdrawn_dispute_reports_withdrawn(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task("dispute.consumer"))
    response = await med.http.post(
        f"/v1/disputes/{dispute['dispute_id']}/withdrawal", json={"reason": "settled privately"}
    )
    assert response.status_code == 204
    [result] = [p for t, p in await med.events(dispute["case_id"]) if t == "gov.mediation.task.completed"]
    assert result["outcome"] == "withdrawn"


# --- escalation risk --------------------------------------------------------------------------


async def test_high_risk_flags_the_dispute_to_policing_once(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task("dispute.family"))
    did = dispute["dispute_id"]
    medium = await med.http.post(f"/v1/disputes/{did}/risk", json={"risk_level": "medium", "summary": "shouting"})
    assert medium.json() == {"flagged_to_policing": False}
    high = await med.http.post(
        f"/v1/disputes/{did}/risk", json={"risk_level": "high", "summary": "threats with a knife"}
    )
    assert high.json() == {"flagged_to_policing": True}
    again = await med.http.post(f"/v1/disputes/{did}/risk", json={"risk_level": "high", "summary": "still tense"})
    assert again.json() == {"flagged_to_policing": False}
    flags = [p for t, p in await med.events(did) if t == "gov.mediation.dispute.violence-risk-flagged"]
    assert len(flags) == 1
    assert (flags[0]["case_id"], flags[0]["grid_code"], flags[0]["risk_level"]) == (dispute["case_id"], GRID, "high")
    # at high risk a family dispute may go to the police
    referred = await med.http.post(
        f"/v1/disputes/{did}/referral", json={"referral_to": "policing", "reason": "threats"}
    )
    assert referred.status_code == 204, referred.text


# --- sessions: conflicts, calendar, cancellation ----------------------------------------------


async def test_session_conflicts_are_refused_with_a_clear_error(med: Mediation) -> None:
    first = await med.dispute_for(await med.task())
    second = await med.dispute_for(await med.task())
    assert first["mediator_id"] == second["mediator_id"] == "M-0001"
    person = ("王五", "13700000000", "620702198001011111")
    await med.party(first["dispute_id"], "applicant", *person)
    await med.party(second["dispute_id"], "respondent", *person)

    ok = await med.http.post(
        f"/v1/disputes/{first['dispute_id']}/sessions", json={"starts_at": at(2), "ends_at": at(4), "room": "room 1"}
    )
    assert ok.status_code == 201
    clash = await med.http.post(
        f"/v1/disputes/{second['dispute_id']}/sessions", json={"starts_at": at(3), "ends_at": at(5), "room": "room 1"}
    )
    assert clash.status_code == 409
    [error] = clash.json()["errors"]
    assert error["loc"] == ["body", "starts_at"]
    assert {c["kind"] for c in error["conflicts"]} == {"mediator", "room", "party"}
    assert "the mediator is already in session" in error["msg"]
    assert all(c["session_id"] == ok.json()["id"] for c in error["conflicts"])

    # after the first session ends the mediator, room and party are free
    later = await med.http.post(
        f"/v1/disputes/{second['dispute_id']}/sessions", json={"starts_at": at(4), "ends_at": at(5), "room": "room 1"}
    )
    assert later.status_code == 201, later.text
    calendar = (await med.http.get("/v1/sessions", params={"studio_id": "ST-620702001001"})).json()
    assert [s["session_id"] for s in calendar] == [ok.json()["id"], later.json()["id"]]

    cancelled = await med.http.post(f"/v1/sessions/{ok.json()['id']}/cancel", json={"reason": "applicant ill"})
    assert cancelled.status_code == 204
    free = await med.http.post(
        f"/v1/disputes/{second['dispute_id']}/sessions", json={"starts_at": at(2), "ends_at": at(3), "room": "room 2"}
    )
    assert free.status_code == 201, free.text
    assert "gov.mediation.session.cancelled" in [t for t, _ in await med.events(first["dispute_id"])]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"starts_at": at(3), "ends_at": at(2), "room": "room 1"}, "ends_at", "after starts_at"),
        ({"starts_at": at(-2), "ends_at": at(-1), "room": "room 1"}, "starts_at", "in the past"),
        ({"starts_at": at(2), "ends_at": at(3), "room": "attic"}, "room", "no room 'attic'"),
        ({"starts_at": "2026-11-26T09:00:00", "ends_at": at(3), "room": "room 1"}, "starts_at", "timezone"),
        ({"starts_at": at(2), "room": "room 1"}, "ends_at", "Field required"),
    ],
)
async def test_a_bad_session_names_the_field_and_writes_nothing(
    med: Mediation, body: dict[str, Any], field: str, reason: str
) -> None:
    dispute = await med.dispute_for(await med.task())
    before = len(await med.events())
    response = await med.http.post(f"/v1/disputes/{dispute['dispute_id']}/sessions", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["loc"][-1] == field and reason in e["msg"] for e in errors), errors
    assert len(await med.events()) == before
    assert (await med.http.get(f"/v1/disputes/{dispute['dispute_id']}")).json()["sessions"] == []


# --- assignment and conflicts of interest -----------------------------------------------------


async def test_a_conflict_of_interest_reassigns_and_keeps_the_mediator_out(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    did = dispute["dispute_id"]
    response = await med.http.post(
        f"/v1/disputes/{did}/conflicts-of-interest",
        json={"mediator_id": "M-0001", "reason": "related to the respondent"},
    )
    assert response.status_code == 204
    detail = (await med.http.get(f"/v1/disputes/{did}")).json()
    assert detail["mediator_id"] != "M-0001"
    assert detail["conflicts_of_interest"][0]["mediator_id"] == "M-0001"
    back = await med.http.post(f"/v1/disputes/{did}/assignment", json={"mediator_id": "M-0001"})
    assert back.status_code == 422
    assert "conflict of interest" in back.json()["errors"][0]["msg"]
    manual = await med.http.post(
        f"/v1/disputes/{did}/assignment", json={"mediator_id": "M-0003", "reason": "land expert"}
    )
    assert manual.json() == {"mediator_id": "M-0003"}
    assigned = [p for t, p in await med.events(did) if t == "gov.mediation.dispute.mediator-assigned"]
    assert assigned[-1]["previous_mediator_id"] == detail["mediator_id"]
    mediators = {m["mediator_id"]: m["load"] for m in (await med.http.get("/v1/mediators")).json()}
    assert mediators["M-0003"] == 1


async def test_a_dispute_outside_every_area_still_gets_a_skilled_mediator(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task("dispute.family", grid="620722001001001"))
    assert dispute["mediator_id"] in {"M-0001", "M-0003", "M-0004"}


# --- time rules: the one-month target and the judicial-confirmation window ----------------------


async def test_late_disputes_and_lapsed_confirmation_windows_are_flagged_once(med: Mediation) -> None:
    late = await med.dispute_for(await med.task())
    agreed = await med.dispute_for(await med.task("dispute.property"))
    await med.party(agreed["dispute_id"], "respondent", "赵六", "13600000000")
    terms = {"terms": [{"obligor": "respondent", "action": "pay the fee", "due_on": "2027-01-20"}]}
    assert (await med.http.post(f"/v1/disputes/{agreed['dispute_id']}/agreement", json=terms)).status_code == 201

    med.clock.advance(timedelta(days=29))
    assert (await med.sweeper.run_once()).flagged_late == 0
    med.clock.advance(timedelta(days=2))
    result = await med.sweeper.run_once()
    assert (result.flagged_late, result.confirmations_lapsed) == (2, 1)
    assert (await med.sweeper.run_once()).flagged_late == 0  # persisted: flagged once

    board = (await med.http.get("/v1/disputes", params={"late": "true"})).json()
    assert {d["dispute_id"] for d in board} == {late["dispute_id"], agreed["dispute_id"]}
    assert all(d["late"] for d in board)
    fresh = await med.dispute_for(await med.task())
    on_time = (await med.http.get("/v1/disputes", params={"late": "false"})).json()
    assert [d["dispute_id"] for d in on_time] == [fresh["dispute_id"]]
    assert [t for t, _ in await med.events(late["dispute_id"])][-1] == "gov.mediation.dispute.flagged-late"
    assert "gov.mediation.dispute.judicial-confirmation-lapsed" in [
        t for t, _ in await med.events(agreed["dispute_id"])
    ]
    too_late = await med.http.post(f"/v1/disputes/{agreed['dispute_id']}/judicial-confirmation")
    assert too_late.status_code == 409
    assert "window closed" in too_late.json()["errors"][0]["msg"]


async def test_judicial_confirmation_within_the_window_is_recorded(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    did = dispute["dispute_id"]
    await med.party(did, "respondent", "孙七", "13500000000")
    terms = {"terms": [{"obligor": "respondent", "action": "move the fence", "due_on": "2026-12-01"}]}
    assert (await med.http.post(f"/v1/disputes/{did}/agreement", json=terms)).status_code == 201
    med.clock.advance(timedelta(days=30))
    assert (await med.http.post(f"/v1/disputes/{did}/judicial-confirmation")).status_code == 204
    assert (await med.http.post(f"/v1/disputes/{did}/judicial-confirmation")).status_code == 409
    med.clock.advance(timedelta(days=5))
    assert (await med.sweeper.run_once()).confirmations_lapsed == 0
    assert (await med.http.get(f"/v1/disputes/{did}")).json()["agreement"]["confirmation_status"] == "applied"


async def test_an_agreement_term_for_a_missing_party_is_refused(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    terms = {"terms": [{"obligor": "respondent", "action": "pay", "due_on": "2026-12-01"}]}
    response = await med.http.post(f"/v1/disputes/{dispute['dispute_id']}/agreement", json=terms)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "obligor"


# --- protected contact data -------------------------------------------------------------------


async def test_reading_full_contact_data_is_audited(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    pid = await med.party(dispute["dispute_id"], "applicant", "周八", "13400000000")
    url = f"/v1/disputes/{dispute['dispute_id']}/parties/{pid}/contact"
    assert (await med.http.get(url)).status_code == 422  # no purpose stated
    response = await med.http.get(url, headers={"X-Purpose": "send the notice"})
    assert response.json()["phone"] == "13400000000"
    reads = (await med.http.get("/v1/audit", params={"action": "read", "resource_id": pid})).json()["items"]
    assert [(r["subject"], r["resource"], r["fields"], r["purpose"]) for r in reads] == [
        ("test-admin", "party", "name,phone", "send the notice")
    ]


# --- reports, window services, deliberation, seed ---------------------------------------------


async def test_outcomes_by_category(med: Mediation) -> None:
    for matter, action in [
        ("dispute.land", "referral"),
        ("dispute.land", "withdrawal"),
        ("dispute.labour", "withdrawal"),
    ]:
        dispute = await med.dispute_for(await med.task(matter))
        body = {"referral_to": "court", "reason": "no deal"} if action == "referral" else {"reason": "settled"}
        assert (await med.http.post(f"/v1/disputes/{dispute['dispute_id']}/{action}", json=body)).status_code == 204
    report = (await med.http.get("/v1/reports/outcomes-by-category")).json()
    assert report == [
        {"category": "labour", "done": 0, "referred": 0, "withdrawn": 1, "total": 1},
        {"category": "land", "done": 0, "referred": 1, "withdrawn": 1, "total": 2},
    ]


async def test_a_legal_aid_task_is_a_window_service_with_its_own_outcome(med: Mediation) -> None:
    event = await med.task("legal.aid")
    [request] = (await med.http.get("/v1/window-requests", params={"kind": "legal_aid"})).json()
    assert request["case_id"] == str(event.case_id)
    wrong = await med.http.post(
        f"/v1/window-requests/{request['request_id']}/completion", json={"outcome": "counselled"}
    )
    assert wrong.status_code == 422
    assert "granted" in wrong.json()["errors"][0]["msg"]
    done = await med.http.post(f"/v1/window-requests/{request['request_id']}/completion", json={"outcome": "granted"})
    assert done.status_code == 204
    [result] = [p for t, p in await med.events(str(event.case_id)) if t == "gov.mediation.task.completed"]
    assert (result["outcome"], result["task_id"]) == ("done", str(event.task_id))
    walk_in = await med.http.post("/v1/window-requests", json={"kind": "psychological_counselling", "topic": "stress"})
    assert walk_in.status_code == 201


async def test_a_residents_deliberation_records_decisions_and_whether_they_passed(med: Mediation) -> None:
    body = {
        "community_code": "620702001001",
        "topic": "Parking in the courtyard",
        "held_on": "2026-11-25",
        "participants": ["building 3 rep", "building 4 rep", "property manager", "grid worker", "resident"],
        "decisions": [
            {"text": "Mark 20 spaces", "votes_for": 4, "votes_against": 1},
            {"text": "Charge a fee", "votes_for": 2, "votes_against": 2, "abstentions": 1},
        ],
    }
    assert (await med.http.post("/v1/deliberations", json=body)).status_code == 201
    [held] = (await med.http.get("/v1/deliberations", params={"community_code": "620702001001"})).json()
    assert [d["passed"] for d in held["decisions"]] == [True, False]
    too_few = await med.http.post("/v1/deliberations", json={**body, "participants": ["a", "b"]})
    assert too_few.status_code == 422
    assert too_few.json()["errors"][0]["loc"][-1] == "participants"


async def test_seed_rejects_a_mediator_of_an_unknown_studio_and_writes_nothing(med: Mediation) -> None:
    body = {
        "studios": [{"studio_id": "ST-NEW", "name": "new", "area_codes": ["620702003"], "rooms": ["r"]}],
        "mediators": [{"mediator_id": "M-X", "studio_id": "ST-NOWHERE", "name": "x", "skills": ["family"]}],
    }
    response = await med.http.post("/v1/seed", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "mediators[0]", "studio_id"]
    assert "ST-NEW" not in [s["studio_id"] for s in (await med.http.get("/v1/studios")).json()]
    bad_skill = await med.http.post(
        "/v1/seed",
        json={"mediators": [{"mediator_id": "M-Y", "studio_id": "ST-620702001", "name": "y", "skills": ["magic"]}]},
    )
    assert bad_skill.status_code == 422
    assert bad_skill.json()["errors"][0]["loc"][-2:] == ["skills", 0]


async def test_unknown_dispute_is_404(med: Mediation) -> None:
    assert (await med.http.get(f"/v1/disputes/{uuid.uuid4()}")).status_code == 404
    response = await med.http.post(f"/v1/disputes/{uuid.uuid4()}/risk", json={"risk_level": "high", "summary": "x"})
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


async def test_a_risk_summary_naming_a_party_is_refused_and_nothing_reaches_policing(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task("dispute.family"))
    did = dispute["dispute_id"]
    await med.party(did, "respondent", "吴九", "13300000000")
    response = await med.http.post(
        f"/v1/disputes/{did}/risk", json={"risk_level": "high", "summary": "吴九 has a knife"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "summary"
    assert "party's name" in response.json()["errors"][0]["msg"]
    assert "gov.mediation.dispute.violence-risk-flagged" not in [t for t, _ in await med.events(did)]
    assert (await med.http.get(f"/v1/disputes/{did}")).json()["risk_level"] == "low"


async def test_minutes_cannot_be_recorded_before_the_session_starts(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    body = {"starts_at": at(2), "ends_at": at(3), "room": "room 2"}
    sid = (await med.http.post(f"/v1/disputes/{dispute['dispute_id']}/sessions", json=body)).json()["id"]
    early = await med.http.post(f"/v1/sessions/{sid}/record", json={"minutes": "x"})
    assert early.status_code == 422
    assert "not started" in early.json()["errors"][0]["msg"]


async def test_a_task_cancelled_by_dispatch_closes_the_dispute_without_a_result(med: Mediation) -> None:
    event = await med.task()
    dispute = await med.dispute_for(event)
    cancel = TaskCancelled(task_id=event.task_id, case_id=event.case_id, reason="duplicate", cancelled_at=med.clock())
    async with med.runtime.uow() as uow:
        await withdraw_on_task_cancelled(cancel, uow, now=med.clock())
        await uow.commit()
    detail = (await med.http.get(f"/v1/disputes/{dispute['dispute_id']}")).json()
    assert (detail["status"], detail["outcome"]) == ("closed", "withdrawn")
    assert "gov.mediation.task.completed" not in [t for t, _ in await med.events(dispute["case_id"])]


def test_the_seed_cli_loads_studios_and_mediators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from mediation.adapters.tables import MediatorRow
    from mediation.entrypoints.seed import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'seed.sqlite'}"
    monkeypatch.setenv("MEDIATION_DATABASE_URL", url)
    assert main([str(SAMPLE)]) == 0
    assert main([str(SAMPLE)]) == 0  # idempotent: updated by id
    assert "loaded 3 studios and 4 mediators" in capsys.readouterr().out

    async def count() -> int:
        from govmesh_runtime.db import Database

        db = Database(url)
        async with db.sessions() as session:
            rows = (await session.exec(select(MediatorRow))).all()
        await db.dispose()
        return len(rows)

    assert asyncio.run(count()) == 4
    # --if-empty (make run's seeding): the studios are there, nothing is loaded again
    assert main([str(SAMPLE), "--if-empty"]) == 0
    assert "mediation: 3 studios already there, nothing loaded" in capsys.readouterr().out


async def test_a_task_reassigned_to_policing_leaves_mediation(med: Mediation) -> None:
    event = await med.task("public_order")
    dispute = await med.dispute_for(event)
    moved = TaskReassigned(
        task_id=event.task_id,
        case_id=event.case_id,
        target=TaskTarget.POLICING,
        reason="fight reported",
        reassigned_at=med.clock(),
    )
    async with med.runtime.uow() as uow:
        await hand_over_on_task_reassigned(moved, uow, now=med.clock())
        await uow.commit()
    detail = (await med.http.get(f"/v1/disputes/{dispute['dispute_id']}")).json()
    assert (detail["status"], detail["outcome"]) == ("closed", "withdrawn")
    assert "reassigned to policing" in detail["log"][-1]["note"]


def _into_mediation(task_id: uuid.UUID, case_id: uuid.UUID, at: datetime, *, with_case: bool = True) -> TaskReassigned:
    fields: dict[str, Any] = {}
    if with_case:
        fields = {
            "case_number": "620702-20261126-000002",
            "matter_code": "dispute.neighbour",
            "grid_code": GRID,
            "description": "The neighbours quarrel over a shared wall.",
            "due_at": at + timedelta(days=15),
        }
    return TaskReassigned(
        task_id=task_id,
        case_id=case_id,
        target=TaskTarget.MEDIATION,
        previous_target=TaskTarget.GRID_WORKER,
        reason="a dispute for the mediators",
        reassigned_at=at,
        **fields,
    )


async def test_a_task_reassigned_into_mediation_opens_a_dispute_and_once_only(med: Mediation) -> None:
    moved = _into_mediation(uuid.uuid4(), uuid.uuid4(), med.clock())
    for _ in range(2):  # the same event again (another delivery): still one file
        async with med.runtime.uow() as uow:
            await hand_over_on_task_reassigned(moved, uow, now=med.clock())
            await uow.commit()
    board = (await med.http.get("/v1/disputes", params={"status": "assigned"})).json()
    board += (await med.http.get("/v1/disputes", params={"status": "open"})).json()
    [summary] = [d for d in board if d["task_id"] == str(moved.task_id)]
    assert (summary["case_number"], summary["grid_code"]) == ("620702-20261126-000002", GRID)
    assert [t for t, _ in await med.events(str(moved.case_id))].count("gov.mediation.dispute.opened") == 1


async def test_a_reassignment_without_the_case_fields_opens_nothing(med: Mediation) -> None:
    moved = _into_mediation(uuid.uuid4(), uuid.uuid4(), med.clock(), with_case=False)
    async with med.runtime.uow() as uow:
        await hand_over_on_task_reassigned(moved, uow, now=med.clock())
        await uow.commit()
    assert await med.events(str(moved.case_id)) == []


# --- access: scopes, places, personal data, audit ---------------------------------------------

OTHER_COUNTY_GRID = "620721001002003"
WORKER = auth_headers(["cases:read", "mediation"], [GRID], subject="grid-worker")
COUNTY = auth_headers(["cases:read"], ["620702"], subject="county-centre")


async def _board(med: Mediation, headers: dict[str, str]) -> set[str]:
    response = await med.http.get("/v1/disputes", headers=headers)  # every open one
    assert response.status_code == 200, response.text
    return {d["task_id"] for d in response.json()}


async def test_without_a_credential_every_endpoint_but_health_is_a_401(med: Mediation) -> None:
    bare = {"Authorization": ""}
    assert (await med.http.get("/healthz", headers=bare)).status_code == 200
    for method, path in (("GET", "/v1/disputes"), ("GET", "/v1/studios"), ("POST", "/v1/deliberations")):
        assert (await med.http.request(method, path, headers=bare)).status_code == 401


async def test_each_endpoint_group_needs_its_scope(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    grid_only = auth_headers(["grid:read", "grid:write"])
    reader = auth_headers(["cases:read"])
    refused = await med.http.get("/v1/disputes", headers=grid_only)
    assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'cases:read' is required")
    write = await med.http.post(
        f"/v1/disputes/{dispute['dispute_id']}/risk", json={"risk_level": "medium", "summary": "x"}, headers=reader
    )
    assert (write.status_code, write.json()["detail"]) == (403, "scope 'mediation' is required")
    studios = await med.http.get("/v1/studios", headers=reader)
    assert (studios.status_code, studios.json()["detail"]) == (403, "scope 'grid:read' is required")
    assert (await med.http.get("/v1/studios", headers=grid_only)).status_code == 200
    assert (await med.http.get("/v1/sessions", headers=reader)).status_code == 200


async def test_a_grid_worker_acts_in_their_grid_only_and_missing_looks_like_elsewhere(med: Mediation) -> None:
    mine = await med.dispute_for(await med.task(grid=GRID))
    theirs = await med.dispute_for(await med.task(grid=OTHER_COUNTY_GRID))
    unplaced_task = await med.task(grid=None)
    assert await _board(med, WORKER) == {mine["task_id"]}  # not the other grid's, not the unplaced one
    assert str(unplaced_task.task_id) in await _board(med, ADMIN)
    assert (await med.http.get(f"/v1/disputes/{mine['dispute_id']}", headers=WORKER)).status_code == 200
    risk = {"risk_level": "medium", "summary": "raised voices"}
    ok = await med.http.post(f"/v1/disputes/{mine['dispute_id']}/risk", json=risk, headers=WORKER)
    assert ok.status_code == 200, ok.text
    for dispute_id in (theirs["dispute_id"], str(uuid.uuid4())):
        read = await med.http.get(f"/v1/disputes/{dispute_id}", headers=WORKER)
        write = await med.http.post(f"/v1/disputes/{dispute_id}/risk", json=risk, headers=WORKER)
        assert read.status_code == write.status_code == 403
        assert read.json()["detail"] == write.json()["detail"] == "this dispute is not within your places"
    refusals = (await med.http.get("/v1/audit", params={"subject": "grid-worker", "action": "refused"})).json()
    assert [r["resource_id"] for r in refusals["items"]][:2] == [theirs["dispute_id"]] * 2


async def test_a_county_centre_sees_its_townships_not_another_county(med: Mediation) -> None:
    mine = await med.dispute_for(await med.task(grid=GRID))
    theirs = await med.dispute_for(await med.task(grid=OTHER_COUNTY_GRID))
    assert await _board(med, COUNTY) == {mine["task_id"]}
    assert (await med.http.get(f"/v1/disputes/{mine['dispute_id']}", headers=COUNTY)).status_code == 200
    assert (await med.http.get(f"/v1/disputes/{theirs['dispute_id']}", headers=COUNTY)).status_code == 403
    other = auth_headers(["cases:read"], ["620721"])
    assert await _board(med, other) == {theirs["task_id"]}


async def test_contact_data_needs_personal_data_and_each_read_and_change_is_audited(med: Mediation) -> None:
    dispute = await med.dispute_for(await med.task())
    adding = auth_headers(["mediation"], [GRID], subject="mediator-m1")
    body = {"role": "applicant", "name": "周八", "phone": "13400000000", "id_number": "620702199001011234"}
    added = await med.http.post(f"/v1/disputes/{dispute['dispute_id']}/parties", json=body, headers=adding)
    pid = added.json()["id"]
    [change] = (await med.http.get("/v1/audit", params={"action": "change"})).json()["items"]
    assert (change["subject"], change["resource_id"], change["fields"]) == ("mediator-m1", pid, "id_number,name,phone")

    url = f"/v1/disputes/{dispute['dispute_id']}/parties/{pid}/contact"
    masked = (await med.http.get(f"/v1/disputes/{dispute['dispute_id']}", headers=WORKER)).json()["parties"]
    assert masked[0]["phone"] == "134****0000" and masked[0]["name"] != "周八"
    why = {"X-Purpose": "send the session notice"}
    refused = await med.http.get(url, headers={**WORKER, **why})
    assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'personal-data' is required")
    officer = auth_headers(["cases:read", "personal-data"], [GRID], subject="case-officer")
    full = await med.http.get(url, headers={**officer, **why})
    assert full.status_code == 200 and full.json()["id_number"] == "620702199001011234"
    elsewhere = auth_headers(["cases:read", "personal-data"], [OTHER_COUNTY_GRID])
    assert (await med.http.get(url, headers={**elsewhere, **why})).status_code == 403
    [read] = (await med.http.get("/v1/audit", params={"action": "read"})).json()["items"]
    assert (read["subject"], read["resource"], read["resource_id"], read["fields"], read["purpose"]) == (
        "case-officer",
        "party",
        pid,
        "id_number,name,phone",
        "send the session notice",
    )


async def test_registry_writes_and_deliberations_stay_within_the_callers_places(med: Mediation) -> None:
    township = auth_headers(["grid:write", "mediation", "cases:read"], ["620702001"], subject="township")
    studio = {"studio_id": "ST-X", "name": "x", "area_codes": ["620721001"], "rooms": ["r"]}
    refused = await med.http.put("/v1/studios/ST-X", json=studio, headers=township)
    assert (refused.status_code, refused.json()["detail"]) == (403, "'620721001' is not within your places")
    studio["area_codes"] = ["620702001002"]
    assert (await med.http.put("/v1/studios/ST-X", json=studio, headers=township)).status_code == 200
    assert (await med.http.post("/v1/seed", json={}, headers=township)).status_code == 403
    deliberation = {"topic": "parking", "held_on": "2026-11-20", "participants": ["a", "b", "c"]}
    elsewhere = await med.http.post(
        "/v1/deliberations", json={**deliberation, "community_code": "620721001002"}, headers=township
    )
    assert elsewhere.status_code == 403
    here = await med.http.post(
        "/v1/deliberations", json={**deliberation, "community_code": "620702001001"}, headers=township
    )
    assert here.status_code == 201, here.text
    other = auth_headers(["cases:read"], ["620721"])
    assert (await med.http.get("/v1/deliberations", headers=other)).json() == []
    assert len((await med.http.get("/v1/deliberations", headers=township)).json()) == 1

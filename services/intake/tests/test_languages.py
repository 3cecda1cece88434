"""The words people read follow Accept-Language: the case's timeline notes, Open311's
status_notes and the API's error messages, in Chinese (zh-CN) by default and in English on
request; field names, codes and kinds in JSON stay as they are."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support import ADMIN

from govmesh_contracts import CaseClosed, CaseDispatched, CaseEscalated, CaseResolved, Level, TaskAssigned, TaskTarget

Deliver = Callable[..., Awaitable[None]]
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
CASE: dict[str, Any] = {
    "matter_code": "dispute.neighbour",
    "description": "楼上漏水",
    "lat": 38.93,
    "lon": 100.45,
    "channel": "hotline",
    "attributes": {"parties_count": 2},
}


@pytest.fixture
def credential() -> dict[str, Any]:
    """Every scope, and no Accept-Language of the client's own: each request says its language."""
    return {"headers": {"Authorization": ADMIN["Authorization"]}}


async def _handled_case(client: httpx.AsyncClient, deliver: Deliver) -> dict[str, Any]:
    case: dict[str, Any] = (await client.post("/v1/cases", json=CASE)).json()
    case_id, now = uuid.UUID(case["id"]), datetime.now(UTC)
    await deliver(
        CaseDispatched(
            case_id=case_id, grid_code="620702001001001", handled_by="centre:C620702001001", dispatched_at=now
        )
    )
    await deliver(
        TaskAssigned(
            task_id=uuid.UUID("5d0f2b8e-0000-4000-8000-000000000000"),
            case_id=case_id,
            case_number=case["case_number"],
            matter_code="dispute.neighbour",
            target=TaskTarget.MEDIATION,
            description="d",
            due_at=datetime(2026, 12, 10, 8, 30, tzinfo=UTC),
            assigned_at=now + timedelta(seconds=1),
        )
    )
    await deliver(
        CaseEscalated(
            case_id=case_id,
            from_level=Level.COMMUNITY,
            to_level=Level.TOWNSHIP,
            centre_code="C620702001",
            reason="涉及多个部门",
            escalated_at=now + timedelta(seconds=2),
            escalated_by="centre-officer-7",
        )
    )
    await deliver(CaseResolved(case_id=case_id, resolved_at=now + timedelta(seconds=3)))
    await deliver(
        CaseClosed(
            case_id=case_id, closed_at=now + timedelta(seconds=4), closed_by="centre-officer-7", note="电话回访满意"
        )
    )
    return case


async def test_the_timeline_notes_are_chinese_by_default_and_english_on_request(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    case = await _handled_case(client, deliver)
    url = f"/v1/cases/{case['id']}"
    default, zh, en = (await client.get(url)), (await client.get(url, headers=ZH)), (await client.get(url, headers=EN))
    assert default.headers["Content-Language"] == zh.headers["Content-Language"] == "zh-CN"
    assert en.headers["Content-Language"] == "en"
    assert default.json()["timeline"] == zh.json()["timeline"]

    def notes(answer: httpx.Response) -> dict[str, tuple[str, str]]:
        return {s["kind"]: (s["actor"], s["note"]) for s in answer.json()["timeline"]}

    chinese, english = notes(zh), notes(en)
    assert chinese.keys() == english.keys()  # the kinds are codes: never translated
    assert chinese["received"][1].startswith("经热线受理为“邻里纠纷”（dispute.neighbour），办理时限 ")
    assert english["received"][1].startswith("accepted via hotline as 邻里纠纷 (dispute.neighbour); due ")
    assert chinese["dispatched"][1] == "定位到网格 620702001001001"
    assert english["dispatched"][1] == "grid 620702001001001"
    assert chinese["task_assigned"][1] == "任务 5d0f2b8e 派给调解（一般），时限 2026-12-10 16:30"
    assert english["task_assigned"][1] == "task 5d0f2b8e for mediation (normal), due 2026-12-10T08:30+00:00"
    # A centre's escalation and closure by hand: the person who decided is the actor.
    assert chinese["escalated"] == ("centre-officer-7", "上报：社区 → 乡镇（街道），涉及多个部门")
    assert english["escalated"] == ("centre-officer-7", "escalated community → township: 涉及多个部门")
    assert chinese["resolved"][1] == "全部任务已完成，等待群众评价"
    assert chinese["closed"] == ("centre-officer-7", "综治中心结案：电话回访满意")
    assert english["closed"] == ("centre-officer-7", "closed by the centre: 电话回访满意")


async def test_open311_status_notes_follow_accept_language(client: httpx.AsyncClient, deliver: Deliver) -> None:
    case = await _handled_case(client, deliver)
    url = f"/open311/v2/requests/{case['case_number']}.json"
    [default], [en] = (await client.get(url)).json(), (await client.get(url, headers=EN)).json()
    assert "received — centre:" in default["status_notes"]  # when, the kind and who: as they are
    assert ": 经热线受理为“邻里纠纷”" in default["status_notes"]
    assert "定位到网格 620702001001001" in default["status_notes"]
    assert ": accepted via hotline as 邻里纠纷" in en["status_notes"]
    assert "grid 620702001001001" in en["status_notes"]
    assert "定位到网格" not in en["status_notes"]


async def test_error_messages_follow_accept_language_and_name_the_same_fields(client: httpx.AsyncClient) -> None:
    missing = f"/v1/cases/{uuid.uuid4()}"
    assert (await client.get(missing)).json()["detail"].startswith("没有这个案件：")
    assert (await client.get(missing, headers=EN)).json()["detail"].startswith("no such case: ")

    bad = {**CASE, "description": "", "reporter": {"phone": "13812345678", "id_number": "110105194912310021"}}
    bad.pop("description")

    async def reasons(headers: dict[str, str] | None = None) -> dict[tuple[str, ...], str]:
        answer = await client.post("/v1/cases", json=bad, headers=headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"  # RFC 9457
        problem = answer.json()
        assert (problem["status"], problem["instance"]) == (422, "/v1/cases")
        for e in problem["errors"]:  # each field named and its reason in the sentence for people
            assert e["pointer"] == "#/" + "/".join(e["loc"][1:]) and e["msg"] in problem["detail"]
        return {tuple(e["loc"]): e["msg"] for e in problem["errors"]}

    assert await reasons() == {("body", "description"): "此项为必填项"}
    assert await reasons(EN) == {("body", "description"): "Field required"}
    bad["description"] = "楼上漏水"
    assert await reasons(ZH) == {("body", "reporter", "id_number"): "身份证号校验位不正确"}
    assert await reasons(EN) == {("body", "reporter", "id_number"): "check digit does not match (GB 11643 checksum)"}

    listing = await client.get("/v1/cases", params={"status": "lost", "due_before": "2026-12-03T10:00:00"})
    assert [(e["loc"], e["msg"]) for e in listing.json()["errors"]] == [
        (["query", "status"], "未知的状态 'lost'"),
        (["query", "due_before"], "须带时区"),
    ]

    case = (await client.post("/v1/cases", json={**CASE, "lat": 38.91})).json()
    await client.post(f"/v1/cases/{case['id']}/cancel", json={"reason": "withdrawn"})
    again = await client.post(f"/v1/cases/{case['id']}/cancel", json={"reason": "withdrawn"})
    assert (again.status_code, again.json()["detail"]) == (409, "只有办理中的案件可以撤销；此案件状态为：已撤销")
    again = await client.post(f"/v1/cases/{case['id']}/cancel", json={"reason": "withdrawn"}, headers=EN)
    assert again.json()["detail"] == "only an open case can be cancelled; this case is cancelled"


async def test_an_erased_case_shows_no_note_in_any_language(client: httpx.AsyncClient, deliver: Deliver) -> None:
    case = await _handled_case(client, deliver)
    why = {"reason": "resident's written request 2026-1203-07"}
    assert (await client.post(f"/v1/cases/{case['id']}/erasure", json=why)).status_code == 200
    for headers in (ZH, EN):
        after = (await client.get(f"/v1/cases/{case['id']}", headers=headers)).json()
        assert all(s["note"] in (None, "[erased at the resident's request]") for s in after["timeline"])

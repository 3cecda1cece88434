"""The words intake writes for people, one table per language: zh-CN (the default) and English.

Timeline notes are kept as a message (a key and its values) beside the English text, and
worded in the reader's language when read: the resident-facing case, Open311's
``status_notes`` and API error messages follow the request's ``Accept-Language``
(``govmesh_kit.language``; zh-CN when it names neither; the runtime words refusals).
Field names, codes and kinds in JSON are never translated; the values people
wrote (reasons, summaries, comments) stay as written.

A value shown through a code table is written ``{name:table}`` in a template: ``channel``,
``target``, ``level``… turn a code into words (an unknown code shows itself); ``time`` shows an
ISO time as Beijing time to the minute in Chinese (English keeps the ISO text)."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict

from govmesh_kit.language import CONTENT_LANGUAGE, DEFAULT_LANG, LANGS, current_lang, negotiate

__all__ = ["CONTENT_LANGUAGE", "DEFAULT_LANG", "LANGS", "current_lang", "negotiate"]

BEIJING = timezone(timedelta(hours=8))

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        # timeline notes
        "received": "经{channel:channel}受理为“{matter_zh}”（{matter}），办理时限 {due:time}",
        "report_linked": "同一事项经{channel:channel}再次反映，已合并到本案件（累计 {reports} 次）",
        "feedback": "群众评价：{verdict:verdict}，满意度 {satisfaction}/5",
        "cancelled": "案件撤销：{reason:cancel}{merged_into}{note:paren}",
        "case_merged": "案件 {case_number} 已合并到本案件",
        "dispatched.grid": "定位到网格 {grid}{note:semi}",
        "dispatched.nowhere": "未能定位到网格{note:semi}",
        "escalated": "上报：{from_level:level} → {to_level:level}，{reason}",
        "resolved.summary": "办结：{summary}",
        "resolved": "全部任务已完成，等待群众评价",
        "closed.satisfaction": "结案，群众满意度 {satisfaction}/5",
        "closed.without_feedback": "结案：群众在评价期内未作评价",
        "closed.by_centre": "综治中心结案：{note}",
        "closed.by_centre.bare": "综治中心结案",
        "return_visit.reached": "回访：已联系到群众，满意度 {satisfaction}/5{comment:colon}",
        "return_visit.not_reached": "回访：未联系到群众",
        "reopened": "重新办理：{reason}",
        "return_visit_assigned": "回访任务 {task} 派给 {holder}，时限 {due:time}",
        "task_assigned": "任务 {task} 派给{target:target}（{priority:priority}），时限 {due:time}",
        "task_reassigned": "任务 {task} {previous:from_target}改派给{target:target}：{reason}",
        "task_escalated": "任务 {task} 超期：{from_level:level} → {to_level:level}，新时限 {due:time}",
        "task_cancelled": "任务 {task}{target:paren_target}取消：{reason}",
        "task_completed": "{outcome:outcome}：{summary}{referral_to:referred}",
        "grid_task_completed": "任务 {task} {outcome:outcome}：{summary}{referral_to:referred}{photos:photos}",
        "violence_risk": "暴力风险（{risk}）：已通报社区民警",
        "dispute_opened": "调解立案（{category}，风险 {risk}），目标办结 {target_close:time}",
        "mediator_assigned": "调解员 {mediator} {what:assigned}（{reason}）",
        "session_scheduled": "调解会议定于 {starts:time}，地点 {room}；已通知 {parties} 方当事人",
        "session_cancelled": "调解会议取消：{reason}",
        "session_held": "调解会议已召开：到场 {present} 人，缺席 {absent} 人",
        "agreement_reached": "签订调解协议（{terms} 项，最后一项 {last_due} 前履行）；"
        "可在 {deadline:time} 前申请司法确认",
        "confirmation_applied": "当事人已向法院申请司法确认",
        "confirmation_lapsed": "30 日司法确认申请期已过",
        "follow_up_visit": "回访调解协议：已履行 {performed} 项，未履行 {outstanding} 项",
        "dispute_referred": "移交 {referral_to}：{reason}",
        "dispute_late": "纠纷超过目标办结时间 {target_close:time} 仍未办结",
        "dispute_closed": "调解结案：{outcome}{referral_to:referred}",
        "police_task_opened": "警情（{priority:priority}）派给警务室 {room}{officer:officer}",
        "police_task_routed": "分派到警务室 {room}{previous:from_room}",
        "police_task_accepted": "民警 {officer} 已接警",
        "police_on_scene": "民警 {officer} 已到场",
        "police_task_closed": "警情办结：{outcome}{mediated:mediated}{referral_to:referred}",
        "evidence": "视频证据：{radius} 米内 {cameras} 路摄像机的 {recordings} 段录像，"
        "{start:time} – {end:time}{silent:silent}{part:part}",
        "cleared_at_source.online": "摄像机 {channel} 于 {at:time} 恢复在线，共离线 {hours} 小时",
        "cleared_at_source.removed": "摄像机 {channel} 于 {at:time} 从所属设备的目录中移除，此前离线 {hours} 小时",
        "alarm_burst": "摄像机 {channel} 连续告警，第 {alarms} 次",
        "notice.linked": "另有 {reports} 次同一事项的反映已合并到本诉求",
        # errors
        "error.case_not_found": "没有编号为 {case_id} 的案件",
        "error.idempotency": "Idempotency-Key {idempotency_key} 已用于另一个不同的请求",
        "error.location": "须提供位置：经纬度（lat 和 lon）、地址（address）或网格代码（grid_code）；"
        "网格员默认用本人网格",
        "error.status": "未知的状态 {value!r}",
        "error.channel": "未知的渠道 {value!r}",
        "error.timezone": "须带时区",
        "error.bbox": "须为四个有限数字：最小经度,最小纬度,最大经度,最大纬度",
        "error.bbox_order": "最小值不能大于最大值",
        "error.feedback_status": "只有已办结的案件才能评价；此案件状态为：{status:status}",
        "error.feedback_again": "本次办结已评价过",
        "error.cancel_status": "只有办理中的案件可以撤销；此案件状态为：{status:status}",
    },
    "en": {
        "received": "accepted via {channel:channel} as {matter_zh} ({matter}); due {due:time}",
        "report_linked": "another report of the same matter via {channel:channel} linked to this case "
        "(reports: {reports})",
        "feedback": "{verdict:verdict}; satisfaction {satisfaction}/5",
        "cancelled": "case cancelled: {reason:cancel}{merged_into}{note:paren}",
        "case_merged": "case {case_number} merged into this case",
        "dispatched.grid": "grid {grid}{note:semi}",
        "dispatched.nowhere": "not located on a grid{note:semi}",
        "escalated": "escalated {from_level:level} → {to_level:level}: {reason}",
        "resolved.summary": "{summary}",
        "resolved": "all tasks done; awaiting the resident's feedback",
        "closed.satisfaction": "satisfaction {satisfaction}/5",
        "closed.without_feedback": "closed without feedback: the resident did not answer within the feedback window",
        "closed.by_centre": "closed by the centre: {note}",
        "closed.by_centre.bare": "closed by the centre",
        "return_visit.reached": "resident reached; satisfaction {satisfaction}/5{comment:colon}",
        "return_visit.not_reached": "resident not reached",
        "reopened": "{reason}",
        "return_visit_assigned": "return visit {task} for {holder}, due {due:time}",
        "task_assigned": "task {task} for {target:target} ({priority:priority}), due {due:time}",
        "task_reassigned": "task {task} reassigned{previous:from_target} to {target:target}: {reason}",
        "task_escalated": "task {task} overdue: {from_level:level} → {to_level:level}, new deadline {due:time}",
        "task_cancelled": "task {task}{target:paren_target} cancelled: {reason}",
        "task_completed": "{outcome:outcome}: {summary}{referral_to:referred}",
        "grid_task_completed": "task {task} {outcome:outcome}: {summary}{referral_to:referred}{photos:photos}",
        "violence_risk": "violence risk {risk}: community police informed",
        "dispute_opened": "dispute file opened ({category}, risk {risk}), target close {target_close:time}",
        "mediator_assigned": "mediator {mediator} {what:assigned} ({reason})",
        "session_scheduled": "mediation session on {starts:time} in {room}; {parties} parties notified",
        "session_cancelled": "{reason}",
        "session_held": "mediation session held: {present} present, {absent} absent",
        "agreement_reached": "mediation agreement signed ({terms} terms, last due {last_due}); "
        "judicial confirmation may be applied for until {deadline:time}",
        "confirmation_applied": "the parties applied to the court for judicial confirmation",
        "confirmation_lapsed": "the 30-day window for judicial confirmation passed",
        "follow_up_visit": "follow-up visit: {performed} terms performed, {outstanding} outstanding",
        "dispute_referred": "referred to {referral_to}: {reason}",
        "dispute_late": "dispute still open after its target {target_close:time}",
        "dispute_closed": "dispute file closed: {outcome}{referral_to:referred}",
        "police_task_opened": "police task ({priority}) for room {room}{officer:officer}",
        "police_task_routed": "routed to room {room}{previous:from_room}",
        "police_task_accepted": "officer {officer} accepted the task",
        "police_on_scene": "officer {officer} on scene",
        "police_task_closed": "police task closed: {outcome}{mediated:mediated}{referral_to:referred}",
        "evidence": "video evidence: {recordings} recordings from {cameras} cameras within {radius} m, "
        "{start:time} – {end:time}{silent:silent}{part:part}",
        "cleared_at_source.online": "camera {channel} back online at {at:time} after {hours} h offline",
        "cleared_at_source.removed": "camera {channel} removed from its device's catalog at {at:time} after {hours} h"
        " offline",
        "alarm_burst": "alarm {alarms} of the burst from channel {channel}",
        "notice.linked": "{reports} further report(s) of the same matter are linked to this request.",
        "error.case_not_found": "case {case_id} not found",
        "error.idempotency": "Idempotency-Key {idempotency_key} was used with a different request",
        "error.location": "a location is required: lat and lon, address, or grid_code (a grid worker's own grid "
        "counts)",
        "error.status": "unknown status {value!r}",
        "error.channel": "unknown channel {value!r}",
        "error.timezone": "must have a time zone",
        "error.bbox": "must be four finite numbers: min_lon,min_lat,max_lon,max_lat",
        "error.bbox_order": "min must not exceed max",
        "error.feedback_status": "feedback is taken only on a resolved case; this case is {status:status}",
        "error.feedback_again": "feedback was already given on this resolution",
        "error.cancel_status": "only an open case can be cancelled; this case is {status:status}",
    },
}

# Code → words, per table; English words where the code itself is not what English readers say.
# Tables whose entries wrap the value (paren, colon…) make optional parts: an empty value shows nothing.
CODES: dict[str, dict[str, dict[str, str]]] = {
    "zh": {
        "channel": {
            "window": "窗口",
            "hotline": "热线",
            "terminal": "网格终端",
            "api": "系统对接",
            "open311": "Open311",
            "video": "视频告警",
        },
        "target": {
            "grid_worker": "网格员",
            "mediation": "调解",
            "policing": "警务",
            "department": "职能部门",
        },
        "level": {"community": "社区", "township": "乡镇（街道）", "county": "县区", "city": "市级"},
        "outcome": {"done": "已完成", "referred": "已转办", "withdrawn": "已撤回", "failed": "未办成"},
        "verdict": {"solved": "已解决", "not solved": "未解决"},
        "priority": {"normal": "一般", "urgent": "紧急", "high": "高", "low": "低"},
        "cancel": {"withdrawn": "群众撤回", "mis_report": "误报、不实反映", "merged": "合并到案件 "},
        "assigned": {"assigned": "已指派", "reassigned": "已改派"},
        "status": {
            "received": "已受理",
            "dispatched": "已派单",
            "in_progress": "办理中",
            "resolved": "已办结",
            "closed": "已结案",
            "cancelled": "已撤销",
        },
    },
    "en": {
        "verdict": {"solved": "solved", "not solved": "not solved"},
        "cancel": {
            "withdrawn": "withdrawn by the resident",
            "mis_report": "a mis-report",
            "merged": "merged into case ",
        },
    },
}

# Optional parts: how a present value is wrapped, per language; an absent one (None, "") shows nothing.
WRAPS: dict[str, dict[str, str]] = {
    "zh": {
        "paren": "（{}）",
        "semi": "；{}",
        "colon": "：{}",
        "referred": "（转 {}）",
        "from_target": "由{}",
        "paren_target": "（{}）",
        "officer": "，民警 {}",
        "from_room": "（原警务室 {}）",
        "mediated": "（经警务调解化解）",
        "silent": "；{} 路摄像机未应答",
        "part": "（第 {} 批）",
        "photos": "，附现场照片 {} 张",
    },
    "en": {
        "paren": " ({})",
        "semi": "; {}",
        "colon": ": {}",
        "referred": " (referred to {})",
        "from_target": " from {}",
        "paren_target": " ({})",
        "officer": ", officer {}",
        "from_room": " from {}",
        "mediated": " (settled by police mediation)",
        "silent": "; {} cameras did not answer",
        "part": " (part {})",
        "photos": ", with {} photo(s) from the site",
    },
}


class _Formatter(string.Formatter):
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if not format_spec:
            return "" if value is None else super().format_field(value, "")
        if format_spec == "time":
            if self.lang == "en" or not value:
                return str(value or "")
            return datetime.fromisoformat(str(value)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        if format_spec in WRAPS[self.lang]:
            if value in (None, "", False, 0):
                return ""
            inner = self._words(format_spec, value)
            return WRAPS[self.lang][format_spec].format(inner)
        return self._words(format_spec, value)

    def _words(self, table: str, value: Any) -> str:
        if table in ("from_target", "paren_target"):
            table = "target"
        return CODES[self.lang].get(table, {}).get(str(value), str(value))


def render(lang: str, key: str, args: dict[str, Any]) -> str:
    """The message in ``lang`` (falling back to Chinese, then to the key itself)."""
    template = MESSAGES.get(lang, {}).get(key) or MESSAGES[DEFAULT_LANG].get(key) or key
    return _Formatter(lang).format(template, **args)


class NoteColumns(TypedDict, total=False):
    note: str | None
    note_key: str | None
    note_args: str | None


@dataclass(frozen=True)
class Message:
    """A note or an error as a key of the catalogue and its values (text, numbers, codes)."""

    key: str
    args: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str | None = None) -> str:
        return render(lang or current_lang.get(), self.key, self.args)

    def __str__(self) -> str:  # an exception carrying a message reads in the request's language
        return self.text()

    def columns(self) -> NoteColumns:
        """A timeline row's note columns: the English text (kept, searched, erased) and the message."""
        return NoteColumns(note=self.text("en")[:2000], note_key=self.key, note_args=json.dumps(self.args))


def msg(key: str, **args: Any) -> Message:
    return Message(key, args)


def t(key: str, **args: Any) -> str:
    """A message in the current request's language (errors)."""
    return render(current_lang.get(), key, args)


def stored_note(note: str | None, key: str | None, args: str | None, lang: str) -> str | None:
    """A timeline row's note in ``lang``: its message when it has one, else the stored text."""
    if key is None or note is None:
        return note
    try:
        return render(lang, key, json.loads(args or "{}"))
    except (KeyError, ValueError, IndexError):  # a message whose values no longer fit: the stored text
        return note


# A field's reason in Chinese for intake's own checks (the domain's, written in English); the
# runtime words pydantic's reasons and its own refusals (govmesh_runtime.language), and is given
# these with create_app(field_reasons=...).
FIELD_REASONS_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"outside the jurisdiction \(latitude (\S+)–(\S+)\)"), "超出本市辖区范围（纬度 {0}–{1}）"),
    (re.compile(r"outside the jurisdiction \(longitude (\S+)–(\S+)\)"), "超出本市辖区范围（经度 {0}–{1}）"),
    (re.compile(r"^must be 18 characters"), "身份证号须为18位：17位数字加校验位（数字或X）"),
    (re.compile(r"^birth date .* is not a valid date"), "身份证号中的出生日期无效"),
    (re.compile(r"^check digit does not match"), "身份证号校验位不正确"),
    (re.compile(r"^must be a mainland mobile"), "电话号码格式不正确：须为11位手机号（13-19开头）或带区号的固定电话"),
    (re.compile(r"cannot be reported anonymously"), "此事项不可匿名反映，须填写联系电话"),
    (re.compile(r"^unknown matter (.*)$"), "没有这个事项：{0}"),
    (re.compile(r"^at most (\d+) attachments$"), "附件最多 {0} 个"),
    (re.compile(r"^must be an http\(s\) URL"), "须为 http(s) 网址，最长 2000 个字符"),
    (re.compile(r"^unknown attribute for matter (\S+) \(known: (.*)\)$"), "事项 {0} 没有此要素（可用：{1}）"),
    (re.compile(r"^a case cannot be merged into itself$"), "案件不能合并到自身"),
    (re.compile(r"^no such case: (.*)$"), "没有这个案件：{0}"),
    (re.compile(r"^this case is not within your places$"), "此案件不在您的辖区内"),
    (re.compile(r"^case (.*) is cancelled itself$"), "案件 {0} 本身已撤销"),
    (re.compile(r"^lat and lon must be given together"), "经度和纬度须同时填写"),
    (re.compile(r"^required with reason=merged, and only then"), "仅在撤销原因为“合并”时填写，且此时必填"),
]

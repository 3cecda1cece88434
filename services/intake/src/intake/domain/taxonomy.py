"""The one-door matter taxonomy (一门受理事项), as data.

Each matter has a code (dispatch routes by it), names in Chinese and English, the
attributes a report must or may carry (typed as Open311 service-definition
attributes), a default SLA (the case deadline) and whether a reporter may stay
anonymous. Unknown matters and attributes are rejected by ``validate_attributes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Datatype(StrEnum):
    """Open311 GeoReport v2 attribute datatypes."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: Datatype
    description: str
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()  # (key, name) for the list datatypes
    datatype_description: str = ""


@dataclass(frozen=True)
class Matter:
    code: str
    name_zh: str
    name_en: str
    group: str
    description: str
    sla_hours: int
    anonymous_allowed: bool
    attributes: tuple[Attribute, ...] = ()
    keywords: tuple[str, ...] = field(default=())

    def attribute(self, code: str) -> Attribute | None:
        return next((a for a in self.attributes if a.code == code), None)


_YES_NO = (("yes", "是 yes"), ("no", "否 no"))
_PARTIES = Attribute("parties_count", Datatype.NUMBER, "How many parties are involved (2 or more).")
_STARTED = Attribute("started_at", Datatype.DATETIME, "When the matter began (ISO 8601).")
_URGENCY = Attribute(
    "urgency",
    Datatype.SINGLEVALUELIST,
    "How urgent the reporter thinks it is.",
    values=(("normal", "一般 normal"), ("urgent", "紧急 urgent")),
)
_AMOUNT = Attribute("amount_yuan", Datatype.NUMBER, "Amount in dispute, in yuan.")

MATTERS: tuple[Matter, ...] = (
    Matter(
        "public_order",
        "综治维稳",
        "Public order and stability",
        "综治维稳 comprehensive governance",
        "Risks to social stability: petitions, group conflicts, tensions.",
        72,
        True,
        (
            Attribute("people_involved", Datatype.NUMBER, "Approximate number of people involved.", required=True),
            _URGENCY,
        ),
        ("stability", "petition", "维稳"),
    ),
    Matter(
        "community_correction",
        "社区矫正",
        "Community correction",
        "综治维稳 comprehensive governance",
        "Reports about persons under community correction (社区矫正对象).",
        48,
        False,
        (
            Attribute(
                "report_kind",
                Datatype.SINGLEVALUELIST,
                "What is reported.",
                required=True,
                values=(("absence", "脱管 absence"), ("violation", "违规 violation"), ("help", "帮扶 help")),
            ),
        ),
        ("correction", "矫正"),
    ),
    Matter(
        "dispute.neighbour",
        "邻里纠纷",
        "Neighbour dispute",
        "人民调解 people's mediation",
        "Noise, leaks, shared spaces, parking between neighbours.",
        360,
        True,
        (_PARTIES, _STARTED),
        ("dispute", "mediation", "neighbour", "纠纷"),
    ),
    Matter(
        "dispute.family",
        "婚姻家庭纠纷",
        "Family dispute",
        "人民调解 people's mediation",
        "Marriage, support, inheritance and other family disputes.",
        360,
        False,
        (
            _PARTIES,
            Attribute(
                "violence_suspected",
                Datatype.SINGLEVALUELIST,
                "Is domestic violence suspected?",
                required=True,
                values=_YES_NO,
            ),
        ),
        ("family", "marriage", "婚姻", "家庭"),
    ),
    Matter(
        "dispute.property",
        "物业纠纷",
        "Property-management dispute",
        "人民调解 people's mediation",
        "Disputes with property-management companies and owners' committees.",
        360,
        True,
        (_PARTIES, _AMOUNT),
        ("property", "物业"),
    ),
    Matter(
        "dispute.labour",
        "劳动纠纷",
        "Labour dispute",
        "人民调解 people's mediation",
        "Unpaid wages, contracts, injuries at work.",
        240,
        False,
        (
            _PARTIES,
            _AMOUNT,
            Attribute("workers_affected", Datatype.NUMBER, "How many workers are affected."),
        ),
        ("wages", "labour", "欠薪"),
    ),
    Matter(
        "dispute.land",
        "土地纠纷",
        "Land dispute",
        "人民调解 people's mediation",
        "Contracted land, homesteads, boundaries, water for irrigation.",
        720,
        False,
        (_PARTIES, Attribute("area_mu", Datatype.NUMBER, "Area concerned, in mu (亩).")),
        ("land", "土地", "宅基地"),
    ),
    Matter(
        "dispute.consumer",
        "消费纠纷",
        "Consumer dispute",
        "人民调解 people's mediation",
        "Goods and services bought by residents.",
        240,
        True,
        (_PARTIES, _AMOUNT),
        ("consumer", "消费"),
    ),
    Matter(
        "civil_affairs.relief",
        "民政救助",
        "Civil-affairs relief",
        "民政 civil affairs",
        "Subsistence allowance, temporary relief, care for the elderly and disabled.",
        240,
        False,
        (
            Attribute(
                "relief_kind",
                Datatype.SINGLEVALUELIST,
                "Kind of relief asked for.",
                required=True,
                values=(
                    ("dibao", "低保 subsistence allowance"),
                    ("temporary", "临时救助 temporary relief"),
                    ("elderly", "养老 elderly care"),
                    ("disability", "残疾人帮扶 disability support"),
                ),
            ),
            Attribute("household_size", Datatype.NUMBER, "Persons in the household."),
        ),
        ("relief", "救助", "低保"),
    ),
    Matter(
        "labour.social_security",
        "劳务社保",
        "Labour and social security",
        "人社 human resources",
        "Employment, social insurance, pensions, medical insurance.",
        240,
        False,
        (
            Attribute(
                "topic",
                Datatype.SINGLEVALUELIST,
                "Topic.",
                required=True,
                values=(
                    ("employment", "就业 employment"),
                    ("pension", "养老保险 pension"),
                    ("medical", "医保 medical insurance"),
                    ("injury", "工伤 work injury"),
                ),
            ),
        ),
        ("social security", "社保", "就业"),
    ),
    Matter(
        "legal.consultation",
        "法律咨询",
        "Legal consultation",
        "法律服务 legal services",
        "Questions answered by a community legal adviser.",
        120,
        True,
        (Attribute("question", Datatype.TEXT, "The question, in the resident's words.", required=True),),
        ("law", "法律咨询"),
    ),
    Matter(
        "legal.aid",
        "法律援助",
        "Legal aid",
        "法律服务 legal services",
        "Free legal representation for those who qualify.",
        240,
        False,
        (
            Attribute(
                "case_type",
                Datatype.SINGLEVALUELIST,
                "Kind of legal matter.",
                required=True,
                values=(
                    ("civil", "民事 civil"),
                    ("criminal", "刑事 criminal"),
                    ("administrative", "行政 administrative"),
                ),
            ),
        ),
        ("legal aid", "法律援助"),
    ),
    Matter(
        "counselling.psychological",
        "心理咨询",
        "Psychological counselling",
        "心理服务 psychological services",
        "Counselling and crisis support.",
        48,
        True,
        (
            Attribute(
                "crisis", Datatype.SINGLEVALUELIST, "Is there a risk of self-harm?", required=True, values=_YES_NO
            ),
        ),
        ("counselling", "心理"),
    ),
    Matter(
        "convenience.service",
        "政务便民服务",
        "Government convenience service",
        "政务服务 government services",
        "Certificates, registrations, applications handled for residents.",
        120,
        True,
        (Attribute("service_item", Datatype.STRING, "Which service item (事项名称).", required=True),),
        ("certificate", "便民", "办事"),
    ),
    Matter(
        "safety.hazard",
        "安全隐患",
        "Safety hazard",
        "安全生产 safety",
        "Fire, gas, structural, traffic or production-safety hazards.",
        24,
        True,
        (
            Attribute(
                "hazard_kind",
                Datatype.MULTIVALUELIST,
                "Kinds of hazard seen.",
                required=True,
                values=(
                    ("fire", "消防 fire"),
                    ("gas", "燃气 gas"),
                    ("structure", "建筑 structure"),
                    ("traffic", "交通 traffic"),
                    ("production", "生产 production"),
                ),
            ),
            _URGENCY,
        ),
        ("hazard", "隐患", "fire"),
    ),
    Matter(
        "security.incident",
        "治安事件",
        "Public-security incident",
        "治安 public security",
        "Fights, theft, disturbances: handed to the community police room.",
        4,
        True,
        (
            Attribute("in_progress", Datatype.SINGLEVALUELIST, "Is it happening now?", required=True, values=_YES_NO),
            Attribute("people_involved", Datatype.NUMBER, "Approximate number of people involved."),
        ),
        ("police", "治安", "fight"),
    ),
    Matter(
        "grid.report",
        "网格员信息上报",
        "Grid worker's report",
        "网格化管理 grid management",
        "Information reported by a grid worker on patrol (网格员巡查上报).",
        72,
        False,
        (
            Attribute(
                "element_category",
                Datatype.SINGLEVALUELIST,
                "Which grid element the report is about (人地事物情组织).",
                required=True,
                values=(
                    ("people", "人 people"),
                    ("places", "地 places"),
                    ("events", "事 events"),
                    ("things", "物 things"),
                    ("situations", "情 situations"),
                    ("organisations", "组织 organisations"),
                ),
            ),
            Attribute("element_id", Datatype.STRING, "The grid element's id, when known."),
        ),
        ("grid", "网格"),
    ),
    Matter(
        "video.alarm",
        "视频告警",
        "Video alarm",
        "雪亮工程 video surveillance",
        "A case born from a camera or video-analytics alarm.",
        2,
        True,
        (
            Attribute("channel_id", Datatype.STRING, "GB/T 28181 channel id of the camera."),
            Attribute("alarm_type", Datatype.STRING, "Alarm type given by the platform."),
        ),
        ("video", "camera", "告警"),
    ),
    Matter(
        "video.device_fault",
        "设备故障",
        "Camera fault",
        "雪亮工程 video surveillance",
        "A camera offline longer than the video bridge's fault threshold: a maintenance matter for the"
        " department that keeps the cameras. Opened and cleared by the video bridge.",
        72,
        True,
        (Attribute("channel_id", Datatype.STRING, "GB/T 28181 channel id of the camera."),),
        ("camera", "fault", "offline", "故障"),
    ),
)

DEVICE_FAULT_MATTER = "video.device_fault"

BY_CODE: dict[str, Matter] = {m.code: m for m in MATTERS}


def matter(code: str) -> Matter | None:
    return BY_CODE.get(code)


AttributeValue = str | float | int | list[str]


def validate_attributes(matter: Matter, values: dict[str, AttributeValue]) -> dict[str, str]:
    """Errors by attribute code (empty when valid): unknown, missing required, wrong datatype, not in list."""
    errors: dict[str, str] = {}
    for code, value in values.items():
        definition = matter.attribute(code)
        if definition is None:
            known = ", ".join(a.code for a in matter.attributes) or "none"
            errors[code] = f"unknown attribute for matter {matter.code} (known: {known})"
            continue
        reason = _check(definition, value)
        if reason:
            errors[code] = reason
    for definition in matter.attributes:
        if definition.required and _empty(values.get(definition.code)):
            errors.setdefault(definition.code, f"required for matter {matter.code}")
    return errors


def _empty(value: AttributeValue | None) -> bool:
    return value is None or value == "" or value == []


def _check(definition: Attribute, value: AttributeValue) -> str | None:
    keys = [k for k, _ in definition.values]
    match definition.datatype:
        case Datatype.NUMBER:
            if isinstance(value, (bool, list)):
                return "must be a number"
            try:
                number = float(value)
            except (ValueError, OverflowError):
                return "must be a number"
            if not math.isfinite(number):  # "NaN", "inf", "1e400": not numbers (stored as null before)
                return "must be a finite number (not NaN, Infinity or beyond ±1.8e308)"
        case Datatype.DATETIME:
            if not isinstance(value, str):
                return "must be an ISO 8601 date-time"
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return "must be an ISO 8601 date-time"
        case Datatype.STRING | Datatype.TEXT:
            if not isinstance(value, str):
                return "must be text"
            limit = 200 if definition.datatype is Datatype.STRING else 4000
            if len(value) > limit:
                return f"at most {limit} characters"
        case Datatype.SINGLEVALUELIST:
            if not isinstance(value, str) or value not in keys:
                return f"must be one of: {', '.join(keys)}"
        case Datatype.MULTIVALUELIST:
            items = value if isinstance(value, list) else [str(value)]
            bad = [v for v in items if v not in keys]
            if bad or not items:
                return f"each value must be one of: {', '.join(keys)}"
    return None


def normalise_attributes(matter: Matter, values: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    """Valid values in their canonical type (numbers as float, multi-value lists as lists)."""
    out: dict[str, AttributeValue] = {}
    for code, value in values.items():
        definition = matter.attribute(code)
        if definition is None or _empty(value):
            continue
        if definition.datatype is Datatype.NUMBER and not isinstance(value, list):
            out[code] = float(value)
        elif definition.datatype is Datatype.MULTIVALUELIST:
            out[code] = value if isinstance(value, list) else [str(value)]
        else:
            out[code] = value
    return out


ALARM_TYPE_MATTERS: dict[str, str] = {
    "fire": "safety.hazard",
    "smoke": "safety.hazard",
    "fight": "security.incident",
    "intrusion": "security.incident",
    "crowd": "public_order",
}


def matter_for_alarm(alarm_type: str | None) -> str:
    """The matter of a case born from a video alarm: mapped from the alarm type, else ``video.alarm``."""
    if alarm_type:
        lowered = alarm_type.lower()
        for word, code in ALARM_TYPE_MATTERS.items():
            if word in lowered:
                return code
    return "video.alarm"

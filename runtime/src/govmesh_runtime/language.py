"""Words for people in the reader's language, for every service: the ``Accept-Language``
middleware and the runtime's catalogue of refusals (zh-CN by default, English on request).

The runtime's refusals and pydantic's reasons are written in English; :func:`field_message`
words them in the request's language, by the validator's error type (with its context values)
else by a reason's text. A service adds the reasons of its own domain with ``create_app(
field_reasons=...)``. Field names, codes and kinds in JSON are never translated."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmesh_kit.language import CONTENT_LANGUAGE, current_lang, negotiate

Reasons = Sequence[tuple[re.Pattern[str], str]]

# A field's reason in Chinese, by the validator's error type (pydantic's, with its context values).
FIELD_TYPES_ZH: dict[str, str] = {
    "missing": "此项为必填项",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "须小于 {lt}",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "float_type": "须为数字",
    "string_type": "须为文本",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "enum": "须为以下之一：{expected}",
    "literal_error": "须为以下之一：{expected}",
    "uuid_parsing": "须为 UUID",
    "uuid_type": "须为 UUID",
    "date_parsing": "须为 ISO 8601 日期",
    "date_from_datetime_parsing": "须为 ISO 8601 日期",
    "datetime_parsing": "须为 ISO 8601 日期时间",
    "datetime_from_date_parsing": "须为 ISO 8601 日期时间",
    "datetime_type": "须为 ISO 8601 日期时间",
    "timezone_aware": "须带时区",
    "json_invalid": "不是合法的 JSON",
    "json_type": "不是合法的 JSON",
    "extra_forbidden": "不允许此字段",
    "string_pattern_mismatch": "格式不正确",
    "url_parsing": "须为网址（URL）",
    "url_scheme": "须为 http 或 https 网址",
    "list_type": "须为列表",
    "dict_type": "须为对象",
    "model_attributes_type": "须为对象",
    "finite_number": "须为有限数字（不能是 NaN、Infinity 或超出 ±1.8e308）",
    "nul_text": "文本中不允许 NUL 字符（U+0000）",
    "cursor": "翻页游标无效：请使用上一页返回的 next_cursor",
}

# The runtime's own reasons (access, limits, outages), by their English text.
RUNTIME_REASONS_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)^field required$"), "此项为必填项"),
    (re.compile(r"^must be a finite number"), "须为有限数字（不能是 NaN、Infinity 或超出 ±1.8e308）"),
    (re.compile(r"^must be a number$"), "须为数字"),
    (re.compile(r"^must be an ISO 8601 date-time$"), "须为 ISO 8601 日期时间"),
    (re.compile(r"^must be text$"), "须为文本"),
    (re.compile(r"^at most (\d+) characters$"), "最多 {0} 个字符"),
    (re.compile(r"^each value must be one of: (.*)$"), "每项须为以下之一：{0}"),
    (re.compile(r"^must be one of: (.*)$"), "须为以下之一：{0}"),
    (re.compile(r"^must have a time zone$"), "须带时区"),
    (re.compile(r"^scope '(.*)' is required$"), "无此权限：需要 {0} 权限"),
    (re.compile(r"^this (.+) is not within your places$"), "此{0:resource}不在您的辖区内"),
    (re.compile(r"^(.*) is not within your places$"), "{0} 不在您的辖区内"),
    (re.compile(r"^no such (.+?): (.*)$"), "没有这个{0:resource}：{1}"),
    (re.compile(r"^too many requests from this client; slow down$"), "请求过于频繁，请稍后再试"),
    (re.compile(r"^the request body is larger than (.*) bytes$"), "请求内容过大：最多 {0} 字节"),
    (re.compile(r"^the request body did not arrive within (.*) s$"), "请求内容未在 {0} 秒内送达"),
    (re.compile(r"^the service's database is unavailable"), "服务的数据库暂不可用；未写入任何内容，请重试"),
    (re.compile(r"^credential required"), "需要凭据：Authorization: Bearer <令牌> 或 X-API-Key"),
    (re.compile(r"^token expired$"), "令牌已过期"),
    (re.compile(r"^token revoked$"), "令牌已吊销"),
    (re.compile(r"^invalid API key$"), "API 密钥无效"),
    (re.compile(r"^API key revoked$"), "API 密钥已吊销"),
    (re.compile(r"^invalid token: (.*)$"), "令牌无效：{0}"),
    (re.compile(r"^Authorization must be 'Bearer <token>'$"), "Authorization 须为 'Bearer <令牌>'"),
    (re.compile(r"(?i)^not authenticated$"), "未登录：请提供凭据"),
    (re.compile(r"(?i)^not found$"), "没有这个资源"),
    (re.compile(r"(?i)^method not allowed$"), "不支持此请求方法"),
]

# The things the runtime's refusals name ("no such task: …"), in Chinese.
RESOURCES_ZH: dict[str, str] = {
    "building": "楼栋",
    "case": "案件",
    "centre": "综治中心",
    "channel": "通道",
    "deliberation": "评议",
    "device": "设备",
    "dispute": "纠纷",
    "element": "要素",
    "grid": "网格",
    "key person": "重点人员",
    "party": "当事人",
    "police task": "警情",
    "room": "警务室",
    "session": "调解会议",
    "studio": "调解室",
    "task": "任务",
    "visit plan": "走访计划",
    "visit record": "走访记录",
    "webhook_delivery": "回调投递",
    "worker": "网格员",
}


class _Words(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "resource":
            return RESOURCES_ZH.get(str(value), str(value))
        return str(super().format_field(value, format_spec))


# The title of a problem (RFC 9457): what kind of refusal, per status, per language.
TITLES: dict[str, dict[int, str]] = {
    "zh": {
        400: "请求格式不正确",
        401: "未通过身份认证",
        403: "无权执行此操作",
        404: "未找到",
        405: "不支持此请求方法",
        408: "请求超时",
        409: "与当前状态冲突",
        413: "请求内容过大",
        415: "不支持的内容类型",
        422: "请求内容有误",
        429: "请求过于频繁",
        500: "服务内部错误",
        502: "下游设备拒绝了请求",
        503: "服务暂不可用",
        504: "下游设备未及时应答",
    },
    "en": {
        400: "Bad request",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        408: "Request timeout",
        409: "Conflict with the current state",
        413: "Content too large",
        415: "Unsupported media type",
        422: "Invalid fields",
        429: "Too many requests",
        500: "Internal server error",
        502: "The device refused the request",
        503: "Service unavailable",
        504: "The device did not answer in time",
    },
}


def title(status: int, lang: str | None = None) -> str:
    lang = lang or current_lang.get()
    return TITLES.get(lang, TITLES["en"]).get(status) or TITLES["en"].get(status) or f"HTTP {status}"


def field_message(
    message: str, error_type: str = "value_error", ctx: dict[str, Any] | None = None, extra: Reasons = ()
) -> str:
    """A field's reason in the request's language; English (as written) when no entry fits."""
    if current_lang.get() == "en":
        return message
    template = FIELD_TYPES_ZH.get(error_type)
    if template is not None:
        try:
            return template.format(**(ctx or {}))
        except (KeyError, IndexError):
            pass
    reason = message.removeprefix("Value error, ")
    for pattern, words in [*extra, *RUNTIME_REASONS_ZH]:
        found = pattern.search(reason)
        if found:
            return _Words().format(words, *found.groups())
    return message


def localized_detail(detail: str, extra: Reasons = ()) -> str:
    """A refusal's text (404, 403, 409…) in the request's language; as written when no entry fits."""
    return field_message(detail, "", extra=extra)


def localized_errors(errors: list[dict[str, Any]], extra: Reasons = ()) -> list[dict[str, Any]]:
    """Field errors with each ``msg`` in the request's language (``loc`` and ``type`` kept)."""
    return [
        {**e, "msg": field_message(str(e.get("msg", "")), str(e.get("type", "")), e.get("ctx"), extra)}
        if isinstance(e, dict)
        else e
        for e in errors
    ]


class ReaderLanguage:
    """ASGI middleware, outermost: sets the request's language (:data:`current_lang`) before
    anything answers, in the same task, and answers ``Content-Language`` and ``Vary: Accept-Language``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or ()).get(b"accept-language", b"")
        lang = negotiate(header.decode("latin-1")[:500])
        token = current_lang.set(lang)

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Language"] = CONTENT_LANGUAGE[lang]
                headers.append("Vary", "Accept-Language")
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            current_lang.reset(token)

"""The reader's language: zh-CN by default, English on request (``Accept-Language``).

Plain Python so that a domain may word its messages in the request's language: the runtime's
middleware sets :data:`current_lang` once per request, before the route runs."""

from __future__ import annotations

import re
from contextvars import ContextVar

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
CONTENT_LANGUAGE = {"zh": "zh-CN", "en": "en"}

# The language of the request being answered (set once per request by the runtime's middleware).
current_lang: ContextVar[str] = ContextVar("govmesh_lang", default=DEFAULT_LANG)

_TAG = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def negotiate(accept_language: str | None) -> str:
    """The language of an ``Accept-Language`` header (RFC 9110 weights): zh or en; zh by default."""
    best, best_q = DEFAULT_LANG, -1.0
    for part in (accept_language or "").split(",")[:20]:
        found = _TAG.match(part)
        if not found:
            continue
        tag = found[1].lower()
        try:
            q = float(found[2]) if found[2] else 1.0
        except ValueError:
            continue
        if tag in LANGS and q > best_q and q > 0:
            best, best_q = tag, q
    return best

"""The reader's language for each request: ``Accept-Language`` picks zh-CN (the default) or
English for the words intake writes (timeline notes, Open311 ``status_notes``, error messages).

A pure ASGI middleware: it sets the request's language (``messages.current_lang``) before the
route runs, in the same task, and answers ``Content-Language`` and ``Vary: Accept-Language``."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.domain.messages import CONTENT_LANGUAGE, current_lang, negotiate


class ReaderLanguage:
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

"""One line per request, as it ends: client, method, path and query, status, body bytes,
milliseconds. Logger `ogcserve.access` (INFO); the worker's pid is in the line's prefix
(`ogcserve.logs`). ASGI middleware around the whole application, so that every answer is
counted, preflights and /health included.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ogcserve.access")

MAX_TARGET = 300  # characters of path and query kept; a GetMap with 200 layers stays readable


class AccessLogMiddleware:
    """Logs each HTTP request once its answer is sent (or broken off: status `-`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: int | None = None
        size = 0
        complete = False

        async def send_counted(message: Message) -> None:
            nonlocal status, size, complete
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            log.info(
                '%s "%s %s" %s %d B %.1f ms%s',
                _client(scope),
                scope["method"],
                request_target(scope),
                status if status is not None else "-",
                size,
                (time.perf_counter() - start) * 1000,
                "" if complete else " incomplete",
            )


def request_target(scope: Scope) -> str:
    """Path and query as the client sent them (still percent-encoded: no line breaks from a
    decoded `%0A`), cut to MAX_TARGET characters with the count of what was left out."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path", ""))
    query = scope.get("query_string", b"").decode("latin-1")
    target = f"{path}?{query}" if query else path
    if len(target) > MAX_TARGET:
        return f"{target[:MAX_TARGET]}...(+{len(target) - MAX_TARGET} chars)"
    return target


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"

"""Shortcuts past Starlette's router: `Edge` sends every request its own routes do not answer
straight to the pipeline's endpoint, and `TileHits` answers a tile the pipeline answered before
from the cache, on the event loop (services/tiles/edge.py says when that is sound), in front of
that endpoint and of /ows (WMTS KVP)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ogcserve.services.tiles.edge import EdgeAnswer, EdgeHits, answer

if TYPE_CHECKING:
    from ogcserve.server import Server

CATCH_ALL = "/{path:path}"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _transport(receive: Receive) -> Any:
    """The connection's transport, reached through uvicorn's `receive` (a bound method of its
    per-request cycle, which holds it); None under another server."""
    return getattr(getattr(receive, "__self__", None), "transport", None)


def reset_connection(receive: Receive) -> None:
    """Drop the connection now, unsent data and all (RST). ASGI has no word for it, and the
    server's own close waits for its buffer to drain, which a stalled client never lets happen:
    the transport is reached through uvicorn's `receive` (a bound method of its per-request
    cycle, which holds the transport). Elsewhere the server closes the connection when the
    endpoint returns."""
    transport = _transport(receive)
    if transport is None:
        return
    with contextlib.suppress(Exception):
        transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
    transport.abort()


class TileHits:
    """Answers a tile that the pipeline answered before for the same URL, from the cache
    backend and on the event loop, when that gives the pipeline's answer (see
    services/tiles/edge.py); every other request goes on to the pipeline."""

    def __init__(self, server: Server, edge: EdgeHits, pipeline_app: ASGIApp) -> None:
        self.server = server
        self.edge = edge
        self.pipeline_app = pipeline_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in ("GET", "HEAD") and not scope.get("root_path"):
            started = time.perf_counter()
            query = scope["query_string"].decode("latin-1")
            entry = self.edge.find(scope["path"], query)
            if entry is not None:
                if_none_match: str | None = None
                for name, value in scope["headers"]:
                    if name == b"if-none-match":
                        text = value.decode("latin-1")
                        if_none_match = (
                            text if if_none_match is None else f"{if_none_match}, {text}"
                        )
                    elif name in (b"content-length", b"transfer-encoding"):  # a body
                        return await self.pipeline_app(scope, receive, send)
                found = answer(self.server, entry, method, if_none_match)
                if found is not None:
                    await self._send(found, receive, send)
                    if self.server.metrics is not None:
                        seconds = time.perf_counter() - started
                        self.server.metrics.record_answer(
                            found.labels, found.status, len(found.body), seconds
                        )
                    return None
        return await self.pipeline_app(scope, receive, send)

    async def _send(self, answer: EdgeAnswer, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        body = {"type": "http.response.body", "body": answer.body}
        transport = _transport(receive)
        if transport is not None and not transport.get_write_buffer_size():
            # Nothing waits to be sent, so neither send waits (uvicorn's send waits only while
            # the transport's buffer is above its limit): no timer is needed.
            await send(start)
            await send(body)
            return
        # As the pipeline's sink: a client that accepts nothing for write_timeout is cut off.
        try:
            async with asyncio.timeout(self.server.settings.write_timeout):
                await send(start)
                await send(body)
        except TimeoutError:
            reset_connection(receive)


class Edge:
    """Sends every request Starlette's own routes do not answer straight to the pipeline,
    through the same middleware, and so /ows and /ows/<project> to `ows_app` (as their routes
    would, without Starlette's router and exception middleware: ~20 µs a request); the rest
    (and the lifespan) to Starlette."""

    def __init__(self, app: Starlette, pipeline_app: ASGIApp, ows_app: ASGIApp) -> None:
        self.app = app
        self.pipeline_app = pipeline_app
        self.ows_app = ows_app
        self.state = app.state
        # The paths Starlette's own routes answer, taken from them (the catch-all aside).
        routes = [r for r in app.routes if isinstance(r, Route) and r.path != CATCH_ALL]
        self.own = tuple(r.path_regex for r in routes)
        # Their first segments, where every one is literal: another path (a tile) is not
        # theirs, without trying each pattern.
        heads = {r.path[1:].partition("/")[0] for r in routes}
        self.heads = None if any("{" in h for h in heads) else frozenset(heads)

    def _own(self, path: str) -> bool:
        if self.heads is not None and path[1:].partition("/")[0] not in self.heads:
            return False
        return any(own.match(path) for own in self.own)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in METHODS:
            path = scope["path"]
            head, slash, project = path[1:].partition("/")
            if head == "ows" and (not slash or (project and "/" not in project)):
                # As Route("/ows") and Route("/ows/{project}") ({project}: one segment).
                scope["path_params"] = {"project": project} if slash else {}
                await self.ows_app(scope, receive, send)
                return
            if not self._own(path):
                scope["path_params"] = {"path": path[1:]}  # as Route("/{path:path}")
                await self.pipeline_app(scope, receive, send)
                return
        await self.app(scope, receive, send)

"""The ASGI edge: the only code that knows about async. It reads the request, runs the
synchronous pipeline in a worker thread, and relays what the pipeline sends, chunk by chunk.

Every request but /health and /-/plugins goes straight to the pipeline (through the access log
and CORS middleware), not through Starlette's router and exception middleware, and the worker
threads are a plain executor reached with asyncio's own calls: a cached tile is answered in
well under a millisecond, and the edge's own cost was most of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ogcserve import pipeline
from ogcserve.deadline import Deadline
from ogcserve.errors import ServiceError
from ogcserve.http.accesslog import AccessLogMiddleware
from ogcserve.http.cors import CorsMiddleware, CorsPolicy
from ogcserve.http.edge import CATCH_ALL, METHODS, Edge, TileHits, reset_connection
from ogcserve.http.inline import QuickAnswers
from ogcserve.http.ops import metrics_upkeep, ops_routes
from ogcserve.http.plugin_report import plugin_report
from ogcserve.http.request import (
    RequestNotWellFormedError,
    ServerRequest,
    TooManyParametersError,
    XMLLimits,
)
from ogcserve.http.response import ClientDisconnectedError
from ogcserve.http.shutdown import RunningRequests, answer_stopping
from ogcserve.services.tiles.edge import edge_of

if TYPE_CHECKING:
    from ogcserve.server import Server


class PayloadTooLargeError(ServiceError):
    """The request body is larger than the server accepts."""

    code = "InvalidParameterValue"
    status = 413


class _StreamBrokenError(Exception):
    """Raised to the ASGI server so that it drops a connection whose response broke off."""


# A request still running after this long starts watching for its client leaving (answers
# quicker than that never pay for the watcher).
_WATCH_AFTER = 0.2
# Threads running pipelines at once, per process (what anyio's default limiter allowed).
_THREADS = 40


class _AsgiSink:
    """Relays the pipeline's output from its worker thread to the event loop, with backpressure."""

    def __init__(
        self,
        send: Send,
        receive: Receive,
        deadline: Deadline,
        write_timeout: float = 60.0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._send = send
        self._receive = receive
        self.deadline = deadline
        self._write_timeout = write_timeout
        self.watcher: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.aborted = False
        self.pending: list[dict[str, Any]] = []  # a whole response, sent once the thread is done
        self.started = False  # a response's head went out
        self.closed = False  # the endpoint answered for it: nothing more is sent
        # The pipeline runs on the event loop itself (http/inline.py): what it streams is kept
        # and sent, in order, once it returns.
        self.on_loop = False
        self.streamed = False  # the pipeline started a streamed response (`start`)

    def _relay(self, message: dict[str, Any]) -> None:
        if self.deadline.cancelled:  # the budget is the pipeline's to check, not the sink's
            raise ClientDisconnectedError("the request was cancelled")
        if self.on_loop:
            self.pending.append(message)
            return
        asyncio.run_coroutine_threadsafe(self.deliver(message), self._loop).result()

    async def deliver(self, *messages: dict[str, Any]) -> None:
        """Send messages in order; a client that accepts nothing for `write_timeout` seconds
        is cut off (its connection reset) and the request's work cancelled, so that it holds
        neither a worker thread nor, through the stream it stalls, a database connection."""
        if self.closed:
            raise ClientDisconnectedError("the request was cancelled")
        self.started = True
        try:
            async with asyncio.timeout(self._write_timeout):
                for message in messages:
                    await self._send(message)
        except TimeoutError:
            reason = f"the client accepted nothing for {self._write_timeout:g} s: cut off"
            self.deadline.cancel(reason)
            reset_connection(self._receive)
            raise ClientDisconnectedError(reason) from None

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        # A response that streams may run long: from now on, watch for the client leaving.
        self.streamed = True
        if not self.on_loop:
            self._loop.call_soon_threadsafe(self.watch)  # before the message below: FIFO
        self._relay({"type": "http.response.start", "status": status, "headers": _encode(headers)})

    def watch(self) -> None:
        """Cancel the request's work when the client disconnects (runs on the event loop)."""
        if self.watcher is not None:
            return

        async def watch() -> None:
            with contextlib.suppress(Exception):
                while (await self._receive())["type"] != "http.disconnect":
                    pass
                self.deadline.cancel("the client went away")

        self.watcher = asyncio.ensure_future(watch())

    def stop_watching(self) -> None:
        """The request is over: no more watching."""
        if self.timer is not None:
            self.timer.cancel()
        if self.watcher is not None:
            self.watcher.cancel()

    def send(self, chunk: bytes) -> None:
        self._relay({"type": "http.response.body", "body": chunk, "more_body": True})

    def end(self) -> None:
        self._relay({"type": "http.response.body", "body": b"", "more_body": False})

    def complete(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        # No round trip to the event loop from the worker thread: the endpoint sends these.
        self.pending = [
            {"type": "http.response.start", "status": status, "headers": _encode(headers)},
            {"type": "http.response.body", "body": body, "more_body": False},
        ]

    def abort(self) -> None:
        self.aborted = True


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    # ServerResponse checked the names and values: they are tokens and Latin-1 text.
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError("the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _url(scope: Scope) -> str:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope.get("root_path", "") + scope["path"]
    return f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")


def _environ(scope: Scope) -> dict[str, str]:
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 0)
    return {
        "REQUEST_METHOD": scope["method"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "PATH_INFO": scope["path"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "HTTPS": "on" if scope.get("scheme") == "https" else "off",
    }


class PipelineEndpoint:
    """Runs the request pipeline for OWS endpoints (`endpoint="ows"`) and every other path."""

    def __init__(
        self,
        server: Server,
        endpoint: str,
        running: RunningRequests,
        pool: ThreadPoolExecutor,
        quick: QuickAnswers | None,
    ) -> None:
        self.server = server
        self.endpoint = endpoint
        self.running = running
        self.pool = pool
        self.quick = quick

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = {"endpoint": self.endpoint, **scope.get("path_params", {})}
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        error: ServiceError | None = None
        body = b""
        try:
            body = await _read_body(receive, self.server.settings.max_body_bytes)
        except ClientDisconnectedError:
            return
        except PayloadTooLargeError as too_large:
            error = too_large
        deadline = Deadline(self.server.settings.request_timeout)
        loop = asyncio.get_running_loop()
        sink = _AsgiSink(send, receive, deadline, self.server.settings.write_timeout, loop)
        answer = functools.partial(self._answer, scope, headers, body, route, error, sink, deadline)
        quick = self.quick
        kind = quick.kind(scope) if quick is not None and not body and error is None else None
        took: list[float] = []
        if kind and quick and not self.running.busy and quick.on_loop(kind):
            sink.on_loop = True
            self.running.run(deadline, functools.partial(_timed, answer, took))
            quick.ran(kind, took[0], on_loop=True, streamed=sink.streamed)
            return await self._send_pending(sink)
        sink.timer = loop.call_later(_WATCH_AFTER, sink.watch)
        if kind is not None:
            answer = functools.partial(_timed, answer, took)
        try:
            await loop.run_in_executor(self.pool, self.running.run, deadline, answer)
        except BaseException as exc:
            # Cancelled, typically because the ASGI server is stopping and the grace time is
            # over (`serve`: shutdown_grace). The thread cannot be interrupted; its work
            # stops at its next check instead of running on unseen. A client that has had
            # nothing yet is told so in an OGC exception report.
            deadline.cancel("the request was cancelled")
            sink.closed = True
            if isinstance(exc, asyncio.CancelledError) and not sink.started:
                await answer_stopping(send)  # the response is complete: uvicorn adds nothing
                return
            raise
        finally:
            sink.stop_watching()
        if kind and quick and took:
            quick.ran(kind, took[0], on_loop=False, streamed=sink.streamed)
        await self._send_pending(sink)

    async def _send_pending(self, sink: _AsgiSink) -> None:
        try:
            if sink.pending:  # a whole response (head and body): one timeout for both
                await sink.deliver(*sink.pending)
        except ClientDisconnectedError:
            return
        if sink.aborted:
            raise _StreamBrokenError("the response broke off after it started; see the log")

    def _answer(
        self,
        scope: Scope,
        headers: list[tuple[str, str]],
        body: bytes,
        route: dict[str, str],
        error: ServiceError | None,
        sink: _AsgiSink,
        deadline: Deadline,
    ) -> None:
        """Build the request and run the pipeline, in a worker thread: an XML body is parsed
        here, off the event loop, which keeps answering /health meanwhile."""
        settings = self.server.settings
        limits = XMLLimits(
            settings.xml_max_attributes, settings.xml_max_depth, settings.xml_max_elements
        )
        build = functools.partial(
            ServerRequest.build,
            scope["method"],
            headers=headers,
            environ=_environ(scope),
            route=route,
            allow_underscore_headers=settings.allow_underscore_headers,
        )
        try:
            request = build(
                _url(scope), body=body, xml_limits=limits, max_parameters=settings.max_parameters
            )
        except RequestNotWellFormedError as malformed:
            error = malformed
            request = build(_url(scope))
        except TooManyParametersError as too_many:  # answered without reading any of them
            error = too_many
            request = build(_url(scope).partition("?")[0])
        pipeline.handle(self.server, request, sink, error, deadline)


def _timed(work: Callable[[], None], took: list[float]) -> None:
    """`work()`, its wall time appended to `took`."""
    started = time.perf_counter()
    try:
        work()
    finally:
        took.append(time.perf_counter() - started)


def asgi_app(server: Server) -> ASGIApp:
    """Routes: /health, /metrics, /ready, /-/explain, /-/plugins, /ows, /ows/<project>, and
    everything else to the pipeline; around them the access log and CORS, as the settings ask."""

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "projects": server.projects.names(), "worker": os.getpid()}
        )

    async def plugins(request: Request) -> JSONResponse:
        return JSONResponse(plugin_report(server))

    running = RunningRequests()
    pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="ogcserve-request")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settle_garbage_collector()
        async with metrics_upkeep(server):  # pending counts and pool gauges, every second
            yield
        await running.stop()  # the server is stopping: no request works on unseen
        pool.shutdown(wait=False)

    # Quick OWS requests answered on the event loop (http/inline.py), unless turned off.
    quick = QuickAnswers() if server.settings.quick_on_loop else None
    ows: ASGIApp = PipelineEndpoint(server, "ows", running, pool, quick)
    other: ASGIApp = PipelineEndpoint(server, "path", running, pool, quick)
    tile_edge = edge_of(server)
    if tile_edge is not None:  # tile hits the pipeline answered before, without it
        ows, other = TileHits(server, tile_edge, ows), TileHits(server, tile_edge, other)
    methods = list(METHODS)
    # Outermost first: the access log counts every answer, CORS preflights included.
    middleware = [Middleware(AccessLogMiddleware)] if server.settings.access_log else []
    cors = CorsPolicy.from_settings(server.settings)
    if cors is not None:
        middleware.append(Middleware(CorsMiddleware, policy=cors))
    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/health", health),
            *ops_routes(server),  # /metrics, /ready, /-/explain
            Route("/-/plugins", plugins),
            Route("/ows", ows, methods=methods),
            Route("/ows/{project}", ows, methods=methods),
            Route(CATCH_ALL, other, methods=methods),
        ],
        middleware=middleware,
    )
    app.state.server = server
    direct, direct_ows = other, ows
    for layer in reversed(middleware):
        direct = layer.cls(direct, *layer.args, **layer.kwargs)
        direct_ows = layer.cls(direct_ows, *layer.args, **layer.kwargs)
    return Edge(app, direct, direct_ows)


# A batch of 1,000 features makes ~10,000 short-lived objects: with CPython's default
# threshold (700 allocations) the young generation is collected several times per request.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_garbage_collector() -> None:
    """Once a worker has started: the objects made so far (modules, the project, plugins)
    leave the collector's generations for good, and collections of young objects come less
    often. Measured on PostGIS WFS 1.1.0, 1,000 features: CPU per request 14.6 -> 12.8 ms
    (GeoJSON), 18.9 -> 16.7 ms (GML); docs/performance.md."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

"""The request lifecycle. Read this file and you know what happens to a request.

```
ctx bound (ContextVar)                  request_handler() works in any thread
filters: REQUEST_READY                  may rewrite params, pick a project, or answer
   (a service exception set here skips everything down to RESPONSE_COMPLETE)
target resolved                         SERVICE/VERSION -> Service, else URL path -> Route
project resolved                        MAP, /ows/<name>, a filter's choice, or the default
filters: PROJECT_READY
cache lookup                            only if the target says the answer is cacheable
target executed                         streaming targets call ctx.response.flush():
                                        each flush runs SEND_RESPONSE on that chunk
filters: RESPONSE_COMPLETE              may replace the unflushed body
cache store, validators                 ETag/Last-Modified on cacheable answers; 304 if current
final flush                             SEND_RESPONSE once more, only if the target streamed
finish                                  a status or header HTTP cannot carry becomes a 500
```
The work stops when `ctx.deadline` says so (time budget spent, client gone, server stopping):
the access layer, the renderer and every flush check it (`deadline.py`).
Errors are raised, never returned: a `ServiceError` is rendered by the target in its own
format; anything else (a plugin bug, a crash) is logged with the plugin's name and becomes a
500 NoApplicableCode without internals. Once the first chunk is out the status cannot change,
so the stream is broken off and the error logged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ogcserve.context import RequestContext, current_context
from ogcserve.deadline import Deadline
from ogcserve.errors import (
    InternalError,
    MissingParameterValueError,
    NotFoundError,
    ServiceError,
    ServiceNotSupportedError,
)
from ogcserve.http.conditional import revalidate
from ogcserve.http.response import ClientDisconnectedError, ResponseSink, ServerResponse
from ogcserve.plugins.cache import CachedResponse, CacheKind
from ogcserve.plugins.filters import Hook
from ogcserve.plugins.ordering import PluginError
from ogcserve.plugins.targets import RouteTarget, ServiceTarget, Target

if TYPE_CHECKING:
    from ogcserve.http.request import ServerRequest
    from ogcserve.server import Server

log = logging.getLogger("ogcserve.pipeline")


def handle(
    server: Server,
    request: ServerRequest,
    sink: ResponseSink,
    parse_error: ServiceError | None = None,
    deadline: Deadline | None = None,
) -> RequestContext:
    """Answer one request into `sink`; never raises."""
    response = ServerResponse(sink, head_only=request.method == "HEAD")
    deadline = deadline or Deadline(server.settings.request_timeout)
    ctx = RequestContext(server, request, response, service_error=parse_error, deadline=deadline)

    def flush_hook() -> bool:
        # Every chunk written is a point where the work may be stopped. A send-response hook
        # that raises stops the service that flushed: the error reaches the guard around the
        # service like any other.
        deadline.check()
        return server.filters.run(Hook.SEND_RESPONSE, ctx)

    response.flush_hook = flush_hook
    token = current_context.set(ctx)
    try:
        _lifecycle(ctx)
    except ClientDisconnectedError as stopped:
        log.info("request stopped (%s): %s %s", stopped, request.method, request.url)
    finally:
        current_context.reset(token)
    return ctx


@dataclass
class _Progress:
    """What the lifecycle has learnt so far about one request."""

    target: Target | None = None
    cache: tuple[CacheKind, str] | None = None  # kind and key, when the answer may be cached
    hit: bool = False  # the answer came from a cache
    rendered: ServiceError | None = None  # the error whose document the response holds


def _lifecycle(ctx: RequestContext) -> None:
    server, response = ctx.server, ctx.response
    progress = _Progress()
    # Every answer may change with the next edit or project reload: a client may keep a copy
    # but must ask again before reusing it. Without this, QGIS desktop (Qt's network cache)
    # reuses a GetFeature answer of the same second after its own WFS-T commit and shows the
    # feature as it was before the edit. A plugin may set its own.
    response.set_header("Cache-Control", "no-cache")

    def run_service() -> None:
        server.filters.run(Hook.REQUEST_READY, ctx)
        if ctx.exception_raised:
            return
        target = progress.target = resolve_target(ctx)
        ctx.project = server.projects_for_request(ctx)
        server.filters.run(Hook.PROJECT_READY, ctx)
        if ctx.exception_raised:
            return
        kind = target.cache_kind(ctx)
        if kind is not None and ctx.project is not None:
            key = _cache_key(ctx)
            progress.cache = (kind, key)
            hit = server.caches.get(kind, ctx.project.name, key)
            if hit is not None:
                progress.hit = True
                response.set_header("Content-Type", hit.content_type)
                response.write(hit.body)
                return
        target.execute(ctx)

    _step(ctx, progress, run_service)
    _step(ctx, progress, lambda: server.filters.run(Hook.RESPONSE_COMPLETE, ctx))
    project = ctx.project
    if (
        progress.cache is not None
        and project is not None
        and response.status == 200
        and not response.streamed
        and not ctx.exception_raised
    ):
        kind, key = progress.cache
        entry = CachedResponse(response.body, response.content_type)
        # ETag and Last-Modified, and a 304 when the client's copy is this document
        _step(
            ctx,
            progress,
            lambda: revalidate(ctx.request, response, max(project.mtime, server.started)),
        )
        if not progress.hit:
            _step(ctx, progress, lambda: server.caches.set(kind, project.name, key, entry))
    if response.streamed and response.body and not response.finished:
        response.final_flush = True
        _step(ctx, progress, response.flush)
    # A status or header that HTTP cannot carry is refused here, and the error sent instead.
    _step(ctx, progress, response.finish)
    if not response.finished:
        response.finish()


def _step(ctx: RequestContext, progress: _Progress, step: Callable[[], object]) -> None:
    """Run one stage; if an error appeared (raised or set by a filter), render it."""
    _guarded(ctx, step)
    if ctx.service_error is not None and ctx.service_error is not progress.rendered:
        progress.rendered = ctx.service_error
        _write_error(ctx, progress.target, ctx.service_error)


def resolve_target(ctx: RequestContext) -> Target:
    """SERVICE (+VERSION) names a service; without SERVICE, the URL path names a route."""
    request, registry = ctx.request, ctx.server.services
    name = request.parameter("SERVICE").strip()
    if name:
        service = registry.get(name, request.parameter("VERSION").strip())
        if service is None:
            raise ServiceNotSupportedError(f"Service {name!r} is not supported", locator="SERVICE")
        return ServiceTarget(service, registry.owner(service))
    if request.route.get("endpoint") != "ows":
        found = registry.match_route(request.path)
        if found is not None:
            route, captures, owner = found
            if request.method not in route.methods:
                raise _MethodNotAllowedError(f"{request.method} is not allowed here")
            request.route.update(captures)
            return RouteTarget(route, owner)
        raise NotFoundError(f"Nothing is served at {request.path}")
    raise MissingParameterValueError("The SERVICE parameter is missing", locator="SERVICE")


class _MethodNotAllowedError(ServiceError):
    code = "OperationNotSupported"
    status = 405


_URL_HEADERS = (
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "Forwarded",
)


def _cache_key(ctx: RequestContext) -> str:
    """Project + canonical request + the URL it was asked at + the caller's access fingerprint.

    Documents embed URLs built from the host and the X-Forwarded-* headers, so those are part
    of the key: a forged header may get a client its own odd document, never someone else's.
    """
    assert ctx.project is not None
    request = ctx.request
    params = sorted((k, v) for k, v in request.params.items())
    origin = [urlsplit(request.url).netloc] + [request.headers.get(h, "") for h in _URL_HEADERS]
    digest = hashlib.blake2b(repr((params, origin)).encode(), digest_size=16)
    digest.update(ctx.server.access.fingerprint(ctx, ctx.project).encode())
    return digest.hexdigest()


def _guarded(ctx: RequestContext, step: Callable[[], object]) -> None:
    """Run `step`; what it raises becomes `ctx.service_error` (logged unless it is an OGC error).

    Filters that run later see `ctx.exception_raised`, whatever raised the error.
    """
    try:
        step()
    except ClientDisconnectedError:
        raise
    except ServiceError as error:
        ctx.service_error = error
    except PluginError as error:
        log.error("%s", error, exc_info=error.__cause__)
        ctx.service_error = InternalError("A server plugin failed; the error was logged")
    except Exception:
        log.exception("request failed: %s %s", ctx.request.method, ctx.request.url)
        ctx.service_error = InternalError("The request failed; the error was logged")


def _write_error(ctx: RequestContext, target: Target | None, error: ServiceError) -> None:
    """Replace the response with `error` in the target's format, if nothing was sent yet."""
    response = ctx.response
    if response.headers_sent:
        log.error("error after the response started, stream broken off: %r", error)
        response.abort()
        return
    body, content_type = (target or _FALLBACK).render_error(error, ctx)
    response.clear()
    response.status = error.status
    response.set_header("Content-Type", content_type)
    for name, value in error.headers.items():
        response.set_header(name, value)
    response.write(body)


_FALLBACK = ServiceTarget.fallback()

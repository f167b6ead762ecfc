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
Work stops when `ctx.deadline` says so. Errors are raised, never returned: a `ServiceError` is
rendered in the target's format, anything else is logged and becomes a 500 NoApplicableCode.
After the first chunk the status cannot change: the stream is broken off, the error logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ogcserve.context import RequestContext, current_context
from ogcserve.deadline import Deadline
from ogcserve.errors import InternalError, ServiceError
from ogcserve.http.conditional import revalidate
from ogcserve.http.response import ClientDisconnectedError, ResponseSink, ServerResponse
from ogcserve.metrics.tally import Tally
from ogcserve.plugins.cache import CachedResponse, CacheSlot
from ogcserve.plugins.filters import Hook
from ogcserve.plugins.ordering import PluginError
from ogcserve.plugins.targets import Target, error_document, resolve

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
    started = time.perf_counter()
    response = ServerResponse(sink, head_only=request.method == "HEAD")
    deadline = deadline or Deadline(server.settings.request_timeout)
    metrics = server.metrics
    ctx = RequestContext(server, request, response, service_error=parse_error, deadline=deadline)
    ctx.tally = Tally() if metrics is not None else None
    lifecycle = _Lifecycle(ctx)
    response.flush_hook = lifecycle.flush_hook
    token = current_context.set(ctx)
    try:
        lifecycle.run()
    except ClientDisconnectedError as stopped:
        log.info("request stopped (%s): %s %s", stopped, request.method, request.url)
    finally:
        current_context.reset(token)
        # The hook refers back to the context, which holds the response: without it, the
        # request's objects are freed as it ends, not left to the cyclic garbage collector.
        response.flush_hook = _answered
        if metrics is not None:
            try:
                metrics.record(ctx, lifecycle.target, time.perf_counter() - started)
            except Exception:
                log.exception("the request's metrics could not be recorded")
    return ctx


def _answered() -> bool:
    """The flush hook of a response whose request has been handled: no more hooks."""
    return True


@dataclass
class _Lifecycle:
    """One request on its way through the stages, and what they have learnt so far."""

    ctx: RequestContext
    target: Target | None = None
    cache: CacheSlot | None = None  # where the answer is cached, if it may be
    rendered: ServiceError | None = None  # the error whose document the response holds

    def run(self) -> None:
        ctx, response = self.ctx, self.ctx.response
        # Any answer may change with the next edit or reload: clients must ask again before
        # reusing a copy (else QGIS desktop's Qt cache shows a feature as it was before its own
        # WFS-T commit, answered in the same second). A plugin may set its own.
        response.set_header("Cache-Control", "no-cache")
        self.step(self.run_service)
        self.step(lambda: ctx.server.filters.run(Hook.RESPONSE_COMPLETE, ctx))
        slot, project, status = self.cache, ctx.project, response.status
        if slot and project and status == 200 and not (response.streamed or ctx.exception_raised):
            entry = CachedResponse(response.body, response.content_type)
            modified = max(project.mtime, ctx.server.started)  # validators; 304 when current
            self.step(lambda: revalidate(ctx.request, response, modified))
            if not slot.hit:
                self.step(lambda: slot.store(ctx.server.caches, project, entry))
        if response.streamed and response.body and not response.finished:
            response.final_flush = True
            self.step(response.flush)
        # A status or header that HTTP cannot carry is refused here, and the error sent instead.
        self.step(response.finish)
        if not response.finished:
            response.finish()

    def run_service(self) -> None:
        ctx, server = self.ctx, self.ctx.server
        server.filters.run(Hook.REQUEST_READY, ctx)
        if ctx.exception_raised:
            return
        target = self.target = resolve(ctx)
        ctx.project = server.projects_for_request(ctx)
        server.filters.run(Hook.PROJECT_READY, ctx)
        if ctx.exception_raised:
            return
        self.cache = CacheSlot.lookup(ctx, target.cache_kind(ctx))  # a hit writes the answer
        if self.cache is None or not self.cache.hit:
            target.execute(ctx)

    def flush_hook(self) -> bool:
        """Each flushed chunk: the work may stop here, else SEND_RESPONSE runs on the chunk."""
        self.ctx.deadline.check()
        return self.ctx.server.filters.run(Hook.SEND_RESPONSE, self.ctx)

    def step(self, stage: Callable[[], object]) -> None:
        """Run one stage; what it raises becomes `ctx.service_error` (logged unless it is an
        OGC error), and a new error (raised or set by a filter) is rendered."""
        ctx = self.ctx
        try:
            stage()
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
        if ctx.service_error is not None and ctx.service_error is not self.rendered:
            self.rendered = ctx.service_error
            self.write_error(ctx.service_error)

    def write_error(self, error: ServiceError) -> None:
        """Replace the response with `error` in the target's format, if nothing was sent yet."""
        response = self.ctx.response
        if response.headers_sent:
            log.error("error after the response started, stream broken off: %r", error)
            response.abort()
            return
        body, content_type = error_document(self.target, error, self.ctx)
        response.replace(error.status, {"Content-Type": content_type, **error.headers}, body)

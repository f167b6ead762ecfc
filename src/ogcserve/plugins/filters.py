"""Request filters: code that runs at fixed points of every request (see pipeline.py).

| hook                   | when                                         | `False` means          |
|------------------------|----------------------------------------------|------------------------|
| `on_request_ready`     | parameters parsed; before project and service| stop later filters     |
| `on_project_ready`     | project resolved, before the service         | stop later filters     |
| `on_send_response`     | each time a streaming service flushes        | stop; hold the chunk   |
| `on_response_complete` | service done, before the final flush         | stop later filters     |

`None` or `True` lets lower-priority filters run.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import TYPE_CHECKING

from ogcserve.plugins.ordering import PriorityList

if TYPE_CHECKING:
    from ogcserve.context import RequestContext

log = logging.getLogger("ogcserve.filters")


class Hook(StrEnum):
    """Points in the request lifecycle where filters run."""

    REQUEST_READY = "on_request_ready"
    PROJECT_READY = "on_project_ready"
    SEND_RESPONSE = "on_send_response"
    RESPONSE_COMPLETE = "on_response_complete"


class RequestFilter:
    """Base class for request filters; override only the hooks you need."""

    def on_request_ready(self, ctx: RequestContext) -> bool | None:
        """Parameters are parsed: rewrite them, answer with `ctx.set_service_exception`, ..."""
        return None

    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        """`ctx.project` is resolved and the service is about to run."""
        return None

    def on_send_response(self, ctx: RequestContext) -> bool | None:
        """A streaming service flushed: `ctx.response.body` is this chunk only."""
        return None

    def on_response_complete(self, ctx: RequestContext) -> bool | None:
        """The service is done: `ctx.response.body` is what was not flushed yet."""
        return None


class FilterChain(PriorityList[RequestFilter]):
    """Request filters ordered by priority."""

    def __init__(self, *, trace: bool = False) -> None:
        super().__init__()
        self.trace = trace  # the `trace_filters` setting

    def run(self, hook: Hook, ctx: RequestContext) -> bool:
        """Call `hook` on each filter in order; False as soon as one returns False."""
        for entry in self:
            start = time.perf_counter() if self.trace else 0.0
            result = entry.call(hook.value, ctx)
            if self.trace:
                log.info(
                    "filter %s.%s (%s) -> %r in %.3f ms",
                    type(entry.item).__name__,
                    hook.value,
                    entry.owner,
                    result,
                    (time.perf_counter() - start) * 1000,
                )
            if result is False:
                return False
        return True

    def hooks_of(self, request_filter: RequestFilter) -> list[str]:
        """The hooks `request_filter` overrides (for `ogcserve plugins`).

        A filter that answers hooks by other names (the QGIS facade) says which through an
        `implemented_hooks()` method.
        """
        implemented = getattr(request_filter, "implemented_hooks", None)
        if callable(implemented):
            return list(implemented())
        return [
            h.value
            for h in Hook
            if getattr(type(request_filter), h.value, None) is not getattr(RequestFilter, h.value)
        ]

"""Stopping `ogcserve serve` in bounded time.

On SIGTERM or SIGINT uvicorn stops accepting and waits for running requests, for at most
`timeout_graceful_shutdown` seconds (`shutdown_grace`). It then cancels them (the ASGI edge
cancels their deadlines) and runs the app's lifespan shutdown, which cancels whatever still
runs and waits up to `HARD_EXIT_AFTER` seconds for the worker threads to stop at their next
check (`ogcserve.deadline`) and clean up. A thread can still be stuck in a C call that does not
return (a database query without a timeout): the process then ends anyway, rather than wait
for it forever. A client whose request is cut off before anything was sent gets a 503 OGC
exception report with Retry-After (`answer_stopping`), not the ASGI server's plain-text 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

from ogcserve.deadline import Deadline
from ogcserve.errors import ServiceUnavailableError
from ogcserve.exception_reports import service_exception_report

log = logging.getLogger("ogcserve.shutdown")

# After the grace time, how long cancelled work gets to notice before the process just exits.
HARD_EXIT_AFTER = 5.0


class RunningRequests:
    """The requests whose pipeline thread is still working, cancelled or not: at shutdown
    their work is cancelled and given a moment to stop cleanly (rolling back, closing) before
    the process ends."""

    def __init__(self) -> None:
        self._deadlines: set[Deadline] = set()

    @property
    def busy(self) -> bool:
        """Whether any request is running."""
        return bool(self._deadlines)

    def run(self, deadline: Deadline, work: Callable[[], object]) -> None:
        """Call `work` (in the request's thread), registered under `deadline`."""
        self._deadlines.add(deadline)
        try:
            work()
        finally:
            self._deadlines.discard(deadline)

    async def stop(self, patience: float = HARD_EXIT_AFTER) -> None:
        """Cancel every running request and wait, at most `patience` seconds, for them."""
        for deadline in list(self._deadlines):
            deadline.cancel("the server is shutting down")
        limit = time.monotonic() + patience
        while self._deadlines and time.monotonic() < limit:
            await asyncio.sleep(0.05)


class ServerStoppingError(ServiceUnavailableError):
    """The server stopped before the request was answered: another (or the restarted) server
    will answer it."""


async def answer_stopping(send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """Tell a client whose request is cut off by the end of the grace time, and that has had
    nothing yet, that the server is stopping: 503, Retry-After, an OGC exception report (the
    request was not parsed on the event loop, so in the generic OGC format); its connection
    is then closed."""
    error = ServerStoppingError("The server is stopping; the request was not completed")
    body, content_type = service_exception_report(error, "1.3.0")
    headers = {"Content-Type": content_type, "Connection": "close", **error.headers}
    head = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    head.append((b"content-length", str(len(body)).encode("ascii")))
    with contextlib.suppress(Exception):  # the client may be gone as well
        await send({"type": "http.response.start", "status": error.status, "headers": head})
        await send({"type": "http.response.body", "body": body, "more_body": False})


class GracefulServer(uvicorn.Server):
    """A uvicorn server whose shutdown never outlasts the grace time by more than a few seconds."""

    _watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """uvicorn's signal handler, plus a timer that ends the process if shutdown hangs."""
        super().handle_exit(sig, frame)
        if self._watchdog is None:
            grace = self.config.timeout_graceful_shutdown or 0
            self._watchdog = threading.Timer(grace + HARD_EXIT_AFTER, _hard_exit)
            self._watchdog.daemon = True  # a process that ends in time is not held by it
            self._watchdog.start()


def _hard_exit() -> None:
    log.error(
        "requests were still running %.0f s after the grace time; exiting without them",
        HARD_EXIT_AFTER,
    )
    logging.shutdown()
    os._exit(1)

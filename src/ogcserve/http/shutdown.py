"""Stopping `ogcserve serve` in bounded time.

On SIGTERM or SIGINT uvicorn stops accepting and waits for running requests, for at most
`timeout_graceful_shutdown` seconds (`shutdown_grace`). It then cancels them (the ASGI edge
cancels their deadlines) and runs the app's lifespan shutdown, which cancels whatever still
runs and waits up to `HARD_EXIT_AFTER` seconds for the worker threads to stop at their next
check (`ogcserve.deadline`) and clean up. A thread can still be stuck in a C call that does not
return (a database query without a timeout): the process then ends anyway, rather than wait
for it forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from ogcserve.deadline import Deadline

log = logging.getLogger("ogcserve.shutdown")

# After the grace time, how long cancelled work gets to notice before the process just exits.
HARD_EXIT_AFTER = 5.0


class RunningRequests:
    """The requests whose pipeline thread is still working, cancelled or not: at shutdown
    their work is cancelled and given a moment to stop cleanly (rolling back, closing) before
    the process ends."""

    def __init__(self) -> None:
        self._deadlines: set[Deadline] = set()

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

"""Stopping `ogcserve serve` in bounded time.

On SIGTERM or SIGINT uvicorn stops accepting and waits for running requests, for at most
`timeout_graceful_shutdown` seconds (`shutdown_grace`); it then cancels them, and the ASGI
edge cancels their deadlines, so that the worker threads stop at their next check
(`ogcserve.deadline`). A thread can still be stuck in a C call that does not
return (a database query without a timeout): the process then ends anyway, a few seconds
later, rather than wait for it forever.
"""

from __future__ import annotations

import logging
import os
import threading
from types import FrameType

import uvicorn

log = logging.getLogger("ogcserve.shutdown")

# After the grace time, how long cancelled work gets to notice before the process just exits.
HARD_EXIT_AFTER = 5.0


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

"""When a request's work must stop: its time budget ran out, its client left, or the server is
stopping.

The pipeline is synchronous and a thread cannot be interrupted, so the work stops itself: the
places where a request naturally loops call `ctx.deadline.check()` — the access layer per
batch of features and per raster read, the raster source per strip of rows it reads or
reprojects, the renderer per layer drawn, the response per chunk written. Each C call between
two checks is kept short by what it is given (raster reads are clipped to the raster's
footprint, read at about the output's resolution and cut into strips), so a check is never far
away.
"""

from __future__ import annotations

import threading
import time

from ogcserve.errors import ServiceError
from ogcserve.http.response import ClientDisconnectedError


class RequestTimeoutError(ServiceError):
    """The request ran out of its time budget (`request_timeout`).

    503: the server refuses to spend more on it; the same request will fail again, so no
    Retry-After is sent.
    """

    status = 503


class RequestCancelledError(ClientDisconnectedError):
    """The work was cancelled (the client went away, or the server is stopping): nobody will
    read the answer, so nothing is written."""


class Deadline:
    """A request's time budget and cancellation flag, checked cooperatively.

    `cancel()` may be called from any thread (the event loop when the client disconnects, the
    shutdown handler); `check()` is called by the request's own thread.
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds if seconds else None  # 0 or None: no budget
        self._expires = None if self.seconds is None else time.monotonic() + self.seconds
        self._cancelled = threading.Event()
        self._reason = ""

    def cancel(self, reason: str) -> None:
        """Stop the work at its next check."""
        self._reason = reason
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel` was called."""
        return self._cancelled.is_set()

    def remaining(self) -> float | None:
        """Seconds left in the budget (None: no budget)."""
        return None if self._expires is None else self._expires - time.monotonic()

    def check(self) -> None:
        """Raise if the work must stop: `RequestCancelledError` or `RequestTimeoutError`."""
        if self._cancelled.is_set():
            raise RequestCancelledError(self._reason or "the request was cancelled")
        if self._expires is not None and time.monotonic() > self._expires:
            raise RequestTimeoutError(f"The request exceeded the time budget of {self.seconds:g} s")

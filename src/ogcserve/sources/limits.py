"""How long a networked source may make a request wait, and what it does while it is down.

`SourceLimits` carries the process settings a source needs (timeouts, queue bounds); the
`CircuitBreaker` is one per database (`pg_databases.DatabaseGuard`), shared by the sources that
use it: after a failed connection the database is "down" for `retry_after` seconds, during
which every request fails at once (503 with Retry-After) instead of waiting for a connect
timeout; then a single request probes, the others keep failing fast until the probe has
answered.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ogcserve.errors import ServiceUnavailableError
from ogcserve.sources.base import SourceError, SourceUnavailableError


@dataclass(frozen=True, slots=True)
class SourceLimits:
    """Bounds on the time and connections one source may take (docs/configuration.md)."""

    connect_timeout: float = 5.0  # seconds to open a database connection
    query_timeout: float = 60.0  # seconds one statement may run (0: no limit)
    retry_after: float = 5.0  # seconds a source that failed to connect is left alone
    queue_timeout: float = 5.0  # seconds a request waits for a connection of the pool
    max_waiting: int = 8  # requests that may wait for a connection at once; more get 503
    stream_connections: int = 8  # connections outside the pool for streamed answers


class SourceDownError(ServiceUnavailableError, SourceUnavailableError):
    """The source's database cannot be reached; the client may retry after a while.

    `detail` says which database and why, for the operator (`ogcserve check`, the log), never
    for the client.
    """

    detail: str | None = None


class SourceBusyError(ServiceUnavailableError, SourceError):
    """Every connection of the source is in use and too many requests already wait."""


class SourceTimeoutError(ServiceUnavailableError, SourceError):
    """A statement ran past the query timeout and was cancelled by the database."""


class CircuitBreaker:
    """Closed (normal) -> open (down: fail fast) -> one probe -> closed or open again."""

    def __init__(self, retry_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None: closed
        self._probing = False
        self._detail: str | None = None  # why it is down, for the operator

    @property
    def is_open(self) -> bool:
        """Whether the source is currently considered down."""
        return self._down_until is not None

    def admit(self) -> bool:
        """Let a request through, or raise `SourceDownError` while the source is down.

        Returns True when this request is the probe: it must call `succeeded()` or `failed()`.
        """
        with self._lock:
            if self._down_until is None:
                return False
            wait = self._down_until - self._clock()
            if wait > 0 or self._probing:
                raise self._error(max(wait, 1.0))
            self._probing = True
            return True

    def check(self) -> None:
        """Raise `SourceDownError` while the source is down (never admits a probe)."""
        with self._lock:
            if self._down_until is not None:
                raise self._error(max(self._down_until - self._clock(), 1.0))

    def settle(self) -> None:
        """End a probe that neither succeeded nor failed (it was refused for another reason):
        the source stays down for another interval rather than wait for a probe forever."""
        with self._lock:
            if not self._probing:
                return
        self.failed()

    def succeeded(self) -> None:
        """A connection worked: the source is up."""
        with self._lock:
            self._down_until = None
            self._probing = False

    def failed(self, detail: str | None = None) -> SourceDownError:
        """A connection failed: the source is down for `retry_after` seconds. Returns the error
        to raise."""
        with self._lock:
            self._down_until = self._clock() + self._retry_after
            self._probing = False
            self._detail = detail or self._detail
            return self._error(self._retry_after)

    def _error(self, wait: float) -> SourceDownError:
        error = SourceDownError(
            "The layer's database cannot be reached; try again later",
            retry_after=max(1, math.ceil(wait)),
        )
        error.detail = self._detail
        return error

"""Whether this server can serve (`/ready`): its projects are loaded and the databases their
layers read accept connections. A cache that fails does not count: answers go out uncached.

Databases are probed at most once per `ready_cache` seconds per process, with a short connect
timeout, however often the load balancer asks; concurrent asks share one probe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogcserve.server import Server


@dataclass(frozen=True, slots=True)
class ReadyState:
    """One answer of /ready: `ready`, and what is not, as JSON."""

    ready: bool
    report: dict[str, Any] = field(default_factory=dict)


class Readiness:
    """The server's readiness, probed when the last answer is older than `ttl` seconds."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._state: ReadyState | None = None
        self._at = 0.0

    def fresh(self) -> ReadyState | None:
        """The last answer if it is still young enough, else None (call `check`)."""
        state = self._state
        ttl = self._server.settings.ready_cache
        if state is not None and time.monotonic() - self._at < ttl:
            return state
        return None

    def check(self) -> ReadyState:
        """Probe (blocking: run it in a thread) unless another caller just did."""
        with self._lock:
            state = self.fresh()
            if state is None:
                state = self._probe()
                self._state, self._at = state, time.monotonic()
            return state

    def _probe(self) -> ReadyState:
        server = self._server
        names = server.projects.names()
        projects = [server.projects.get(name) for name in names]
        down = server.access.unreachable_databases(projects, server.settings.ready_timeout)
        cache = server.cache_backend
        report: dict[str, Any] = {
            "status": "ready" if names and not down else "not ready",
            "projects": names,
            # Projects and a count, not layer names: an access plugin may hide some layers.
            "unreachable": [
                {
                    "database": database,
                    "projects": sorted({name.partition("/")[0] for name in layers}),
                    "layers": len(layers),
                }
                for database, layers in down.items()
            ],
            # Informational: a failing cache costs speed, not answers.
            "cache": {"backend": cache.name, "working": cache.healthy},
        }
        if not names:
            report["problem"] = "no project is loaded"
        return ReadyState(bool(names) and not down, report)

"""What the requests of the last second added up, not yet written to the metrics.

A shared value costs a lock, a pid check and a file write per change, and nearly every request
adds to the same few series; so a request only adds its numbers here, under one lock, keyed by
what it already holds (its label tuple, its tally's keys), and `Metrics.flush` writes the sums
once a second: one write per series that changed, however many requests changed it. Latencies
are kept as the histogram keeps them, a sum and a count per bucket, so that a second's
observations become one write to each bucket they fell in.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogcserve.metrics.tally import Tally

RequestLabels = tuple[str, str, str]


class Pending:
    """The sums, swapped out whole by `take` (the next second starts empty)."""

    __slots__ = ("_bounds", "_lock", "layers", "lookups", "plugins", "requests", "statuses")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds  # the histogram's upper bounds, +Inf last
        self._lock = threading.Lock()
        # labels -> [response bytes, latency sum, count in bucket 0, bucket 1, ...]
        self.requests: dict[RequestLabels, list[Any]] = {}
        self.statuses: dict[tuple[RequestLabels, int], int] = {}  # (labels, status) -> count
        # (plugin, class, method) -> [calls, errors, seconds], as in the tally
        self.plugins: dict[tuple[str, type, str], list[Any]] = {}
        self.layers: dict[tuple[str, str], list[float]] = {}  # (project, layer) -> [n, seconds]
        self.lookups: dict[tuple[str, bool], int] = {}  # (cache backend, found) -> count

    def add(
        self, labels: RequestLabels, status: int, sent: int, seconds: float, tally: Tally | None
    ) -> None:
        """One request: its labels, status, bytes sent, latency and what its tally counted."""
        slot = bisect_left(self._bounds, seconds) + 2  # as Histogram.observe: first bound >= it
        with self._lock:
            entry = self.requests.get(labels)
            if entry is None:
                entry = self.requests[labels] = [0, 0.0] + [0] * len(self._bounds)
            entry[0] += sent
            entry[1] += seconds
            entry[slot] += 1
            key = (labels, status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if tally is None:
                return
            plugins = self.plugins
            for call, counted in tally.plugins.items():
                total = plugins.get(call)
                if total is None:
                    plugins[call] = counted.copy()
                else:
                    total[0] += counted[0]
                    total[1] += counted[1]
                    total[2] += counted[2]
            if tally.layers:
                project = labels[0]
                for layer, read in tally.layers.items():
                    sums = self.layers.get((project, layer))
                    if sums is None:
                        self.layers[(project, layer)] = read.copy()
                    else:
                        sums[0] += read[0]
                        sums[1] += read[1]

    def lookup(self, backend: str, found: bool) -> None:
        """One cache get: found or not."""
        key = (backend, found)
        with self._lock:
            self.lookups[key] = self.lookups.get(key, 0) + 1

    def take(self) -> Pending:
        """The sums so far, as a Pending of their own; this one starts again empty."""
        taken = Pending(self._bounds)
        with self._lock:
            taken.requests, self.requests = self.requests, taken.requests
            taken.statuses, self.statuses = self.statuses, taken.statuses
            taken.plugins, self.plugins = self.plugins, taken.plugins
            taken.layers, self.layers = self.layers, taken.layers
            taken.lookups, self.lookups = self.lookups, taken.lookups
        return taken

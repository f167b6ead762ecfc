"""What one request did, added up while it runs and handed to the metrics once at its end.

Plugin calls and feature batches are many per request (the project policy alone is asked
about every layer): adding to a dict owned by the request takes no lock and writes no shared
value. A call is keyed by its plugin, class and method; the class's name is looked up only
when the metrics are written (`Metrics.flush`, once a second, for every request of that second).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, TypeVar

from ogcserve.features import FeatureBatch

T = TypeVar("T")


class Tally:
    """Plugin calls (plugin, class, method) -> [calls, errors, seconds], added to by
    `Registration.call` (plugins/ordering.py; inline, it is called a lot); layer reads
    (layer) -> [features, seconds]."""

    __slots__ = ("layers", "plugins")

    def __init__(self) -> None:
        self.plugins: dict[tuple[str, type, str], list[Any]] = {}
        self.layers: dict[str, list[float]] = {}

    def layer_read(self, layer: str, features: int, seconds: float) -> None:
        """Features a source gave for `layer`, and the time it took."""
        entry = self.layers.get(layer)
        if entry is None:
            entry = self.layers[layer] = [0, 0.0]
        entry[0] += features
        entry[1] += seconds

    def timed(self, layer: str, batches: Iterator[FeatureBatch]) -> Iterator[FeatureBatch]:
        """`batches`, each counted, and the time spent producing them (not consuming them)."""
        clock = time.perf_counter
        while True:
            started = clock()
            batch = next(batches, None)
            if batch is None:
                self.layer_read(layer, 0, clock() - started)
                return
            self.layer_read(layer, len(batch), clock() - started)
            yield batch

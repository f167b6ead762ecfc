"""What one request did, added up while it runs and written to the metrics once at its end.

Plugin calls and feature batches are many per request (the project policy alone is asked
about every layer); adding to a dict owned by the request takes no lock, and the metrics,
which do, are written once per distinct plugin method and layer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TypeVar

from ogcserve.features import FeatureBatch

T = TypeVar("T")


class Tally:
    """Plugin calls (plugin, class, method) -> [calls, errors, seconds]; layer reads
    (layer) -> [features, seconds]."""

    __slots__ = ("layers", "plugins")

    def __init__(self) -> None:
        self.plugins: dict[tuple[str, str, str], list[float]] = {}
        self.layers: dict[str, list[float]] = {}

    def plugin_call(self, plugin: str, item: object, method: str, seconds: float, failed: bool) -> None:
        """One call into plugin code."""
        key = (plugin, type(item).__name__, method)
        entry = self.plugins.get(key)
        if entry is None:
            entry = self.plugins[key] = [0, 0, 0.0]
        entry[0] += 1
        entry[1] += failed
        entry[2] += seconds

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

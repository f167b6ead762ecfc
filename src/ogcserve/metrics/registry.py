"""`Metrics`: every metric ogcserve exports, created once per server, and how they are fed.

Names follow Prometheus's conventions (`ogcserve_` prefix, `_total` counters, base units
`_seconds` and `_bytes`); every label value comes from a bounded set (`labels.py`).

A request adds its latency and its counts (requests, bytes, plugin calls, features) to pending
sums under one lock (`pending.py`), which `flush` writes to the metrics every second and before
each scrape: a shared value costs a lock, a pid check and a file write per change, and most
requests add to the same few series. Under
`ogcserve serve` the values live in files shared by the worker processes
(PROMETHEUS_MULTIPROC_DIR, see `multiprocess.py` and docs/decisions/0006-metrics.md), so any
worker answering /metrics reports the sum over all of them.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from ogcserve.metrics.labels import request_labels
from ogcserve.metrics.pending import Pending

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.plugins.targets import Target

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_REQUEST = ("project", "service", "operation")


def multiprocess_dir() -> str | None:
    """The shared directory, if this process writes its values there. prometheus_client
    decides when it is first imported, so the variable must be set before (`serve` does)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    shared = getattr(values.ValueClass, "__name__", "") == "MmapedValue"
    return directory if directory and shared else None


class Metrics:
    """The metric objects of one server (never module globals), in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.content_type = CONTENT_TYPE_LATEST
        self.shared_dir = multiprocess_dir()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._pending = Pending((*_LATENCY_BUCKETS, math.inf))  # written by `flush`
        r = self.registry
        self.requests = Counter(
            "ogcserve_requests", "Requests answered", (*_REQUEST, "status"), registry=r
        )
        self.request_seconds = Histogram(
            "ogcserve_request_duration_seconds",
            "Time from the request read to its last byte handed to the server",
            _REQUEST,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.response_bytes = Counter(
            "ogcserve_response_bytes", "Bytes of response bodies sent", _REQUEST, registry=r
        )
        self.features = Counter(
            "ogcserve_layer_features_read",
            "Features read from a layer's source (after the caller's filters)",
            ("project", "layer"),
            registry=r,
        )
        self.read_seconds = Counter(
            "ogcserve_layer_read_seconds",
            "Time spent in a layer's source producing features",
            ("project", "layer"),
            registry=r,
        )
        plugin = ("plugin", "filter", "hook")
        self.plugin_calls = Counter(
            "ogcserve_plugin_calls",
            "Calls into plugin code (filters, access controls, caches)",
            plugin,
            registry=r,
        )
        self.plugin_errors = Counter(
            "ogcserve_plugin_errors",
            "Plugin calls that raised (other than an OGC error)",
            plugin,
            registry=r,
        )
        self.plugin_seconds = Counter(
            "ogcserve_plugin_call_seconds", "Time spent in plugin calls", plugin, registry=r
        )
        self.cache_hits = Counter(
            "ogcserve_cache_hits", "Cache lookups that found the entry", ("backend",), registry=r
        )
        self.cache_misses = Counter(
            "ogcserve_cache_misses",
            "Cache lookups that did not (also while the store fails)",
            ("backend",),
            registry=r,
        )
        self.cache_errors = Counter(
            "ogcserve_cache_errors",
            "Cache calls that failed, or were skipped because the store had just failed",
            ("backend",),
            registry=r,
        )
        pool = ("source",)
        self.pool_size = Gauge(
            "ogcserve_db_pool_connections",
            "Connections open in a database source's pool",
            pool,
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pool_in_use = Gauge(
            "ogcserve_db_pool_connections_in_use",
            "Pooled connections lent to requests",
            pool,
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pool_waiting = Gauge(
            "ogcserve_db_pool_requests_waiting",
            "Requests waiting for a pooled connection",
            pool,
            registry=r,
            multiprocess_mode="livesum",
        )
        self.worker_restarts = Counter(
            "ogcserve_worker_restarts",
            "Worker processes that died and were replaced (serve --workers N)",
            registry=r,
        )

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: `labels()` validates and locks each time."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def record(self, ctx: RequestContext, target: Target | None, seconds: float) -> None:
        """One request answered: its latency and counts (and its tally's) pending."""
        response = ctx.response
        self._pending.add(
            request_labels(ctx, target), response.status, response.bytes_sent, seconds, ctx.tally
        )

    def record_answer(
        self, labels: tuple[str, str, str], status: int, bytes_sent: int, seconds: float
    ) -> None:
        """One request answered without the pipeline (a tile hit at the ASGI edge:
        services/tiles/edge.py), counted as `record` counts it."""
        self._pending.add(labels, status, bytes_sent, seconds, None)

    def flush(self) -> None:
        """Write the pending sums to the metrics (every second, and before a scrape)."""
        pending = self._pending.take()
        child = self.child
        for labels, (sent, total, *buckets) in pending.requests.items():
            _observe_many(child(self.request_seconds, *labels), total, buckets)
            if sent:
                child(self.response_bytes, *labels).inc(sent)
        for (labels, status), count in pending.statuses.items():
            child(self.requests, *labels, str(status)).inc(count)
        for (plugin, kind, method), (calls, errors, spent) in pending.plugins.items():
            names = (plugin, kind.__name__, method)
            child(self.plugin_calls, *names).inc(calls)
            child(self.plugin_seconds, *names).inc(spent)
            if errors:
                child(self.plugin_errors, *names).inc(errors)
        for (project, layer), (features, read) in pending.layers.items():
            child(self.features, project, layer).inc(features)
            child(self.read_seconds, project, layer).inc(read)
        for (backend, found), count in pending.lookups.items():
            child(self.cache_hits if found else self.cache_misses, backend).inc(count)

    def cache_lookup(self, backend: str, hit: bool) -> None:
        """A cache get: found or not (pending, as the requests' counts)."""
        self._pending.lookup(backend, hit)

    def cache_error(self, backend: str) -> None:
        """A cache call failed or was skipped because the store had just failed."""
        self.child(self.cache_errors, backend).inc()

    def pools(self, stats: dict[str, dict[str, int]]) -> None:
        """Set the pool gauges from psycopg_pool's `get_stats()` of each source."""
        for source, pool in stats.items():
            size = pool.get("pool_size", 0)
            self.child(self.pool_size, source).set(size)
            self.child(self.pool_in_use, source).set(size - pool.get("pool_available", 0))
            self.child(self.pool_waiting, source).set(pool.get("requests_waiting", 0))

    def exposition(self) -> bytes:
        """The text format: every process's values under `serve`, else this registry's (the
        pending counts of this process written first)."""
        self.flush()
        if self.shared_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def _observe_many(histogram: Any, total: float, buckets: list[int]) -> None:
    """What `histogram.observe` of each value would have written, in one write per bucket:
    `total` to the sum, each bucket's count to it. prometheus_client has no call for that, so
    this writes its histogram's values (`_sum`, `_buckets`, one per upper bound, each counting
    the observations of its own bucket: the exposition adds them up); tests/ops/test_metrics.py
    compares the result with `observe`, so a change in them fails loudly."""
    histogram._sum.inc(total)
    for value, count in zip(histogram._buckets, buckets, strict=True):
        if count:
            value.inc(count)

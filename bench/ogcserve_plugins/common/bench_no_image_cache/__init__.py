"""Benchmark cache filter: keeps every answer but GetCapabilities out of the caches.

QGIS Server and MapServer cache no map image (nor feature info), so for bench/wms_compare.py
ogcserve must not either. Registered ahead of the built-in memory cache, this filter accepts
(and drops) every `set` except a GetCapabilities document, so the memory cache never stores
one; `get` finds nothing of its own. The first drop of each kind of request is logged, which
tells whether the service asked for caching at all.
"""

from __future__ import annotations

import logging
import os

from ogcserve.context import current_context
from ogcserve.plugins import ServerInterface
from ogcserve.plugins.cache import CachedResponse, CacheFilter, CacheKind

log = logging.getLogger("bench.no_image_cache")


class NoImageCache(CacheFilter):
    """Drops every entry but GetCapabilities documents."""

    def __init__(self) -> None:
        self.dropped: set[tuple[str, str]] = set()

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        ctx = current_context.get(None)
        request = ctx.request.parameter("REQUEST").strip().lower() if ctx is not None else ""
        if kind == CacheKind.DOCUMENT and request == "getcapabilities":
            return False  # on to the built-in memory cache
        if (str(kind), request) not in self.dropped:
            self.dropped.add((str(kind), request))
            log.warning(
                "bench_no_image_cache: pid %d dropped a %s cache entry for REQUEST=%s",
                os.getpid(),
                kind,
                request or "?",
            )
        return True


def serverClassFactory(server_iface: ServerInterface) -> NoImageCache:  # noqa: N802
    cache = NoImageCache()
    server_iface.register_cache(cache, priority=0)
    return cache

"""Tile hits answered before the pipeline, on the event loop: `EdgeHits`.

Through the pipeline a cached tile cost ~250 µs of CPU in process (the request built and
parsed, the filter hooks, the route resolved, the access fingerprint, the response checked,
the hop to a worker thread and back), this ~35 µs (docs/performance.md); most of the pipeline's
work recomputed what the previous request for the same URL found. Here the pipeline, when it
answers a RESTful WMTS tile, notes where the tile lives (its cache space and key, which the
access fingerprint made) under the request's URL; the next request for that URL is answered
from the backend with the same headers, without the pipeline.

That is sound only while the answer is a function of the URL, the project file and the stored
entry, so both noting and answering require:

- **no plugin registrations that could see the request**: no request filter, no access-control
  filter but the project's own policy (whose decisions follow the path: `access/policy.py`), no
  cache filter but the built-in one. Any plugin (every QGIS plugin, any filter reading a
  header, a cookie, the time or outside state) turns this off and every request runs the
  pipeline, so the fingerprint keying of tiles (`keys.py`) is never bypassed where it could
  differ between two callers of the same URL;
- **a local backend** (memory or disk), whose read does not wait on a network: the answer is
  given on the event loop. A disk cache on a slow network filesystem would stall the loop;
- **the same project**: the project object and its file's mtime are those the pipeline saw
  (else the pipeline runs, and reloads it).

The entry is read from the backend every time, so an edit's invalidation (by this host or
another sharing the directory) is seen at once: a missing entry runs the pipeline. Only GET and
HEAD without a body, and only paths under /wmts/.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ogcserve.access.policy import ProjectPolicy
from ogcserve.cache.filter import BackendCache
from ogcserve.errors import ServiceError

from .tile import Tile

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project
    from ogcserve.server import Server

PREFIX = "/wmts/"
_LOCAL = ("memory", "disk")
Head = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class _Entry:
    project: Project
    mtime: float
    space: str
    key: str
    content_type: bytes
    cache_control: bytes
    labels: tuple[str, str, str]  # the request's metrics labels (project, service, operation)


@dataclass(frozen=True, slots=True)
class EdgeAnswer:
    """A whole response: status, header lines (lower-case names), body."""

    status: int
    headers: Head
    body: bytes
    labels: tuple[str, str, str]


def plain(server: Server) -> bool:
    """Whether nothing but the built-in registrations could see a request."""
    if server.filters:
        return False
    if server.cache_backend.name not in _LOCAL:
        return False
    if any(type(r.item) is not ProjectPolicy for r in server.access_controls):
        return False
    return all(type(r.item) is BackendCache for r in server.caches)


class EdgeHits:
    """URL -> where its tile is cached, as the pipeline last answered it."""

    def __init__(self, max_entries: int = 65536) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(
        self,
        ctx: RequestContext,
        project: Project,
        where: tuple[str, str],
        content_type: str,
        max_age: int,
    ) -> None:
        """Note the tile the pipeline is answering (`where`: its space and key), if the
        request and the server allow answering its URL at the edge."""
        request = ctx.request
        if request.method not in ("GET", "HEAD") or request.body:
            return
        path = request.environ.get("PATH_INFO", "")
        if request.environ.get("SCRIPT_NAME") or not path.startswith(PREFIX):
            return
        if not plain(ctx.server):
            return
        from ogcserve.metrics.labels import request_labels
        from ogcserve.plugins.targets import resolve

        url = (path, request.environ.get("QUERY_STRING", ""))
        control = f"private, max-age={max_age}".encode("latin-1")
        known = self._entries.get(url)
        if (
            known is not None
            and known.project is project
            and known.mtime == project.mtime
            and (known.space, known.key) == where
            and known.cache_control == control
            and known.content_type == content_type.encode("latin-1")
        ):
            return
        labels = request_labels(ctx, resolve(ctx)) if ctx.server.metrics is not None else ("",) * 3
        entry = _Entry(
            project,
            project.mtime,
            where[0],
            where[1],
            content_type.encode("latin-1"),
            control,
            labels,
        )
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {}
            self._entries[url] = entry

    def answer(
        self, server: Server, method: str, path: str, query: str, if_none_match: str | None
    ) -> EdgeAnswer | None:
        """The answer the pipeline would give, or None (the pipeline must answer)."""
        entry = self._entries.get((path, query))
        if entry is None or not plain(server):
            return None
        project = entry.project
        try:
            if server.projects.get(project.name) is not project:
                return None
            if os.stat(project.path).st_mtime != entry.mtime:
                return None
        except (OSError, ServiceError):  # gone: the pipeline says what that means
            return None
        data = server.cache_backend.get(entry.space, entry.key)
        if data is None:  # dropped (an edit), evicted, or the store fails
            return None
        tile = Tile.from_entry(data, "", 0)
        if tile is None:
            return None
        etag = tile.etag.encode("latin-1")
        headers = [
            (b"cache-control", entry.cache_control),
            (b"etag", etag),
            (b"x-cache", b"HIT"),
        ]
        if if_none_match is not None and _matches(if_none_match, tile.etag):
            return EdgeAnswer(304, headers, b"", entry.labels)
        headers.append((b"content-type", entry.content_type))
        headers.append((b"content-length", str(len(tile.body)).encode("latin-1")))
        return EdgeAnswer(200, headers, b"" if method == "HEAD" else tile.body, entry.labels)


def _matches(wanted: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return "*" in tags or etag in tags


def edge_of(server: Server) -> EdgeHits | None:
    """The built-in WMTS's edge hits (None if a plugin replaced WMTS)."""
    service = server.services.get("WMTS")
    renderer = getattr(getattr(service, "tiles", None), "renderer", None)
    edge = getattr(renderer, "edge", None)
    return edge if isinstance(edge, EdgeHits) else None

"""Tile hits answered before the pipeline, on the event loop: `EdgeHits`.

Through the pipeline a cached tile cost ~250 µs of CPU in process (the request built and
parsed, the filter hooks, the route resolved, the access fingerprint, the response checked,
the hop to a worker thread and back), this ~18 µs (docs/performance.md); most of the pipeline's
work recomputed what the previous request for the same URL found. Here the pipeline, when it
answers a tile, notes where the tile lives (its cache space and key, which the access
fingerprint made) under the request's path and query; the next request for that URL is
answered from the backend with the same headers, without the pipeline. That covers every tile
URL whose answer its path and query decide: RESTful WMTS, XYZ, WMTS KVP GetTile (keyed by its
query exactly as sent) and OGC API - Tiles asked with `f=` (a tile whose format the Accept
header chose is not noted: `url_decides`).

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
another sharing the directory) is seen at once: a missing entry runs the pipeline. The read is
the backend's own (`Guarded.reader`: the entry's path is found once per URL), and the answer's
header lines are kept with the ETag they were built for, so a hit builds nothing while its tile
is the same. Only GET and HEAD without a body, and no root path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ogcserve.access.policy import ProjectPolicy
from ogcserve.cache.filter import BackendCache
from ogcserve.errors import ServiceError
from ogcserve.http.conditional import etag_matches

from .tile import ETAG_SIZE, stored_etag

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project
    from ogcserve.server import Server

_LOCAL = ("memory", "disk")
Head = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class _Entry:
    project: Project
    path: str  # the project file's
    mtime: float
    where: tuple[str, str]  # the cache space and key
    read: Callable[[], bytes | None]  # the backend's read of that entry
    content_type: bytes
    cache_control: bytes
    labels: tuple[str, str, str]  # the request's metrics labels (project, service, operation)
    # The last tile answered: its stored ETag, that as text, the 304's and the 200's header
    # lines. Replaced whole (on the event loop), never changed in place.
    known: tuple[bytes, str, Head, Head] | None = None


@dataclass(frozen=True, slots=True)
class EdgeAnswer:
    """A whole response: status, header lines (lower-case names), body."""

    status: int
    headers: Head
    body: bytes
    labels: tuple[str, str, str]


def plain(server: Server) -> bool:
    """Whether nothing but the built-in registrations could see a request."""
    if server.filters or server.cache_backend.name not in _LOCAL:
        return False
    for control in server.access_controls:  # loops, not all(): this runs on every hit
        if type(control.item) is not ProjectPolicy:
            return False
    for cache in server.caches:  # noqa: SIM110
        if type(cache.item) is not BackendCache:
            return False
    return True


class EdgeHits:
    """URL -> where its tile is cached, as the pipeline last answered it; at most `max_entries`
    URLs and `max_url_bytes` of their text (a URL may be as long as the setting
    `max_url_length`, 64 KiB, and a KVP query takes any parameter: the count alone would let
    long URLs hold gigabytes). Past either bound every entry is dropped. A project re-read drops
    the entries of its previous version, which could only miss and would keep it in memory."""

    def __init__(self, max_entries: int = 65536, max_url_bytes: int = 16 << 20) -> None:
        self.max_entries = max_entries
        self.max_url_bytes = max_url_bytes
        self.url_bytes = 0  # the text of the URLs kept
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._projects: dict[str, Project] = {}  # by name, the version the entries were made for
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
        if request.environ.get("SCRIPT_NAME") or not plain(ctx.server):
            return
        from ogcserve.metrics.labels import request_labels
        from ogcserve.plugins.targets import resolve

        url = (request.environ.get("PATH_INFO", ""), request.environ.get("QUERY_STRING", ""))
        control = f"private, max-age={max_age}".encode("latin-1")
        kind = content_type.encode("latin-1")
        known = self._entries.get(url)
        if (
            known is not None
            and known.project is project
            and known.mtime == project.mtime
            and known.where == where
            and known.cache_control == control
            and known.content_type == kind
        ):
            return
        read = ctx.server.cache_backend.reader(*where)
        if read is None:
            return
        labels = request_labels(ctx, resolve(ctx)) if ctx.server.metrics is not None else ("",) * 3
        entry = _Entry(
            project, str(project.path), project.mtime, where, read, kind, control, labels
        )
        size = len(url[0]) + len(url[1])
        with self._lock:
            if self._projects.setdefault(project.name, project) is not project:
                self._forget(project.name)
                self._projects[project.name] = project
            if url not in self._entries:
                full = len(self._entries) >= self.max_entries
                if full or self.url_bytes + size > self.max_url_bytes:
                    self._entries, self.url_bytes = {}, 0
                self.url_bytes += size
            self._entries[url] = entry

    def _forget(self, name: str) -> None:
        """Drop the entries of project `name` (the lock held)."""
        self._entries = {url: e for url, e in self._entries.items() if e.project.name != name}
        self.url_bytes = sum(len(path) + len(query) for path, query in self._entries)

    def find(self, path: str, query: str) -> _Entry | None:
        """What the pipeline noted for this URL, if anything."""
        return self._entries.get((path, query))


def answer(
    server: Server, entry: _Entry, method: str, if_none_match: str | None
) -> EdgeAnswer | None:
    """The answer the pipeline would give to a request for `entry`'s URL, or None."""
    backend = server.cache_backend
    if not backend.healthy or not plain(server):  # a failing store: the pipeline says how
        return None
    project = entry.project
    try:
        if server.projects.get(project.name) is not project:
            return None
        if os.stat(entry.path).st_mtime != entry.mtime:
            return None
        data = entry.read()
    except (OSError, ServiceError):  # gone, or unreadable: the pipeline says what that means
        return None
    if data is None:  # dropped (an edit) or evicted
        return None
    known = entry.known
    if known is None or data[:ETAG_SIZE] != known[0]:
        known = _heads(entry, data)
        if known is None:
            return None
        entry.known = known
    backend.found()
    if if_none_match is not None and etag_matches(if_none_match, known[1]):
        return EdgeAnswer(304, known[2], b"", entry.labels)
    return EdgeAnswer(200, known[3], b"" if method == "HEAD" else data[ETAG_SIZE:], entry.labels)


def _heads(entry: _Entry, data: bytes) -> tuple[bytes, str, Head, Head] | None:
    """The header lines of the tile stored as `data` (None if the bytes are not a tile)."""
    stored = stored_etag(data)
    if stored is None:
        return None
    common = [(b"cache-control", entry.cache_control), (b"etag", stored), (b"x-cache", b"HIT")]
    length = str(len(data) - ETAG_SIZE).encode("latin-1")
    full = [*common, (b"content-type", entry.content_type), (b"content-length", length)]
    return stored, stored.decode("ascii", "replace"), common, full


def edge_of(server: Server) -> EdgeHits | None:
    """The built-in tile services' edge hits (None if a plugin replaced WMTS)."""
    service = server.services.get("WMTS")
    renderer = getattr(getattr(service, "tiles", None), "renderer", None)
    edge = getattr(renderer, "edge", None)
    return edge if isinstance(edge, EdgeHits) else None

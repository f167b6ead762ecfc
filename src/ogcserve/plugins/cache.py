"""Cache filters: plugins that store documents (capabilities, schemas) and images (legends, tiles).

Keys are built here (`cache_key`) from the project, the canonical request and the caller's access
fingerprint, so a cache filter never needs to think about who is asking. `get` stops at the
first filter that has the entry; `set` and `delete` stop at the first that returns True.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ogcserve.plugins.ordering import PriorityList

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project


class CacheKind(StrEnum):
    """What is cached: XML/JSON documents or images."""

    DOCUMENT = "document"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A cached answer: its body and content type."""

    body: bytes
    content_type: str


# The headers the URLs inside cached documents are built from.
_URL_HEADERS = (
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "Forwarded",
)


def cache_key(ctx: RequestContext) -> str:
    """Project + canonical request + the URL it was asked at + the caller's access fingerprint.

    Documents embed URLs built from the host and the X-Forwarded-* headers, so those are part
    of the key: a forged header may get a client its own odd document, never someone else's.
    """
    assert ctx.project is not None
    request = ctx.request
    params = sorted((k, v) for k, v in request.params.items())
    url = urlsplit(request.url)
    # The path too: a route's resource (RESTful capabilities) is named by it, not by params.
    origin = [url.netloc, url.path] + [request.headers.get(h, "") for h in _URL_HEADERS]
    digest = hashlib.blake2b(repr((params, origin)).encode(), digest_size=16)
    digest.update(ctx.server.access.fingerprint(ctx, ctx.project).encode())
    return digest.hexdigest()


@dataclass
class CacheSlot:
    """Where one request's answer is cached: looked up before the target runs, stored after."""

    kind: CacheKind
    key: str
    hit: bool = False  # the answer came from a cache

    @classmethod
    def lookup(cls, ctx: RequestContext, kind: CacheKind | None) -> CacheSlot | None:
        """The slot of a cacheable answer (None: not cacheable, or no project); on a hit, the
        cached answer is written into `ctx.response`."""
        if kind is None or ctx.project is None:
            return None
        slot = cls(kind, cache_key(ctx))
        entry = ctx.server.caches.get(kind, ctx.project.name, slot.key)
        if entry is not None:
            slot.hit = True
            ctx.response.set_header("Content-Type", entry.content_type)
            ctx.response.write(entry.body)
        return slot

    def store(self, caches: CacheChain, project: Project, entry: CachedResponse) -> None:
        """Keep the answer, under the key it was looked up with."""
        caches.set(self.kind, project.name, self.key, entry)


class CacheFilter:
    """Base class for cache plugins; the defaults cache nothing."""

    def get(self, kind: CacheKind, project: str, key: str) -> CachedResponse | None:
        """The entry for `key`, or None."""
        return None

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        """Store an entry; True if stored."""
        return False

    def delete(self, kind: CacheKind, project: str, key: str) -> bool:
        """Drop one entry; True if something was dropped."""
        return False

    def clear(self, kind: CacheKind, project: str) -> bool:
        """Drop every entry of a project (its file changed); True if handled."""
        return False


class CacheChain(PriorityList[CacheFilter]):
    """Cache filters in priority order."""

    def get(self, kind: CacheKind, project: str, key: str) -> CachedResponse | None:
        """The first hit, in priority order."""
        for entry in self:
            hit: CachedResponse | None = entry.call("get", kind, project, key)
            if hit is not None:
                return hit
        return None

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> None:
        """Store in the first filter that accepts."""
        for entry in self:
            if entry.call("set", kind, project, key, value):
                return

    def delete(self, kind: CacheKind, project: str, key: str) -> None:
        """Drop an entry from the first filter that has it."""
        for entry in self:
            if entry.call("delete", kind, project, key):
                return

    def clear(self, project: str) -> None:
        """Drop every entry of `project` from every filter."""
        for entry in self:
            for kind in CacheKind:
                entry.call("clear", kind, project)


class MemoryCache(CacheFilter):
    """The built-in cache: a bounded LRU in process memory (registered like any plugin)."""

    def __init__(self, max_entries: int = 512) -> None:
        self._entries: OrderedDict[tuple[str, str, str], CachedResponse] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, kind: CacheKind, project: str, key: str) -> CachedResponse | None:
        """The entry, refreshed as most recently used."""
        with self._lock:
            hit = self._entries.get((kind, project, key))
            if hit is not None:
                self._entries.move_to_end((kind, project, key))
            return hit

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        """Store, evicting the least recently used entry when full."""
        with self._lock:
            self._entries[(kind, project, key)] = value
            self._entries.move_to_end((kind, project, key))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return True

    def delete(self, kind: CacheKind, project: str, key: str) -> bool:
        """Drop one entry."""
        with self._lock:
            return self._entries.pop((kind, project, key), None) is not None

    def clear(self, kind: CacheKind, project: str) -> bool:
        """Drop a project's entries of one kind."""
        with self._lock:
            for k in [k for k in self._entries if k[0] == kind and k[1] == project]:
                del self._entries[k]
        return True

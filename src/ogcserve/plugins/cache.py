"""Cache filters: plugins that store documents (capabilities, schemas) and images (legends, tiles).

Keys are built by the pipeline from the project, the canonical request and the caller's access
fingerprint, so a cache filter never needs to think about who is asking. `get` stops at the
first filter that has the entry; `set` and `delete` stop at the first that returns True.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from ogcserve.plugins.ordering import PriorityList


class CacheKind(StrEnum):
    """What is cached: XML/JSON documents or images."""

    DOCUMENT = "document"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A cached answer: its body and content type."""

    body: bytes
    content_type: str


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

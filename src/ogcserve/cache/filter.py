"""`BackendCache`: the built-in cache filter, keeping documents and images in the chosen backend.

It is registered like any cache plugin (lowest priority), so plugin cache filters are asked first.
It receives finished keys (project + request + access fingerprint, `plugins/cache.py`).
"""

from __future__ import annotations

from ogcserve.plugins.cache import CachedResponse, CacheFilter, CacheKind

from .backend import CacheBackend


def pack(entry: CachedResponse) -> bytes:
    """Content type, a newline, the body."""
    return entry.content_type.encode() + b"\n" + entry.body


def unpack(data: bytes) -> CachedResponse | None:
    """The entry `pack` made (None if the bytes are not one)."""
    head, newline, body = data.partition(b"\n")
    if not newline:
        return None
    return CachedResponse(body, head.decode("utf-8", "replace"))


class BackendCache(CacheFilter):
    """Documents and images in `<project>/<kind>` spaces of a backend."""

    def __init__(self, backend: CacheBackend) -> None:
        self.backend = backend

    def get(self, kind: CacheKind, project: str, key: str) -> CachedResponse | None:
        """The entry, if the backend has it."""
        data = self.backend.get(f"{project}/{kind}", key)
        return None if data is None else unpack(data)

    def set(self, kind: CacheKind, project: str, key: str, value: CachedResponse) -> bool:
        """Store in the backend."""
        self.backend.set(f"{project}/{kind}", key, pack(value))
        return True

    def delete(self, kind: CacheKind, project: str, key: str) -> bool:
        """Drop one entry."""
        self.backend.delete(f"{project}/{kind}", key)
        return True

    def clear(self, kind: CacheKind, project: str) -> bool:
        """Drop the project's entries of one kind."""
        self.backend.drop_tree(f"{project}/{kind}")
        return True

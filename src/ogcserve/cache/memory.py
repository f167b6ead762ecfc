"""The memory backend: an LRU bounded by the bytes it holds, private to one process."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import partial


class MemoryBackend:
    """Least recently used entries go first once `max_bytes` would be exceeded."""

    name = "memory"

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._spaces: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def get(self, space: str, key: str) -> bytes | None:
        """The entry, refreshed as most recently used."""
        with self._lock:
            value = self._entries.get((space, key))
            if value is not None:
                self._entries.move_to_end((space, key))
            return value

    def reader(self, space: str, key: str) -> Callable[[], bytes | None]:
        """A read of one entry (the ASGI edge's, per tile URL)."""
        return partial(self.get, space, key)

    def set(self, space: str, key: str, value: bytes) -> None:
        """Store, evicting the least recently used entries; one larger than the bound is not
        kept."""
        if len(value) > self.max_bytes:
            return
        with self._lock:
            self._remove((space, key))
            self._entries[(space, key)] = value
            self._spaces.setdefault(space, set()).add(key)
            self.size += len(value)
            while self.size > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def delete(self, space: str, key: str) -> None:
        """Remove one entry."""
        with self._lock:
            self._remove((space, key))

    def drop(self, space: str) -> None:
        """Remove one space."""
        with self._lock:
            for key in list(self._spaces.get(space, ())):
                self._remove((space, key))

    def drop_tree(self, prefix: str) -> None:
        """Remove a space and every space below it."""
        below = prefix.rstrip("/") + "/"
        with self._lock:
            spaces = [s for s in self._spaces if s == prefix or s.startswith(below)]
            for space in spaces:
                for key in list(self._spaces.get(space, ())):
                    self._remove((space, key))

    @contextlib.contextmanager
    def lock(self, name: str, wait: float) -> Iterator[bool]:
        """No other process shares this store: the tile renderer's own per-process lock is
        enough."""
        yield True

    def _remove(self, entry: tuple[str, str]) -> None:
        value = self._entries.pop(entry, None)
        if value is None:
            return
        self.size -= len(value)
        keys = self._spaces[entry[0]]
        keys.discard(entry[1])
        if not keys:
            del self._spaces[entry[0]]

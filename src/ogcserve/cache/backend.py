"""The cache backend interface, and `Guarded`: a store that fails is skipped, never fatal.

A space is a `/`-separated path (project / kind / layer / matrix set / zoom / row / col); a key
names one entry inside it. `drop(space)` removes one space, `drop_tree(prefix)` a space and all
below it: a tile's space holds the copies of every caller's rights, so an edit drops them all.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ogcserve.metrics.registry import Metrics
    from ogcserve.settings import Settings

log = logging.getLogger("ogcserve.cache")
T = TypeVar("T")


class CacheBackend(Protocol):
    """Where cached bytes live."""

    name: str

    def get(self, space: str, key: str) -> bytes | None:
        """The entry, or None."""
        ...

    def set(self, space: str, key: str, value: bytes) -> None:
        """Store an entry (replacing any)."""
        ...

    def delete(self, space: str, key: str) -> None:
        """Remove one entry."""
        ...

    def drop(self, space: str) -> None:
        """Remove every entry of one space."""
        ...

    def drop_tree(self, prefix: str) -> None:
        """Remove the space `prefix` and every space below it (`prefix/...`)."""
        ...

    def lock(self, name: str, wait: float) -> AbstractContextManager[bool]:
        """Hold the lock `name` for every process sharing the store (a metatile being drawn),
        waiting at most `wait` seconds; gives whether it was taken (the caller goes on either
        way: a lock only saves work)."""
        ...


class Guarded:
    """A backend whose failures (Redis down, disk full) are logged once and skipped.

    While the store fails, requests are answered uncached: reads miss, writes are dropped. After
    a failure the store is left alone for `retry_after` seconds (no request waits on a dead
    Redis), then tried again; its recovery is logged. `metrics` counts hits, misses and
    failures.
    """

    def __init__(
        self, inner: CacheBackend, retry_after: float = 5.0, metrics: Metrics | None = None
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._metrics = metrics
        self._retry_after = retry_after
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        """Whether the last call succeeded."""
        return self._failed_at is None

    def _call(self, what: str, fn: Callable[[], T], default: T) -> T:
        failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < self._retry_after:
            if self._metrics is not None:
                self._metrics.cache_error(self.name)
            return default
        try:
            result = fn()
        except Exception as error:
            if self._metrics is not None:
                self._metrics.cache_error(self.name)
            with self._lock:
                first = self._failed_at is None
                self._failed_at = time.monotonic()
            if first:
                log.warning(
                    "the %s cache fails (%s: %s); answering uncached until it works again",
                    self.name,
                    what,
                    error,
                )
            return default
        if failed_at is not None:
            with self._lock:
                self._failed_at = None
            log.warning("the %s cache works again", self.name)
        return result

    def get(self, space: str, key: str) -> bytes | None:
        """The entry, or None (also when the store fails)."""
        found = self._call("get", lambda: self.inner.get(space, key), None)
        if self._metrics is not None:
            self._metrics.cache_lookup(self.name, found is not None)
        return found

    def reader(self, space: str, key: str) -> Callable[[], bytes | None] | None:
        """A direct read of one entry of a local store (memory, disk; None for another), made
        once and called for every tile hit at the ASGI edge (services/tiles/edge.py). It is
        neither guarded nor counted: the caller goes to the pipeline while the store is not
        `healthy` or when the read raises, and counts what it finds (`found`)."""
        make: Callable[[str, str], Callable[[], bytes | None]] | None = getattr(
            self.inner, "reader", None
        )
        return None if make is None else make(space, key)

    def found(self) -> None:
        """Count a hit read through `reader`."""
        if self._metrics is not None:
            self._metrics.cache_lookup(self.name, True)

    def set(self, space: str, key: str, value: bytes) -> None:
        """Store, unless the store fails."""
        self._call("set", lambda: self.inner.set(space, key, value), None)

    def delete(self, space: str, key: str) -> None:
        """Remove one entry, if the store answers."""
        self._call("delete", lambda: self.inner.delete(space, key), None)

    def drop(self, space: str) -> None:
        """Remove one space, if the store answers."""
        self._call("drop", lambda: self.inner.drop(space), None)

    def drop_tree(self, prefix: str) -> None:
        """Remove a tree of spaces, if the store answers."""
        self._call("drop", lambda: self.inner.drop_tree(prefix), None)

    @contextlib.contextmanager
    def lock(self, name: str, wait: float) -> Iterator[bool]:
        """The store's lock; none (False) while the store fails."""
        held = self._call("lock", lambda: self._enter(name, wait), None)
        if held is None:
            yield False
            return
        manager, taken = held
        try:
            yield taken
        finally:
            self._call("unlock", lambda: manager.__exit__(None, None, None), None)

    def _enter(self, name: str, wait: float) -> tuple[AbstractContextManager[bool], bool]:
        manager = self.inner.lock(name, wait)
        return manager, manager.__enter__()


def open_backend(settings: Settings, metrics: Metrics | None = None) -> Guarded:
    """The backend `settings.cache_backend` names, guarded (and counted in `metrics`)."""
    kind = settings.cache_backend
    inner: CacheBackend
    if kind == "disk":
        from .disk import DiskBackend

        inner = DiskBackend(settings.cache_dir)
    elif kind == "redis":
        from .redis_store import RedisBackend

        inner = RedisBackend(settings.cache_redis_url, settings.cache_redis_prefix)
    else:
        from .memory import MemoryBackend

        inner = MemoryBackend(settings.cache_memory_bytes)
    return Guarded(inner, settings.cache_retry_after, metrics)

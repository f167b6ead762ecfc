"""Priority-ordered registrations shared by request filters, access controls and caches.

Lower priority runs first; equal priorities run the most recently registered first, as QGIS
Server's QMultiMap does (reference/qgis_server_plugins.md §3.1, tested in tests/plugins).
Calls into plugin code go through `Registration.call`, so that an exception is tagged with the
plugin that raised it, and so that each return from plugin code is a point where the request's
work may be stopped (`deadline.py`): a hook that slept past the time budget gets its request
the 503 budget error rather than an answer as late as the hook made it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ogcserve.context import current_context
from ogcserve.errors import ServiceError
from ogcserve.http.response import ClientDisconnectedError

T = TypeVar("T")
_clock = time.perf_counter


class PluginError(Exception):
    """A plugin raised something other than a ServiceError; rendered as a 500 without internals."""

    def __init__(self, plugin: str, hook: str) -> None:
        super().__init__(f"plugin {plugin!r} failed in {hook}")
        self.plugin = plugin
        self.hook = hook


@dataclass(frozen=True, slots=True)
class Registration(Generic[T]):
    """One registered object with its priority and the plugin that registered it."""

    item: T
    priority: int
    owner: str
    seq: int = field(compare=False)

    def call(self, method: str, *args: Any) -> Any:
        """Call `item.method(*args)`; a non-OGC exception becomes a PluginError naming the owner.

        Within a request, the call is counted and timed in the request's tally (the metrics)."""
        ctx = current_context.get()
        tally = None if ctx is None else ctx.tally
        started = _clock() if tally is not None else 0.0
        failed = 0
        try:
            result = getattr(self.item, method)(*args)
        except (ServiceError, ClientDisconnectedError):
            raise  # an OGC refusal is an answer, not a failure of the plugin
        except (Exception, SystemExit) as error:  # sys.exit() in a hook must not end a worker
            failed = 1
            raise PluginError(self.owner, f"{type(self.item).__name__}.{method}") from error
        finally:
            if tally is not None:  # Tally.plugin_call, inlined: plugins are called a lot
                spent = _clock() - started
                key = (self.owner, type(self.item), method)
                entry = tally.plugins.get(key)
                if entry is None:
                    tally.plugins[key] = [1, failed, spent]
                else:
                    entry[0] += 1
                    entry[1] += failed
                    entry[2] += spent
        if ctx is not None:
            ctx.deadline.check()
        return result


class PriorityList(Generic[T]):
    """Registrations kept sorted by (priority, newest first); safe to read while others add."""

    def __init__(self) -> None:
        self._ordered: tuple[Registration[T], ...] = ()
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def add(self, item: T, priority: int = 0, owner: str = "ogcserve") -> None:
        """Register `item` at `priority`."""
        with self._lock:
            entry = Registration(item, priority, owner, next(self._seq))
            self._ordered = tuple(
                sorted((*self._ordered, entry), key=lambda r: (r.priority, -r.seq))
            )

    def remove(self, item: T) -> None:
        """Unregister every registration of `item`."""
        with self._lock:
            self._ordered = tuple(r for r in self._ordered if r.item is not item)

    def remove_owner(self, owner: str) -> None:
        """Unregister everything a plugin registered (it failed to start)."""
        with self._lock:
            self._ordered = tuple(r for r in self._ordered if r.owner != owner)

    def replace(self, by_priority: dict[int, list[T]], owner: str = "ogcserve") -> None:
        """Replace everything (QGIS `setFilters`): list order within a priority is call order."""
        with self._lock:
            entries = []
            for priority in sorted(by_priority):
                for item in reversed(by_priority[priority]):
                    entries.append(Registration(item, priority, owner, next(self._seq)))
            self._ordered = tuple(sorted(entries, key=lambda r: (r.priority, -r.seq)))

    def by_priority(self) -> dict[int, list[T]]:
        """Priority -> items in call order (QGIS `filters()`)."""
        result: dict[int, list[T]] = {}
        for r in self._ordered:
            result.setdefault(r.priority, []).append(r.item)
        return result

    def __iter__(self) -> Iterator[Registration[T]]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def __bool__(self) -> bool:
        return bool(self._ordered)

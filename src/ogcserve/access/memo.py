"""Access decisions kept across requests, where that is sound: `DecisionMemo`.

A caller's fingerprint (ADR 0002) asks every access-control filter about every layer of the
project; a tile hit would spend most of its time there. The decisions may be kept from one
request to the next only when nothing but known inputs can change them, so the memo is used
only when **every** registered filter declares `decisions_follow_cache_key` (its answers
depend on the layer and its own `cache_key()`, nothing else: the contract QGIS states for
`cacheKey`, but here a promise each filter makes, not an assumption). The project's own policy
makes it; a filter that does not (the default, and every QGIS plugin through the facade) keeps
every request asking, as before, so a filter whose answer depends on a header its key leaves
out cannot be remembered wrongly.

The key of an entry is the project file's version, the registrations and every filter's
`cache_key()` of this request (asked each time, it is one call per filter); the entry is the
fingerprint and every decision taken to compute it. A project reload or a change of the
registered filters makes every entry unreachable; the memo holds at most `max_entries`.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

Decisions = dict[tuple[str, str], Any]


class DecisionMemo:
    """Fingerprints and decisions by (project version, filters, their cache keys)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[str, Decisions]] = {}
        self._owner: object = None  # the registrations the entries were taken under
        self._lock = threading.Lock()

    def get(self, owner: object, key: Hashable) -> tuple[str, Decisions] | None:
        """The fingerprint and decisions kept for `key` under the registrations `owner`."""
        if owner is not self._owner:
            return None
        return self._entries.get(key)

    def put(self, owner: object, key: Hashable, fingerprint: str, decisions: Decisions) -> None:
        """Keep an entry (every older one goes when the registrations changed or it is full)."""
        with self._lock:
            if owner is not self._owner or len(self._entries) >= self.max_entries:
                self._entries = {}
                self._owner = owner
            self._entries[key] = (fingerprint, dict(decisions))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget everything (a project was reloaded)."""
        with self._lock:
            self._entries = {}

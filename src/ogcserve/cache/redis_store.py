"""The Redis backend: one hash per space, shared by every worker and host.

A space is the hash `<prefix><space>` and its entries are the hash's fields, so dropping a tile
(every caller's copy) is one DEL. A tree of spaces is found with SCAN. Redis evicts whole hashes
under its own `maxmemory-policy`; entries carry no TTL (a project reload or an edit drops them).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis

# Characters SCAN's MATCH treats as patterns.
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})
# Deletes the lock only if it is still ours (it may have expired and been taken since).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
_POLL = 0.005
_LOCK_LIFE_MS = 60_000  # a holder that died lets go after this long


class RedisBackend:
    """Entries in Redis at `url` (redis://host:port/db); short timeouts keep a dead Redis from
    holding requests up."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "ogcserve:", timeout: float = 0.5) -> None:
        self.prefix = prefix
        self.client: Any = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )

    def get(self, space: str, key: str) -> bytes | None:
        """The field `key` of the space's hash."""
        value = self.client.hget(self.prefix + space, key)
        return None if value is None else bytes(value)

    def set(self, space: str, key: str, value: bytes) -> None:
        """Set the field."""
        self.client.hset(self.prefix + space, key, value)

    def delete(self, space: str, key: str) -> None:
        """Remove the field."""
        self.client.hdel(self.prefix + space, key)

    def drop(self, space: str) -> None:
        """Delete the space's hash."""
        self.client.unlink(self.prefix + space)

    @contextlib.contextmanager
    def lock(self, name: str, wait: float) -> Iterator[bool]:
        """SET NX with an expiry, tried until `wait` runs out: one lock for every worker and
        host on this Redis."""
        key, token = f"{self.prefix}lock:{name}", uuid.uuid4().hex
        give_up = time.monotonic() + wait
        taken = bool(self.client.set(key, token, nx=True, px=_LOCK_LIFE_MS))
        while not taken and time.monotonic() < give_up:
            time.sleep(_POLL)
            taken = bool(self.client.set(key, token, nx=True, px=_LOCK_LIFE_MS))
        try:
            yield taken
        finally:
            if taken:
                self.client.eval(_RELEASE, 1, key, token)

    def drop_tree(self, prefix: str) -> None:
        """Delete the hash of `prefix` and of every space below it."""
        base = (self.prefix + prefix.rstrip("/")).translate(_GLOB)
        self.client.unlink(self.prefix + prefix.rstrip("/"))
        batch: list[bytes] = []
        for name in self.client.scan_iter(match=base + "/*", count=1000):
            batch.append(name)
            if len(batch) >= 1000:
                self.client.unlink(*batch)
                batch.clear()
        if batch:
            self.client.unlink(*batch)

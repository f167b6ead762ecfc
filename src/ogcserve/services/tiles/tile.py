"""An encoded tile, its ETag, and the bytes a cache keeps of it."""

from __future__ import annotations

import hashlib

ETAG_SIZE = 34  # a quoted 32-digit hex digest


class Tile:
    """An encoded tile and its validator."""

    def __init__(
        self, body: bytes, content_type: str, *, cached: bool, max_age: int, etag: str = ""
    ) -> None:
        self.body = body
        self.content_type = content_type
        self.cached = cached
        self.max_age = max_age  # Cache-Control: the layer's `tiles: max_age`, or the setting
        self.etag = etag or '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'

    def entry(self) -> bytes:
        """What the cache keeps: the ETag (34 bytes, quoted) then the body, so that a hit
        hashes nothing."""
        return self.etag.encode("ascii") + self.body

    @classmethod
    def from_entry(cls, data: bytes, content_type: str, max_age: int) -> Tile | None:
        """The tile `entry` made (None if the bytes are not one)."""
        stored = stored_etag(data)
        if stored is None:
            return None
        etag = stored.decode("ascii", "replace")
        return cls(data[ETAG_SIZE:], content_type, cached=True, max_age=max_age, etag=etag)


def stored_etag(data: bytes) -> bytes | None:
    """The quoted ETag an `entry` begins with (None if the bytes are not an entry)."""
    stored = data[:ETAG_SIZE]
    if len(stored) < ETAG_SIZE or stored[:1] != b'"' or stored[-1:] != b'"':
        return None
    return stored

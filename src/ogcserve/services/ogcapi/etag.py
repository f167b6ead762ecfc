"""The entity tag of one item, as the caller sees it (OGC API - Features Part 4, optimistic
locking): a strong tag over the feature's id, geometry and visible properties. Reading an item
and checking an `If-Match` on a write both compute it here, from the same view of the feature,
so a write that would overwrite a change made since the caller's read is refused (412).

The tag covers only what the caller may see: a change to an attribute hidden from them does not
make their copy stale (they could not have read it, and a write never touches it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import shapely

from ogcserve.features import Feature


def item_etag(feature: Feature, properties: dict[str, Any] | None = None) -> str:
    """The quoted strong ETag of `feature` (with `properties`, when given, instead of its own:
    the caller's visible subset)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(feature.id, default=str).encode())
    geometry = feature.geometry
    digest.update(b"\0" if geometry is None else shapely.to_wkb(geometry, hex=False))
    shown = feature.properties if properties is None else properties
    digest.update(json.dumps(shown, sort_keys=True, default=str).encode())
    return f'"{digest.hexdigest()}"'

"""The item ETag: equal for equal views, different when anything the caller sees changes."""

from __future__ import annotations

import shapely

from ogcserve.features import Feature
from ogcserve.services.ogcapi.etag import item_etag


def test_the_tag_is_quoted_and_stable() -> None:
    feature = Feature(1, shapely.Point(1, 2), {"name": "a", "n": 1})
    tag = item_etag(feature)
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 34
    assert item_etag(Feature(1, shapely.Point(1, 2), {"n": 1, "name": "a"})) == tag


def test_the_tag_changes_with_what_the_caller_sees() -> None:
    base = Feature(1, shapely.Point(1, 2), {"name": "a", "secret": "x"})
    tag = item_etag(base, {"name": "a"})
    assert item_etag(Feature(2, base.geometry, base.properties), {"name": "a"}) != tag
    assert item_etag(Feature(1, shapely.Point(1, 3), base.properties), {"name": "a"}) != tag
    assert item_etag(base, {"name": "b"}) != tag
    # a hidden attribute is not part of the caller's tag
    hidden_changed = Feature(1, base.geometry, {"name": "a", "secret": "y"})
    assert item_etag(hidden_changed, {"name": "a"}) == tag
    assert item_etag(Feature(1, None, {})) != item_etag(Feature(1, shapely.Point(0, 0), {}))

"""Bounding boxes: parsing, WMS axis order, transformation between CRSs.

Inside the server a bbox is always (minx, miny, maxx, maxy) in x/y (east/north) order; only
the WMS 1.3.0 wire format follows the CRS's own axis order.
"""

from __future__ import annotations

import math
from functools import lru_cache

from ogcserve.geo.crs import crs_object, is_north_first, transformer

BBox = tuple[float, float, float, float]


def parse_bbox(text: str) -> BBox:
    """Four finite numbers with min < max on both axes; ValueError otherwise."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"a bounding box has 4 numbers, not {len(parts)}")
    values = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) for v in values):
        raise ValueError("a bounding box has finite numbers only")
    a, b, c, d = values
    if not (a < c and b < d):
        raise ValueError("the minimum must be less than the maximum on both axes")
    return a, b, c, d


def swaps_axes(crs: str, version: str) -> bool:
    """WMS 1.3.0 §6.7.3.3: BBOX follows the CRS's axis order (EPSG:4326 is lat,lon; CRS:84
    is lon,lat); WMS 1.1.1 §6.5.6: SRS coordinates are always x,y."""
    return version == "1.3.0" and is_north_first(crs)


def to_xy(bbox: BBox, crs: str, version: str) -> BBox:
    """A BBOX as sent on the wire -> x/y order."""
    return (bbox[1], bbox[0], bbox[3], bbox[2]) if swaps_axes(crs, version) else bbox


def from_xy(bbox: BBox, crs: str, version: str) -> BBox:
    """x/y order -> the wire order of `version` (the swap is its own inverse)."""
    return to_xy(bbox, crs, version)


@lru_cache(maxsize=4096)
def transform_bbox(bbox: BBox, source: str, target: str) -> BBox:
    """The x/y bbox enclosing `bbox` once transformed (edges densified).

    The part outside the target CRS's area of use (the poles in Web Mercator) is cut away
    first, rather than giving huge or infinite coordinates; ValueError if nothing is left.
    """
    if source == target:
        return bbox
    area = crs_object(target).area_of_use
    if area is not None:
        lonlat = _transform(bbox, source, "CRS:84")
        w, s, e, n = area.bounds
        if w > e:  # the area crosses the antimeridian (EPSG:4267 spans 167.65°E to 47.74°W)
            w, e = -180.0, 180.0
        bbox = (max(lonlat[0], w), max(lonlat[1], s), min(lonlat[2], e), min(lonlat[3], n))
        if bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise ValueError(f"the bbox lies outside the area of use of {target}")
        source = "CRS:84"
    return _transform(bbox, source, target)


def _transform(bbox: BBox, source: str, target: str) -> BBox:
    if source == target:
        return bbox
    result = transformer(source, target).transform_bounds(*bbox, densify_pts=21)
    if not all(math.isfinite(v) for v in result):
        raise ValueError(f"the bbox cannot be expressed in {target}")
    return (float(result[0]), float(result[1]), float(result[2]), float(result[3]))


def union(boxes: list[BBox]) -> BBox | None:
    """The smallest bbox holding every box (None for none)."""
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))

"""Bounding boxes: parsing, WMS axis order, transformation between CRSs.

Inside the server a bbox is always (minx, miny, maxx, maxy) in x/y (east/north) order; only
the WMS 1.3.0 wire format follows the CRS's own axis order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj.exceptions import ProjError

from ogcserve.geo.crs import crs_object, is_north_first, transformer

BBox = tuple[float, float, float, float]


def parse_bbox(text: str) -> BBox:
    """Four finite numbers with min < max on both axes; ValueError otherwise."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"a bounding box has 4 numbers, not {len(parts)}")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError("a bounding box has 4 numbers, separated by commas") from None
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
    """The x/y bbox enclosing `bbox` once transformed (edges densified), for documents.

    The part of `bbox` outside the source CRS's valid area is cut away first (a BBOX of ±1e15
    in Web Mercator is the whole world, not a number for PROJ to chew on), then the part
    outside the target CRS's area of use (the poles in Web Mercator), rather than giving huge
    or infinite coordinates; ValueError if nothing is left.
    """
    return _clipped_transform(bbox, source, target, strict=True)


@lru_cache(maxsize=4096)
def read_window(bbox: BBox, source: str, target: str) -> BBox:
    """`transform_bbox` for reading data: the target side is cut to its valid area, which
    reaches beyond its area of use (a map in UTM zone 32 still shows Berlin)."""
    return _clipped_transform(bbox, source, target, strict=False)


def _clipped_transform(bbox: BBox, source: str, target: str, *, strict: bool) -> BBox:
    if source == target:
        return bbox
    src_area, tgt_area = valid_area(source), valid_area(target)
    if src_area is not None:
        bbox = _intersect(bbox, src_area.xy, source)
    lonlat = _transform(bbox, source, "CRS:84")
    limit = area_of_use(target) if strict else tgt_area.lonlat if tgt_area else None
    if limit is not None:
        lonlat = _intersect(lonlat, limit, target)
    return _transform(lonlat, "CRS:84", target)


@lru_cache(maxsize=256)
def area_of_use(crs: str) -> BBox | None:
    """The CRS's declared area of use in longitude/latitude (antimeridian crossings widened)."""
    area = crs_object(crs).area_of_use
    if area is None:
        return None
    w, s, e, n = area.bounds
    if w > e:  # the area crosses the antimeridian (EPSG:4267 spans 167.65°E to 47.74°W)
        w, e = -180.0, 180.0
    return w, s, e, n


@dataclass(frozen=True, slots=True)
class ValidArea:
    """Where a CRS's coordinates mean something: in longitude/latitude and in its own x/y."""

    lonlat: BBox
    xy: BBox


# How far beyond its area of use a projected CRS is still drawn: maps cross zone and national
# borders (Berlin lies 1.4° east of UTM zone 32's area of use, yet is drawn in EPSG:25832).
_MARGIN_DEGREES = 15.0
_WORLD: BBox = (-180.0, -90.0, 180.0, 90.0)


@lru_cache(maxsize=256)
def valid_area(crs: str) -> ValidArea | None:
    """The CRS's area of use grown by a margin, where its projection is finite and invertible
    (None: the CRS declares no area of use, nothing is clipped).

    Geographic CRSs are valid everywhere. For projected ones, the area is sampled on a grid and
    the points that do not survive the round trip (the poles in Mercator, the far side of a
    transverse Mercator) are left out, so that the bounds stay finite.
    """
    if crs_object(crs).is_geographic:
        return ValidArea(_WORLD, _WORLD)
    area = area_of_use(crs)
    if area is None:
        return None
    w, s, e, n = area
    grown = (
        max(w - _MARGIN_DEGREES, -180.0),
        max(s - _MARGIN_DEGREES, -90.0),
        min(e + _MARGIN_DEGREES, 180.0),
        min(n + _MARGIN_DEGREES, 90.0),
    )
    # Sample the grown area and the area of use itself (its edges always count).
    lon = np.concatenate([np.linspace(grown[0], grown[2], 25), np.linspace(w, e, 25)])
    lat = np.concatenate([np.linspace(grown[1], grown[3], 25), np.linspace(s, n, 25)])
    lons, lats = (a.ravel() for a in np.meshgrid(lon, lat))
    forward = transformer("CRS:84", crs)
    with np.errstate(all="ignore"):
        x, y = forward.transform(lons, lats, errcheck=False)
        back_lon, back_lat = transformer(crs, "CRS:84").transform(x, y, errcheck=False)
        dlon = (np.asarray(back_lon) - lons + 180.0) % 360.0 - 180.0
        ok = (
            np.isfinite(x)
            & np.isfinite(y)
            & (np.abs(dlon) < 1e-6)
            & (np.abs(np.asarray(back_lat) - lats) < 1e-6)
        )
    if not ok.any():
        return None
    x, y, lons, lats = np.asarray(x)[ok], np.asarray(y)[ok], lons[ok], lats[ok]
    return ValidArea(
        (float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max())),
        (float(x.min()), float(y.min()), float(x.max()), float(y.max())),
    )


def clip_to_valid(bbox: BBox, crs: str) -> BBox | None:
    """The part of `bbox` (x/y in `crs`) inside the CRS's valid area; None if nothing."""
    area = valid_area(crs)
    if area is None:
        return bbox
    try:
        return _intersect(bbox, area.xy, crs)
    except ValueError:
        return None


def _intersect(bbox: BBox, area: BBox, crs: str) -> BBox:
    out = (
        max(bbox[0], area[0]),
        max(bbox[1], area[1]),
        min(bbox[2], area[2]),
        min(bbox[3], area[3]),
    )
    if out[0] >= out[2] or out[1] >= out[3]:
        raise ValueError(f"the bbox lies outside the area of use of {crs}")
    return out


def _transform(bbox: BBox, source: str, target: str) -> BBox:
    if source == target:
        return bbox
    try:
        result = transformer(source, target).transform_bounds(*bbox, densify_pts=21)
    except ProjError:
        # A transformation PROJ made but cannot run: EPSG:9006 to CRS:84 answers inf once,
        # then "NULL transformation not allowed" (found by the kvp fuzzer through WCS).
        raise ValueError(f"the bbox cannot be expressed in {target}") from None
    if not all(math.isfinite(v) for v in result):
        raise ValueError(f"the bbox cannot be expressed in {target}")
    return (float(result[0]), float(result[1]), float(result[2]), float(result[3]))


def union(boxes: list[BBox]) -> BBox | None:
    """The smallest bbox holding every box (None for none)."""
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )

"""Tile matrix sets a project defines: one per CRS of its `crs` list that no well-known set is in.

A set is named by its CRS code (`EPSG:2154`, as QGIS Server and GeoWebCache name theirs). Its
level 0 is one 256 x 256 tile over the CRS's area of use (from PROJ, in the CRS), the top-left
corner at the area's west and north edges; each level halves the cell size, down to
`MAX_LEVEL`, with as many tiles across and down as cover the area. Scales follow the OGC
convention (0.28 mm pixels; a degree is 1/360 of the WGS 84 equator). Coordinates are kept x/y
(east, north) here as everywhere; `north_first` says which documents must write them the other
way round (EPSG:4326 is latitude first).
"""

from __future__ import annotations

from ogcserve.geo import (
    OGC_PIXEL_SIZE_M,
    UnknownCRSError,
    is_north_first,
    metres_per_unit,
    normalize_crs,
    transform_bbox,
)
from ogcserve.geo.bbox import area_of_use

from .matrices import TILE_SIZE, TileMatrixSet

MAX_LEVEL = 20
# What the well-known sets already offer (WebMercatorQuad, WorldCRS84Quad).
_WELL_KNOWN = {"EPSG:3857", "CRS:84"}


def crs_set(code: str) -> TileMatrixSet | None:
    """The set of one CRS, or None if PROJ gives it no area of use (nothing to tile)."""
    try:
        crs = normalize_crs(code)
        area = area_of_use(crs)
        if area is None or crs in _WELL_KNOWN:
            return None
        minx, miny, maxx, maxy = transform_bbox(area, "CRS:84", crs)
    except (UnknownCRSError, ValueError):
        return None
    span = max(maxx - minx, maxy - miny)
    cell0 = span / TILE_SIZE
    authority, _, number = crs.partition(":")
    return TileMatrixSet(
        id=crs,
        title=f"{crs} over its area of use",
        crs=crs,
        crs_uri=f"http://www.opengis.net/def/crs/{authority}/0/{number}",
        crs_urn=f"urn:ogc:def:crs:{authority}::{number}",
        well_known_scale_set="",
        uri="",
        scale0=cell0 * metres_per_unit(crs) / OGC_PIXEL_SIZE_M,
        cell0=cell0,
        top_left=(minx, maxy),
        width0=1,
        height0=1,
        max_level=MAX_LEVEL,
        bbox=(minx, miny, maxx, maxy),
        north_first=is_north_first(crs),
    )


def project_sets(codes: tuple[str, ...]) -> tuple[TileMatrixSet, ...]:
    """The sets of a project's CRS list, in its order, each once."""
    sets: dict[str, TileMatrixSet] = {}
    for code in codes:
        found = crs_set(code)
        if found is not None:
            sets.setdefault(found.id, found)
    return tuple(sets.values())

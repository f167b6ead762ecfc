"""CRS codes as WMS clients send them, their axis order, and cached pyproj objects.

pyproj `CRS` and `Transformer` objects are thread-safe (pyproj >= 3.1) and costly to build
(milliseconds each), so every one is built once per process and shared.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

# One degree along the equator of the WGS 84 ellipsoid, in metres: the OGC convention for the
# scale of geographic CRSs (WMS 1.3.0 §7.2.4.6.9, as QGIS, GeoServer and MapServer use it).
METRES_PER_DEGREE = 6378137.0 * 2 * math.pi / 360

_URN = re.compile(r"^urn:ogc:def:crs:(?P<auth>[a-z]+):[0-9.]*:(?P<code>\w+)$", re.IGNORECASE)
_HTTP = re.compile(
    r"^https?://www\.opengis\.net/def/crs/(?P<auth>\w+)/[0-9.]+/(?P<code>\w+)$", re.IGNORECASE
)


class UnknownCRSError(ValueError):
    """A CRS code that is malformed or that PROJ does not know."""


def normalize_crs(code: str) -> str:
    """`EPSG:4326`, `CRS:84`, ... from the spellings clients use (URN, URI, lower case)."""
    text = code.strip()
    found = _URN.match(text) or _HTTP.match(text)
    auth, number = (found["auth"], found["code"]) if found else (text.partition(":")[::2])
    auth, number = auth.upper(), number.upper()
    if (auth, number) in (("OGC", "CRS84"), ("CRS", "84")):
        return "CRS:84"
    if auth != "EPSG" or not (number.isascii() and number.isdigit()):  # not "4³26"
        raise UnknownCRSError(f"{code!r} is not an EPSG code nor CRS:84")
    return f"EPSG:{int(number)}"


def proj_code(code: str) -> str:
    """The spelling PROJ (and GDAL, and the renderer) knows: CRS:84 is OGC:CRS84 there."""
    return "OGC:CRS84" if code == "CRS:84" else code


@lru_cache(maxsize=256)
def crs_object(code: str) -> CRS:
    """The pyproj CRS for a normalized code (CRS:84 is OGC:CRS84, lon/lat)."""
    try:
        return CRS.from_user_input(proj_code(code))
    except CRSError:
        raise UnknownCRSError(f"{code!r} is not a known CRS") from None


@lru_cache(maxsize=256)
def is_north_first(code: str) -> bool:
    """Whether the CRS's first axis points north or south (latitude or northing first).

    That is EPSG:4326 and most geographic EPSG CRSs, and a few projected ones (EPSG:3035,
    EPSG:2056 is not); CRS:84 is lon,lat by definition.
    """
    axes = crs_object(code).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


@lru_cache(maxsize=256)
def metres_per_unit(code: str) -> float:
    """Length of one unit of the CRS's first axis on the ground, in metres."""
    crs = crs_object(code)
    if crs.is_geographic:
        return METRES_PER_DEGREE
    axes = crs.axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


@lru_cache(maxsize=1024)
def transformer(source: str, target: str) -> Transformer:
    """An x/y (always_xy) transformer between two normalized codes; UnknownCRSError when PROJ
    knows no way between them (EPSG:3173 has none to anything on another datum)."""
    try:
        return Transformer.from_crs(crs_object(source), crs_object(target), always_xy=True)
    except ProjError:
        raise UnknownCRSError(f"No transformation from {source} to {target}") from None

"""CRS names as WFS clients write them, and the axis order each form implies: the one place
where ogcserve decides how coordinates in a request are read and in a response are written.

The rule is GeoServer's ("Axis ordering" in its WFS manual), which QGIS desktop and GDAL
expect:

- WFS 1.0.0 is always x/y (easting, northing / longitude, latitude), whatever the srsName says
  and whatever GML is used. QGIS desktop 3.22 relies on it: it posts the Transactions of a layer
  opened in WFS 2.0.0 as WFS 1.0.0, with GML 2 `gml:coordinates` in x,y under the
  `srsName="urn:ogc:def:crs:EPSG::4326"` it read from the capabilities.
- From WFS 1.1.0 on, a CRS written as an OGC URN (`urn:ogc:def:crs:EPSG::4326`,
  `urn:x-ogc:def:crs:EPSG:4326`) or an OGC http URI (`http://www.opengis.net/def/crs/EPSG/0/4326`)
  has the axis order of its authority's definition (EPSG:4326 is latitude, longitude); the short
  `EPSG:4326` form and `http://www.opengis.net/gml/srs/epsg.xml#4326` stay x/y, and CRS84 in any
  spelling is longitude, latitude. The GML version (2, 3.1.1, 3.2) does not change it: QGIS
  posts a 1.1.0 layer's Transactions as 1.1.0 with GML 3 latitude, longitude under the URN
  (newer QGIS also 2.0.0 layers', in GML 2 for servers that prefer it), GDAL likewise.

The WFS version is the request's (the `version` attribute of an XML request, else VERSION).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ogcserve.errors import InvalidCRSError
from ogcserve.geo import UnknownCRSError, transformer

# urn:ogc:def:crs:EPSG::4326, urn:ogc:def:crs:EPSG:9.9:4326, urn:x-ogc:def:crs:EPSG:4326,
# urn:ogc:def:crs:OGC:1.3:CRS84
_URN = re.compile(r"^urn:(?:x-)?ogc:def:crs:([A-Za-z]+):(?:[^:]*:)?(\w+)$", re.IGNORECASE)
_URI = re.compile(r"^https?://www\.opengis\.net/def/crs/([A-Za-z]+)/[^/]+/(\w+)$", re.IGNORECASE)
_XML = re.compile(r"^https?://www\.opengis\.net/gml/srs/epsg\.xml#(\d+)$", re.IGNORECASE)
_SHORT = re.compile(r"^([A-Za-z]+):(\w+)$")


@dataclass(frozen=True, slots=True)
class SrsName:
    """A parsed srsName: the authority code, whether coordinates are y/x, the text to echo."""

    code: str  # "EPSG:4326"
    swap: bool  # coordinates are written northing first (in the request's WFS version)
    text: str  # as the client wrote it, echoed in srsName attributes (in 1.0.0 the code)


def parse_srs(text: str, version: str, locator: str = "SRSNAME") -> SrsName:
    """Read any of the usual spellings, with the axis order it has in WFS `version`;
    InvalidCRS when it names nothing pyproj knows."""
    value = text.strip()
    uri_form = False
    if found := _URN.match(value) or _URI.match(value):
        authority, number = found[1].upper(), found[2]
        uri_form = True
    elif found := _XML.match(value):
        authority, number = "EPSG", found[1]
    elif found := _SHORT.match(value):
        authority, number = found[1].upper(), found[2]
    else:
        raise InvalidCRSError(f"Unknown CRS {text!r}", locator=locator)
    if authority == "OGC" or (authority == "CRS" and number == "84"):
        authority, number, uri_form = "OGC", "CRS84", False
    code = f"{authority}:{number}"
    try:
        crs = _crs(code)
        # Every layer reaches WGS 84: a CRS that does not (EPSG:3173) can serve none of them.
        transformer(code, "CRS:84")
    except (CRSError, UnknownCRSError):
        raise InvalidCRSError(f"Unknown CRS {text!r}", locator=locator) from None
    if version == "1.0.0" and uri_form:
        # Coordinates are x/y here: echoing the URN would tell GML readers (GDAL's, QGIS's)
        # to read them in the authority's order.
        return SrsName(code, False, code)
    return SrsName(code, uri_form and _north_first(crs), value)


def urn(code: str) -> str:
    """The OGC URN of an authority code (WFS 1.1/2.0 DefaultCRS / srsName)."""
    authority, _, number = code.partition(":")
    if authority == "OGC":
        return "urn:ogc:def:crs:OGC:1.3:CRS84"
    return f"urn:ogc:def:crs:{authority}::{number}"


def srs_for(code: str, version: str) -> SrsName:
    """The default srsName of a feature type in `version` (the URN from 1.1 on)."""
    return parse_srs(code if version == "1.0.0" else urn(code), version)


_WGS84 = {"EPSG:4326", "OGC:CRS84"}


@lru_cache(maxsize=64)
def _crs(code: str) -> CRS:
    return CRS.from_user_input(code)


def _north_first(crs: CRS) -> bool:
    axes = crs.axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def _transformer(source: str, target: str) -> Transformer:
    return transformer(source, target)


def is_geographic(code: str) -> bool:
    """Whether the CRS is in degrees (distances in a filter are then degrees too)."""
    return bool(_crs(code).is_geographic)


def coordinate_function(source: str, target: SrsName) -> Any | None:
    """A function for `shapely.transform` from `source` x/y to `target` in its axis order."""
    # EPSG:4326 and CRS84 are the same datum and units; only the axis order differs, which
    # `swap` handles (GEOS' x/y is already CRS84 order).
    same = source == target.code or {source, target.code} <= _WGS84
    if same and not target.swap:
        return None
    transformer = None if same else _transformer(source, target.code)

    def convert(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if transformer is not None:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            coords = np.column_stack((x, y))
        return coords[:, ::-1] if target.swap else coords

    return convert


def to_xy(geometries: Any, given: SrsName, target: str) -> Any:
    """Geometries read from a request (in `given`, its axis order) as x/y in `target`."""
    if given.swap:
        geometries = shapely.transform(geometries, lambda c: c[:, ::-1])
    if given.code != target:
        transformer = _transformer(given.code, target)
        geometries = shapely.transform(
            geometries, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))
        )
    return geometries


def bbox_to_xy(
    bbox: tuple[float, float, float, float], given: SrsName
) -> tuple[float, float, float, float]:
    """A bbox as written in `given`'s axis order, as minx, miny, maxx, maxy."""
    a, b, c, d = bbox
    return (b, a, d, c) if given.swap else (a, b, c, d)

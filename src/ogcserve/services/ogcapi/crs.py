"""CRSs by reference (OGC API - Features Part 2): the URIs collections list, and the axis
order each one has.

A CRS is named by its OGC URI. CRS84 (`.../OGC/1.3/CRS84`) is longitude, latitude and the
default everywhere (Part 1 §7.15.2, RFC 7946); any other URI has the axis order of its
authority's definition, so `.../EPSG/0/4326` is latitude, longitude (Part 2 §6.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.errors import InvalidCRSError, InvalidParameterValueError
from ogcserve.services.wfs.crs import SrsName, parse_srs

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


def uri(code: str) -> str:
    """The OGC URI of `EPSG:3857`, `OGC:CRS84`, `CRS:84`."""
    authority, _, number = code.partition(":")
    if authority.upper() in ("OGC", "CRS") and number.upper() in ("CRS84", "84"):
        return CRS84
    return f"http://www.opengis.net/def/crs/{authority.upper()}/0/{number}"


def default_srs() -> SrsName:
    """CRS84, longitude first."""
    return SrsName("OGC:CRS84", False, CRS84)


def collection_crs(ctx: RequestContext, layer: Layer) -> list[str]:
    """The CRSs a collection is served in: CRS84 first, EPSG:4326, its storage CRS, then the
    project's `crs:` list (those PROJ knows)."""
    assert ctx.project is not None
    codes = ["OGC:CRS84", "EPSG:4326", ctx.server.access.crs(ctx, layer), *ctx.project.crs]
    out: list[str] = []
    for code in codes:
        try:
            found = uri(parse_srs(code, "2.0.0").code)
        except InvalidCRSError:
            continue
        if found not in out:
            out.append(found)
    return out


def requested_srs(text: str, allowed: list[str], locator: str) -> SrsName:
    """The CRS named by `crs`, `bbox-crs` or `filter-crs`: one of the collection's (400
    otherwise), with its axis order. Short forms (`EPSG:3857`) are read too, x/y."""
    try:
        srs = parse_srs(text.strip(), "2.0.0", locator)
    except InvalidCRSError:
        srs = None
    if srs is None or uri(srs.code) not in allowed:
        raise InvalidParameterValueError(
            f"{locator}={text!r} is not a CRS of this collection (see its 'crs' list)",
            locator=locator,
        )
    if srs.code == "OGC:CRS84":
        return default_srs()
    return SrsName(srs.code, srs.swap, uri(srs.code) if srs.text.startswith("http") else srs.text)

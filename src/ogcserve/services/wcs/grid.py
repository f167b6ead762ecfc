"""The grid a GetCoverage answers on, whatever the version asked it with.

Every version's parser fills a `CoverageAsk`; `plan` turns it into the `CoverageRequest` the
access layer reads. On the coverage's own CRS and resolution the grid is snapped to the
coverage's pixel corners, so the source hands back its pixels unchanged (no half-pixel shift,
no resampling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import calculate_default_transform

from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.errors import InvalidCRSError, InvalidParameterValueError
from ogcserve.geo import UnknownCRSError, read_window

if TYPE_CHECKING:
    from ogcserve.features import BBox

# Snapping tolerance, in pixels: a bound within this of a pixel corner is on it.
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class CoverageAsk:
    """A GetCoverage in version-neutral terms (x/y order, bboxes in `bbox_crs`)."""

    bbox: BBox | None  # None: the whole coverage
    bbox_crs: str  # the CRS `bbox` is in
    crs: str  # the output CRS
    size: tuple[int, int] | None = None  # width, height
    resolution: tuple[float, float] | None = None  # output pixel size, in `crs` units
    scale: tuple[float, float] | None = None  # factors on the native size
    bands: tuple[int, ...] | None = None
    interpolation: str = "nearest"  # a rasterio Resampling name


def check_crs(code: str, locator: str) -> str:
    """`code` if GDAL knows it; InvalidCRS otherwise."""
    try:
        CRS.from_user_input(code)
    except (CRSError, ValueError):  # ValueError: GDAL's int() of a code that is no number
        raise InvalidCRSError(f"Unknown CRS {code!r}", locator=locator) from None
    return code


def plan(ask: CoverageAsk, info: CoverageInfo, max_size: int) -> CoverageRequest:
    """The read that answers `ask`: bounds in the output CRS and a size within `max_size`."""
    bbox = _bbox_in(ask, info)
    same_grid = ask.crs == info.crs and ask.size is None and ask.resolution is None
    if same_grid:
        bbox = _snap(bbox, info)
        width, height = _pixels(bbox, info.resolution)
        if ask.scale is not None:
            width, height = _scaled((width, height), ask.scale)
    elif ask.size is not None:
        width, height = ask.size
    elif ask.resolution is not None:
        width, height = _pixels(bbox, ask.resolution)
    else:
        width, height = _pixels(bbox, _output_resolution(ask.crs, info))
        if ask.scale is not None:
            width, height = _scaled((width, height), ask.scale)
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= max_size:
            raise InvalidParameterValueError(
                f"The {name} of the answer would be {value} pixels; it must be 1 to {max_size}",
                locator=name,
            )
    return CoverageRequest(bbox, ask.crs, width, height, ask.interpolation, ask.bands)


def _bbox_in(ask: CoverageAsk, info: CoverageInfo) -> BBox:
    """The requested area in the output CRS, inside the coverage (InvalidSubsetting else)."""
    extent = info.extent
    if ask.bbox is not None:
        minx, miny, maxx, maxy = ask.bbox
        if minx > maxx or miny > maxy:
            raise InvalidParameterValueError(
                "The lower bound of the area is above its upper bound", locator="subset"
            )
    bbox = ask.bbox if ask.bbox is not None else extent
    if not all(math.isfinite(v) for v in bbox):  # each version's parser refuses nan and inf
        raise InvalidParameterValueError(
            "The requested area's bounds must be finite numbers", locator="subset"
        )
    native = _transform(bbox, ask.bbox_crs if ask.bbox else info.crs, info.crs)
    if not all(math.isfinite(v) for v in native):
        raise InvalidParameterValueError(
            "The requested area lies outside where its CRS is defined", locator="subset"
        )
    if not _overlaps(native, extent):
        raise InvalidParameterValueError(
            "The requested area lies outside the coverage", locator="subset"
        )
    if ask.bbox is None or ask.bbox_crs != ask.crs:
        inside = (
            max(native[0], extent[0]),
            max(native[1], extent[1]),
            min(native[2], extent[2]),
            min(native[3], extent[3]),
        )
        return _transform(inside, info.crs, ask.crs)
    return bbox


def _overlaps(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def _transform(bbox: BBox, source: str, target: str) -> BBox:
    if source == target:
        return bbox
    try:
        return read_window(bbox, source, target)
    except UnknownCRSError:
        raise InvalidCRSError(f"Unknown CRS {target!r}", locator="crs") from None
    except ValueError:
        raise InvalidParameterValueError(
            "The requested area lies outside where its CRS is defined", locator="subset"
        ) from None


def _snap(bbox: BBox, info: CoverageInfo) -> BBox:
    """`bbox` grown to the coverage's pixel corners and cut to the coverage."""
    left, _, _, top = info.extent
    rx, ry = info.resolution
    c0 = max(math.floor((bbox[0] - left) / rx + _EPSILON), 0)
    c1 = min(math.ceil((bbox[2] - left) / rx - _EPSILON), info.width)
    r0 = max(math.floor((top - bbox[3]) / ry + _EPSILON), 0)
    r1 = min(math.ceil((top - bbox[1]) / ry - _EPSILON), info.height)
    if c1 <= c0:
        c1 = min(c0 + 1, info.width)
        c0 = c1 - 1
    if r1 <= r0:
        r1 = min(r0 + 1, info.height)
        r0 = r1 - 1
    return (left + c0 * rx, top - r1 * ry, left + c1 * rx, top - r0 * ry)


def _pixels(bbox: BBox, resolution: tuple[float, float]) -> tuple[int, int]:
    rx, ry = resolution
    if not (rx > 0 and ry > 0 and math.isfinite(rx) and math.isfinite(ry)):
        raise InvalidParameterValueError(
            "The resolution must be a positive number", locator="resolution"
        )
    return _count((bbox[2] - bbox[0]) / rx, "width"), _count((bbox[3] - bbox[1]) / ry, "height")


def _scaled(size: tuple[int, int], scale: tuple[float, float]) -> tuple[int, int]:
    if not (scale[0] > 0 and scale[1] > 0 and math.isfinite(scale[0] * scale[1])):
        raise InvalidParameterValueError(
            "A scale factor must be a positive number", locator="scale"
        )
    return _count(size[0] * scale[0], "width"), _count(size[1] * scale[1], "height")


def _count(pixels: float, name: str) -> int:
    """`pixels` rounded; a size no grid can have (infinite: a resolution of 1e-320) is
    refused here, `plan` checks the rest against `max_size`."""
    if not math.isfinite(pixels):
        raise InvalidParameterValueError(
            f"The {name} of the answer would be {pixels} pixels", locator=name
        )
    return round(pixels)


def _output_resolution(crs: str, info: CoverageInfo) -> tuple[float, float]:
    """The coverage's resolution carried into `crs` (GDAL's choice for a warp)."""
    try:
        transform, _, _ = calculate_default_transform(
            CRS.from_user_input(info.crs),
            CRS.from_user_input(crs),
            info.width,
            info.height,
            *info.extent,
        )
    except CRSError:
        raise InvalidCRSError(f"Unknown CRS {crs!r}", locator="crs") from None
    return float(transform.a), float(-transform.e)

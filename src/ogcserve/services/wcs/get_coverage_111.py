"""WCS 1.1.1 GetCoverage by KVP (06-083r8 §10.2): IDENTIFIER, BOUNDINGBOX (the centres of the
corner pixels, in the CRS's axis order), GRIDBASECRS, GRIDOFFSETS, RANGESUBSET, FORMAT."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from ogcserve.errors import InvalidParameterValueError, MissingParameterValueError

from .encode import output_format
from .grid import CoverageAsk
from .layers import answer, coverage_layer
from .v111 import INTERPOLATIONS, from_urn

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ogcserve.context import RequestContext
    from ogcserve.coverages import CoverageInfo

# contents[:interpolation][Bands[1,2]]
_RANGE = re.compile(r"^\s*(\w+)\s*(?::\s*([\w-]+))?\s*(?:\[\s*(\w+)\s*\[([^\]]*)\]\s*\])?\s*$")


def get_coverage(ctx: RequestContext) -> None:
    """Answer a 1.1.1 GetCoverage with the file itself."""
    params = ctx.request.params
    name = params.get("IDENTIFIER", "").strip()
    if not name:
        raise MissingParameterValueError("IDENTIFIER is missing", locator="identifier")
    layer = coverage_layer(ctx, name, "1.1.1", "identifier")
    info = ctx.server.access.coverage_info(ctx, layer)
    mime = output_format(params.get("FORMAT", ""))
    ask = to_ask(params, info)
    answer(ctx, layer, ask, mime)


def to_ask(params: Mapping[str, str], info: CoverageInfo) -> CoverageAsk:
    """The version-neutral request: centres become edges, axes come in x/y order."""
    centres, bbox_crs = _bounding_box(params.get("BOUNDINGBOX", ""))
    base = params.get("GRIDBASECRS", "").strip()
    output, swapped = from_urn(base, "GridBaseCRS") if base else (bbox_crs, False)
    offsets = _offsets(params.get("GRIDOFFSETS", ""), swapped)
    interpolation, bands = _range_subset(params.get("RANGESUBSET", ""))
    half = None
    if offsets is not None and bbox_crs == output:
        half = (offsets[0] / 2, offsets[1] / 2)
    elif offsets is None and bbox_crs == info.crs:
        half = (info.resolution[0] / 2, info.resolution[1] / 2)
    bbox = centres
    if half is not None:
        bbox = (
            centres[0] - half[0],
            centres[1] - half[1],
            centres[2] + half[0],
            centres[3] + half[1],
        )
    return CoverageAsk(
        bbox=bbox,
        bbox_crs=bbox_crs,
        crs=output,
        resolution=offsets,
        bands=bands,
        interpolation=interpolation,
    )


def _bounding_box(value: str) -> tuple[tuple[float, float, float, float], str]:
    """BOUNDINGBOX=a,b,c,d[,crs] as x/y bounds and its CRS (CRS84 when none is named)."""
    if not value.strip():
        raise MissingParameterValueError("BOUNDINGBOX is missing", locator="BoundingBox")
    parts = [p.strip() for p in value.split(",")]
    crs, swap = "EPSG:4326", False
    if len(parts) in (5, 7):
        crs, swap = from_urn(parts.pop(), "BoundingBox")
    if len(parts) not in (4, 6):
        raise InvalidParameterValueError(
            f"Cannot read BOUNDINGBOX {value!r}", locator="BoundingBox"
        )
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameterValueError(
            f"Cannot read BOUNDINGBOX {value!r}", locator="BoundingBox"
        ) from None
    if not all(math.isfinite(n) for n in numbers):  # float() reads nan and inf
        raise InvalidParameterValueError(
            f"BOUNDINGBOX {value!r}: its corners must be finite numbers", locator="BoundingBox"
        )
    half = len(numbers) // 2
    low, high = numbers[:2], numbers[half : half + 2]
    if swap:
        low, high = low[::-1], high[::-1]
    if low[0] > high[0] or low[1] > high[1]:
        raise InvalidParameterValueError(
            "BOUNDINGBOX lower corner above its upper corner", locator="BoundingBox"
        )
    return (low[0], low[1], high[0], high[1]), crs


def _offsets(value: str, swapped: bool) -> tuple[float, float] | None:
    """GRIDOFFSETS as x/y pixel sizes: two values, or the four of a 2dGridIn2dCrs."""
    if not value.strip():
        return None
    try:
        numbers = [abs(float(v)) for v in value.split(",")]
    except ValueError:
        raise InvalidParameterValueError(
            f"Cannot read GRIDOFFSETS {value!r}", locator="GridOffsets"
        ) from None
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidParameterValueError(
            f"GRIDOFFSETS {value!r}: offsets must be finite numbers", locator="GridOffsets"
        )
    if len(numbers) == 4:
        first, second = max(numbers[0], numbers[1]), max(numbers[2], numbers[3])
    elif len(numbers) == 2:
        first, second = numbers
    else:
        raise InvalidParameterValueError(
            f"Cannot read GRIDOFFSETS {value!r}", locator="GridOffsets"
        )
    # Each value runs along the CRS's axes: latitude first for EPSG:4326.
    return (second, first) if swapped and len(numbers) == 2 else (first, second)


def _range_subset(value: str) -> tuple[str, tuple[int, ...] | None]:
    """RANGESUBSET=contents[:interpolation][Bands[1,3]] as a resampling name and bands."""
    if not value.strip():
        return "nearest", None
    match = _RANGE.match(value)
    if match is None or match.group(1) != "contents":
        raise InvalidParameterValueError(
            f"Cannot read RANGESUBSET {value!r}", locator="RangeSubset"
        )
    method = (match.group(2) or "nearest").lower()
    if method not in INTERPOLATIONS:
        raise InvalidParameterValueError(f"Unknown interpolation {method!r}", locator="RangeSubset")
    bands = None
    if match.group(4) is not None:
        if match.group(3) != "Bands":
            raise InvalidParameterValueError(f"No axis {match.group(3)!r}", locator="RangeSubset")
        try:
            bands = tuple(int(b) for b in match.group(4).split(","))
        except ValueError:
            raise InvalidParameterValueError(
                f"Cannot read RANGESUBSET {value!r}", locator="RangeSubset"
            ) from None
    return INTERPOLATIONS[method], bands

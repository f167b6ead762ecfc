"""Map scale as OGC defines it: 0.28 mm pixels, degrees measured along the equator."""

from __future__ import annotations

import math

from ogcserve.geo.bbox import BBox
from ogcserve.geo.crs import metres_per_unit

# WMS 1.3.0 §7.2.4.6.9: the "standardized rendering pixel size" is 0.28 mm x 0.28 mm.
OGC_PIXEL_SIZE_M = 0.00028


def scale_denominator(bbox: BBox, crs: str, width: int) -> float:
    """The scale denominator of an x/y `bbox` drawn `width` pixels wide."""
    return (bbox[2] - bbox[0]) / width * metres_per_unit(crs) / OGC_PIXEL_SIZE_M


def scale_hint(denominator: float) -> float:
    """WMS 1.1.1 §7.1.4.5.8: ScaleHint is the ground length of a pixel's diagonal, in metres."""
    return denominator * OGC_PIXEL_SIZE_M * math.sqrt(2)


def in_scale_range(denominator: float, minimum: float | None, maximum: float | None) -> bool:
    """WMS 1.3.0 §7.2.4.6.9: visible when Min <= scale < Max (a missing bound is open)."""
    return (minimum is None or denominator >= minimum) and (
        maximum is None or denominator < maximum
    )

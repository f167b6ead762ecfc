"""Map scale as OGC defines it: 0.28 mm pixels, degrees measured along the equator."""

from __future__ import annotations

import math

import numpy as np
from pyproj.exceptions import ProjError

from ogcserve.geo.bbox import BBox
from ogcserve.geo.crs import UnknownCRSError, metres_per_unit, transformer

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


# Points per side of the grid over which `pixel_size` measures a reprojected view.
_GRID = 9


def pixel_size(bbox: BBox, crs: str, width: int, height: int, target: str) -> float:
    """The smallest length in `target` units that one pixel of a `width` x `height` map of
    `bbox` (x/y in `crs`) spans, in any direction, anywhere in the view (0.0: unknown).

    In the same CRS it is the smaller of the pixel's width and height; otherwise the smaller
    singular value of the transformation's Jacobian, taken by finite differences of a pixel
    on a grid over the view, less a fifth for what the grid does not see. A length shorter
    than this in `target` is shorter than a pixel on the map.
    """
    pw, ph = (bbox[2] - bbox[0]) / width, (bbox[3] - bbox[1]) / height
    if crs == target:
        return min(pw, ph)
    gx, gy = np.meshgrid(
        np.linspace(bbox[0], bbox[2] - pw, _GRID), np.linspace(bbox[1], bbox[3] - ph, _GRID)
    )
    x, y = gx.ravel(), gy.ravel()
    try:
        move = transformer(crs, target).transform
        x0, y0 = move(x, y)
        x1, y1 = move(x + pw, y)
        x2, y2 = move(x, y + ph)
    except (UnknownCRSError, ProjError):
        return 0.0  # unsure: nothing is thinned
    # Per point, the Jacobian's columns are the images of one pixel's steps along x and y.
    jac = np.stack([np.stack([x1 - x0, x2 - x0], -1), np.stack([y1 - y0, y2 - y0], -1)], -2)
    if not np.isfinite(jac).all():
        return 0.0
    smallest = float(np.linalg.svd(jac, compute_uv=False)[:, -1].min())
    return smallest * 0.8 if math.isfinite(smallest) and smallest > 0 else 0.0

"""Nearest-neighbour reprojection without GDAL's warper: each output pixel's centre is carried
to the raster's pixel grid through control points every `_STEP` pixels (interpolated in
between, as GDAL's approximate transformer does, with the error estimated from the control
points' second differences), then the raster window under the output is read once and
indexed. Centres that the interpolation could put on the wrong side of a pixel edge are
transformed exactly, so the pixel picked is the one under the exact centre. Anything it
cannot do within `_TOLERANCE` of a pixel falls back to the warper (None). Every step is a
handful of whole-array numpy passes in float32, on positions counted from a pixel near the
window (no per-pixel gathers but the last one); measured in docs/performance.md (WCS) and
docs/decisions/0007-wcs-nearest-sampler.md."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.windows import Window

from ogcserve.geo import transformer

# Control points every this many output pixels.
_STEP = 16
# Largest error of the interpolated source position, in source pixels, before falling back.
_TOLERANCE = 0.125
# Source pixels per output pixel above which the caller's decimating path is used instead.
_MAX_FACTOR = 2.0

_Array = npt.NDArray[Any]


def _controls(size: int) -> _Array:
    """Control indices along an axis of `size` pixels: every `_STEP`, the last one at or
    past the end, and the intervals covering all `size` pixels (every interval holds exactly
    `_STEP` pixels: 753 pixels need 48 intervals, though 752 is already a control)."""
    return np.arange(0, _STEP * math.ceil(max(size, 1) / _STEP) + 1, _STEP, dtype="float64")


def _bilinear(values: _Array, height: int, width: int) -> _Array:
    """`values` at the control rows and columns, interpolated to every pixel in float32:
    along the control rows first (a few rows, in float64), then down the columns as each
    pixel row's control row + fraction x step, whole rows at a time (three passes; a
    broadcast over a middle axis of stride 0 runs several times slower in numpy)."""
    lower = np.minimum(np.arange(width) // _STEP, values.shape[1] - 2)
    weight = (np.arange(width) - lower * _STEP) / _STEP
    on_rows = values[:, lower] + (values[:, lower + 1] - values[:, lower]) * weight
    steps = np.diff(on_rows, axis=0).astype(np.float32)
    on_rows = on_rows.astype(np.float32)
    above = np.minimum(np.arange(height) // _STEP, values.shape[0] - 2)
    full: _Array = steps.take(above, axis=0)
    full *= ((np.arange(height) - above * _STEP) / _STEP).astype(np.float32)[:, None]
    full += on_rows.take(above, axis=0)
    return full


def _pixels(position: _Array, margin: float) -> tuple[_Array, _Array]:
    """The pixel (floored position, as floats) of each position, and which lie within
    `margin` of a pixel edge. `position` is overwritten."""
    pixel = np.floor(position)
    position -= pixel
    position -= margin
    # Not near an edge: 0 <= fraction - margin < 1 - 2 margin. Negative floats read as
    # unsigned integers are above every positive one, so one comparison tests both bounds.
    unsigned = np.uint32 if position.dtype == np.float32 else np.uint64
    limit = position.dtype.type(1 - 2 * margin).view(unsigned)
    near: _Array = position.view(unsigned) >= limit
    return pixel, near


def _interpolation_error(col: _Array, row: _Array) -> float:
    """An estimate of the interpolation's largest error, in source pixels, from the exact
    positions at the control points: linear interpolation over an interval errs by an eighth
    of the second difference there, and bilinear by that along the rows plus that along the
    columns (between two conformal projections the two cancel at a cell's centre, so they
    are added, not checked at centres). Against positions transformed one by one this was
    never below the true largest error (docs/decisions/0007-wcs-nearest-sampler.md)."""
    error = 0.0
    for values in (col, row):
        along_rows = np.abs(np.diff(values, 2, axis=1)).max() if values.shape[1] > 2 else 0.0
        along_cols = np.abs(np.diff(values, 2, axis=0)).max() if values.shape[0] > 2 else 0.0
        error = max(error, (float(along_rows) + float(along_cols)) / 8)
    return error


def source_pixels(
    ds: Any, raster_crs: str, bounds: tuple[float, ...], width: int, height: int, crs: str
) -> tuple[_Array, _Array, tuple[float, float, float, float], tuple[int, int]] | None:
    """Column and row (as float32, from `origin`) of the raster pixel under every output
    pixel's centre, the range the positions span (min col, min row, max col, max row, in the
    raster) and `origin` (a raster column and row near the smallest); None when the
    interpolation is not within `_TOLERANCE` (or a point does not transform)."""
    minx, miny, maxx, maxy = bounds
    px, py = (maxx - minx) / width, (maxy - miny) / height
    to_source = transformer(crs, raster_crs)
    inverse = ~ds.transform  # its attributes: indexing an Affine builds a tuple each time
    a, b, c, d, e, f = inverse.a, inverse.b, inverse.c, inverse.d, inverse.e, inverse.f
    cols, rows = _controls(width), _controls(height)
    x, y = np.meshgrid(minx + (cols + 0.5) * px, maxy - (rows + 0.5) * py)
    with np.errstate(all="ignore"):
        sx, sy = to_source.transform(x, y, errcheck=False)
    col, row = a * sx + b * sy + c, d * sx + e * sy + f
    if not (np.isfinite(col).all() and np.isfinite(row).all()):
        return None
    # Positions from a raster pixel near the smallest: small numbers, precise in float32.
    origin = (math.floor(col.min()), math.floor(row.min()))

    def exact(cols: _Array, rows: _Array) -> tuple[_Array, _Array]:
        x, y = minx + (cols + 0.5) * px, maxy - (rows + 0.5) * py
        with np.errstate(all="ignore"):
            sx, sy = to_source.transform(x, y, errcheck=False)
        return a * sx + b * sy + c - origin[0], d * sx + e * sy + f - origin[1]

    error = _interpolation_error(col, row)
    if not math.isfinite(error) or error > _TOLERANCE:
        return None
    full_col = _bilinear(col - origin[0], height, width)
    full_row = _bilinear(row - origin[1], height, width)
    # float32 rounds the positions too: a few units of its last place at the largest.
    largest = max(float(col.max()) - origin[0], float(row.max()) - origin[1], 1.0)
    margin = 4 * error + 8 * float(np.finfo(np.float32).eps) * largest
    pixel_col, near = _pixels(full_col, margin)
    pixel_row, near_row = _pixels(full_row, margin)
    near |= near_row
    at = np.flatnonzero(near)
    if at.size:
        at_rows, at_cols = np.divmod(at, width)
        fixed_col, fixed_row = exact(at_cols.astype("float64"), at_rows.astype("float64"))
        if not (np.isfinite(fixed_col).all() and np.isfinite(fixed_row).all()):
            return None
        pixel_col.flat[at] = np.floor(fixed_col)
        pixel_row.flat[at] = np.floor(fixed_row)
    # Bilinear values lie within their cell's corners; exact ones within `margin` of them.
    span = (
        float(col.min()) - margin,
        float(row.min()) - margin,
        float(col.max()) + margin,
        float(row.max()) + margin,
    )
    return pixel_col, pixel_row, span, origin


def nearest(
    ds: Any,
    raster_crs: str,
    bands: list[int],
    bounds: tuple[float, ...],
    shape: tuple[int, int],
    crs: str,
    fill: float,
) -> _Array | None:
    """The bands then an alpha band (255 where a raster pixel landed) on the output grid, or
    None to let GDAL's warper do it."""
    height, width = shape
    found = source_pixels(ds, raster_crs, bounds, width, height, crs)
    if found is None:
        return None
    col, row, span, origin = found
    dest = np.empty((len(bands) + 1, height, width), dtype=np.dtype(ds.dtypes[0]))
    c0, r0 = max(math.floor(span[0]), 0), max(math.floor(span[1]), 0)
    c1, r1 = min(math.floor(span[2]) + 1, ds.width), min(math.floor(span[3]) + 1, ds.height)
    if c0 >= c1 or r0 >= r1:
        dest[:-1] = fill
        dest[-1] = 0
        return dest
    if (c1 - c0) * (r1 - r0) > _MAX_FACTOR**2 * width * height:
        return None  # much coarser than the raster: the caller reads it decimated
    source = ds.read(bands, window=Window(c0, r0, c1 - c0, r1 - r0))
    # The window's corners counted from `origin`, as the positions are.
    w0, w1, h0, h1 = c0 - origin[0], c1 - origin[0], r0 - origin[1], r1 - origin[1]
    inside = None
    if c0 > span[0] or r0 > span[1] or c1 <= span[2] or r1 <= span[3]:
        inside = (col >= w0) & (col < w1) & (row >= h0) & (row < h1)
        np.clip(col, w0, w1 - 1, out=col)
        np.clip(row, h0, h1 - 1, out=row)
    if (c1 - c0) * (r1 - r0) >= 2**24:  # flat indices past float32's exact integers
        col, row = col.astype(np.float64), row.astype(np.float64)
    # One flat index into the window, (row - h0) * its width + (col - w0): exact in floats.
    row *= c1 - c0
    row += col
    row -= h0 * (c1 - c0) + w0
    # float32 to int32 converts several times faster than to int64; indices are in range.
    index = row.astype(np.int32 if row.dtype == np.float32 else np.intp)
    flat = source.reshape(len(bands), -1)
    if inside is None:
        flat.take(index, axis=1, out=dest[:-1], mode="clip")
        dest[-1] = 255
        return dest
    dest[:-1] = np.where(inside, flat.take(index, axis=1, mode="clip"), fill)
    dest[-1] = np.where(inside, 255, 0)
    return dest

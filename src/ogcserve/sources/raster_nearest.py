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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.windows import Window

from ogcserve.geo import transformer
from ogcserve.sources.base import SourceError

# Control points every this many output pixels.
_STEP = 16
# Largest error of the interpolated source position, in source pixels, before falling back.
_TOLERANCE = 0.125
# Output pixels per strip (rounded to whole control intervals): a deadline check between two.
_STRIP_PIXELS = 1 << 20
# Source pixels per output pixel above which the caller's decimating path is used instead.
_MAX_FACTOR = 2.0

_Array = npt.NDArray[Any]


def _controls(size: int) -> _Array:
    """Control indices along an axis of `size` pixels: every `_STEP`, the last one at or
    past the end, and the intervals covering all `size` pixels (every interval holds exactly
    `_STEP` pixels: 753 pixels need 48 intervals, though 752 is already a control)."""
    return np.arange(0, _STEP * math.ceil(max(size, 1) / _STEP) + 1, _STEP, dtype="float64")


def _bilinear(values: _Array, rows: range, width: int) -> _Array:
    """`values` at the control rows and columns, interpolated to every pixel of `rows` in
    float32: along the control rows first (the few rows `rows` needs, in float64), then down
    the columns as each pixel row's control row + fraction x step, whole rows at a time
    (three passes; a broadcast over a middle axis of stride 0 runs several times slower in
    numpy). Each pixel's value is the same whichever `rows` it is computed in."""
    lower = np.minimum(np.arange(width) // _STEP, values.shape[1] - 2)
    weight = (np.arange(width) - lower * _STEP) / _STEP
    at = np.arange(rows.start, rows.stop)
    above = np.minimum(at // _STEP, values.shape[0] - 2)
    first = int(above[0])
    part = values[first : int(above[-1]) + 2]
    on_rows = part[:, lower] + (part[:, lower + 1] - part[:, lower]) * weight
    steps = np.diff(on_rows, axis=0).astype(np.float32)
    on_rows = on_rows.astype(np.float32)
    full: _Array = steps.take(above - first, axis=0)
    full *= ((at - above * _STEP) / _STEP).astype(np.float32)[:, None]
    full += on_rows.take(above - first, axis=0)
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


@dataclass(frozen=True, slots=True)
class _Controls:
    """The exact raster positions at the control points of an output grid, and what is
    needed to carry any of its pixels' centres to the raster exactly."""

    col: _Array  # raster column at each control point
    row: _Array
    shifted: tuple[_Array, _Array]  # the same counted from `origin`
    origin: tuple[int, int]  # a raster column and row near the smallest position
    margin: float  # interpolated positions within this of a pixel edge are made exact
    exact: Callable[[_Array, _Array], tuple[_Array, _Array]]  # output col, row -> positions

    def span(self, rows: range) -> tuple[float, float, float, float]:
        """The range the positions of `rows` (output rows) span in the raster: min col, min
        row, max col, max row. Bilinear values lie within their cell's corners; exact ones
        within `margin` of them."""
        last = self.col.shape[0] - 2
        first, stop = min(rows.start // _STEP, last), min((rows.stop - 1) // _STEP, last) + 2
        col, row = self.col[first:stop], self.row[first:stop]
        return (
            float(col.min()) - self.margin,
            float(row.min()) - self.margin,
            float(col.max()) + self.margin,
            float(row.max()) + self.margin,
        )


def _control_points(
    ds: Any, raster_crs: str, bounds: tuple[float, ...], width: int, height: int, crs: str
) -> _Controls | None:
    """The control points of the output grid; None when the interpolation is not within
    `_TOLERANCE` (or a point does not transform)."""
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
    error = _interpolation_error(col, row)
    if not math.isfinite(error) or error > _TOLERANCE:
        return None
    # Positions from a raster pixel near the smallest: small numbers, precise in float32.
    origin = (math.floor(col.min()), math.floor(row.min()))

    def exact(cols: _Array, rows: _Array) -> tuple[_Array, _Array]:
        x, y = minx + (cols + 0.5) * px, maxy - (rows + 0.5) * py
        with np.errstate(all="ignore"):
            sx, sy = to_source.transform(x, y, errcheck=False)
        return a * sx + b * sy + c - origin[0], d * sx + e * sy + f - origin[1]

    # float32 rounds the positions too: a few units of its last place at the largest.
    largest = max(float(col.max()) - origin[0], float(row.max()) - origin[1], 1.0)
    margin = 4 * error + 8 * float(np.finfo(np.float32).eps) * largest
    shifted = (col - origin[0], row - origin[1])
    return _Controls(col, row, shifted, origin, margin, exact)


def _positions(controls: _Controls, rows: range, width: int) -> tuple[_Array, _Array] | None:
    """Column and row (as float32, from `origin`) of the raster pixel under the centre of
    every output pixel in `rows`; None when a centre does not transform."""
    full_col = _bilinear(controls.shifted[0], rows, width)
    full_row = _bilinear(controls.shifted[1], rows, width)
    pixel_col, near = _pixels(full_col, controls.margin)
    pixel_row, near_row = _pixels(full_row, controls.margin)
    near |= near_row
    at = np.flatnonzero(near)
    if at.size:
        at_rows, at_cols = np.divmod(at, width)
        fixed_col, fixed_row = controls.exact(
            at_cols.astype("float64"), (at_rows + rows.start).astype("float64")
        )
        if not (np.isfinite(fixed_col).all() and np.isfinite(fixed_row).all()):
            return None
        pixel_col.flat[at] = np.floor(fixed_col)
        pixel_row.flat[at] = np.floor(fixed_row)
    return pixel_col, pixel_row


def _window(ds: Any, span: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """The raster pixels (c0, r0, c1, r1) under `span`, cut to the raster."""
    c0, r0 = max(math.floor(span[0]), 0), max(math.floor(span[1]), 0)
    c1, r1 = min(math.floor(span[2]) + 1, ds.width), min(math.floor(span[3]) + 1, ds.height)
    return c0, r0, c1, r1


def nearest(
    ds: Any,
    name: str,
    bands: list[int],
    bounds: tuple[float, ...],
    shape: tuple[int, int],
    crss: tuple[str, str],
    fill: float,
    check: Callable[[], None] = lambda: None,
) -> _Array | None:
    """The bands then an alpha band (255 where a raster pixel landed) on the output grid, or
    None to let GDAL's warper do it. `crss`: the raster's and the output's; `name`: the file,
    for errors. Done in strips of rows, `check` called before each (it
    raises to stop: the request's deadline); each pixel is the same whatever the strips."""
    height, width = shape
    controls = _control_points(ds, crss[0], bounds, width, height, crss[1])
    if controls is None:
        return None
    c0, r0, c1, r1 = _window(ds, controls.span(range(0, height)))
    dest = np.empty((len(bands) + 1, height, width), dtype=np.dtype(ds.dtypes[0]))
    if c0 >= c1 or r0 >= r1:
        dest[:-1] = fill
        dest[-1] = 0
        return dest
    if (c1 - c0) * (r1 - r0) > _MAX_FACTOR**2 * width * height:
        return None  # much coarser than the raster: the caller reads it decimated
    step = max(_STRIP_PIXELS // max(width, 1) // _STEP * _STEP, _STEP)
    for top in range(0, height, step):
        check()
        rows = range(top, min(top + step, height))
        found = _positions(controls, rows, width)
        if found is None:
            return None
        try:
            source = _source(ds, bands, controls.span(rows))
        except Exception as exc:
            raise SourceError(f"Cannot read {name}: {exc}") from None
        _gather(source, controls, rows, found, dest[:, rows.start : rows.stop], fill)
    return dest


def _source(
    ds: Any, bands: list[int], span: tuple[float, float, float, float]
) -> tuple[_Array, tuple[int, int, int, int]] | None:
    """The raster window under `span` and where it is (c0, r0, c1, r1); None: no pixel."""
    c0, r0, c1, r1 = _window(ds, span)
    if c0 >= c1 or r0 >= r1:
        return None
    return ds.read(bands, window=Window(c0, r0, c1 - c0, r1 - r0)), (c0, r0, c1, r1)


def _gather(
    source: tuple[_Array, tuple[int, int, int, int]] | None,
    controls: _Controls,
    rows: range,
    positions: tuple[_Array, _Array],
    dest: _Array,
    fill: float,
) -> None:
    """Fill `dest` (the bands and alpha of `rows`) with the pixels of `source` (the raster
    window under them) at `positions`."""
    if source is None:
        dest[:-1] = fill
        dest[-1] = 0
        return
    pixels, (c0, r0, c1, r1) = source
    bands = pixels.shape[0]
    col, row = positions
    span = controls.span(rows)
    # The window's corners counted from `origin`, as the positions are.
    origin = controls.origin
    w0, w1, h0, h1 = c0 - origin[0], c1 - origin[0], r0 - origin[1], r1 - origin[1]
    inside = None
    if c0 > span[0] or r0 > span[1] or c1 <= span[2] or r1 <= span[3]:
        inside = (col >= w0) & (col < w1) & (row >= h0) & (row < h1)
        np.clip(col, w0, w1 - 1, out=col)
        np.clip(row, h0, h1 - 1, out=row)
    if (c1 - c0) * (r1 - r0) >= 2**24:  # flat indices past float32's exact integers
        col, row = col.astype(np.float64), row.astype(np.float64)
    # One flat index into the window, (row - h0) * its width + (col - w0): exact in floats
    # (every step stays within the window's size).
    row -= h0
    row *= c1 - c0
    col -= w0
    row += col
    # float32 to int32 converts several times faster than to int64; indices are in range.
    index: npt.NDArray[np.integer[Any]] = row.astype(
        np.int32 if row.dtype == np.float32 else np.intp
    )
    flat = pixels.reshape(bands, -1)
    if inside is None:
        flat.take(index, axis=1, out=dest[:-1], mode="clip")
        dest[-1] = 255
        return
    dest[:-1] = np.where(inside, flat.take(index, axis=1, mode="clip"), fill)
    dest[-1] = np.where(inside, 255, 0)

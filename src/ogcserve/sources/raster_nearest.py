"""Nearest-neighbour reprojection without GDAL's warper: each output pixel's centre is carried
to the raster's pixel grid through control points every `_STEP` pixels (interpolated in
between, as GDAL's approximate transformer does, and checked against exact points), then the
raster window under the output is read once and indexed. Five times faster than a GDAL warp of
the same 512 x 512 grid; anything it cannot do within `_TOLERANCE` of a pixel falls back to the
warper (None)."""

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


def _interpolate(values: npt.NDArray[Any], at: npt.NDArray[Any], size: int, axis: int) -> Any:
    """`values` known at indices `at` along `axis`, linearly interpolated to 0..size-1."""
    index = np.arange(size)
    upper = np.clip(np.searchsorted(at, index, side="right"), 1, len(at) - 1)
    lower = upper - 1
    weight = (index - at[lower]) / (at[upper] - at[lower])
    if axis == 0:
        return values[lower] * (1 - weight)[:, None] + values[upper] * weight[:, None]
    return values[:, lower] * (1 - weight) + values[:, upper] * weight


def _controls(size: int) -> npt.NDArray[Any]:
    return np.unique(np.r_[np.arange(0, size, _STEP), size - 1]).astype("float64")


def source_positions(
    ds: Any, raster_crs: str, bounds: tuple[float, ...], width: int, height: int, crs: str
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]] | None:
    """Column and row in the raster of every output pixel's centre, or None when the
    interpolation is not within `_TOLERANCE` (or a point does not transform)."""
    minx, miny, maxx, maxy = bounds
    px, py = (maxx - minx) / width, (maxy - miny) / height
    to_source = transformer(crs, raster_crs)
    inverse = ~ds.transform

    def exact(cols: Any, rows: Any, grid: bool = True) -> tuple[Any, Any]:
        x, y = minx + (cols + 0.5) * px, maxy - (rows + 0.5) * py
        if grid:
            x, y = np.meshgrid(x, y)
        with np.errstate(all="ignore"):
            sx, sy = to_source.transform(x, y, errcheck=False)
        a, b, c, d, e, f = inverse[:6]
        return a * sx + b * sy + c, d * sx + e * sy + f

    cols, rows = _controls(width), _controls(height)
    col, row = exact(cols, rows)
    if not (np.isfinite(col).all() and np.isfinite(row).all()):
        return None
    full_col = _interpolate(_interpolate(col, rows, height, 0), cols, width, 1)
    full_row = _interpolate(_interpolate(row, rows, height, 0), cols, width, 1)
    # Check between the control points, where the interpolation is worst.
    mid_cols = np.minimum(cols[:-1] + _STEP // 2, width - 1) if len(cols) > 1 else cols
    mid_rows = np.minimum(rows[:-1] + _STEP // 2, height - 1) if len(rows) > 1 else rows
    check_col, check_row = exact(mid_cols, mid_rows)
    picked = np.ix_(mid_rows.astype(int), mid_cols.astype(int))
    error = max(
        float(np.nanmax(np.abs(full_col[picked] - check_col))),
        float(np.nanmax(np.abs(full_row[picked] - check_row))),
    )
    if not math.isfinite(error) or error > _TOLERANCE:
        return None
    # Centres that the interpolation could put on the wrong side of a pixel edge are
    # transformed exactly (a few per cent of them): the pixel picked is the exact one.
    margin = 4 * error + 1e-9
    near = _near_edge(full_col, margin) | _near_edge(full_row, margin)
    if near.any():
        at_rows, at_cols = np.nonzero(near)
        full_col[near], full_row[near] = exact(at_cols, at_rows, grid=False)
    return full_col, full_row


def _near_edge(position: npt.NDArray[Any], margin: float) -> npt.NDArray[Any]:
    fraction: npt.NDArray[Any] = position - np.floor(position)
    near: npt.NDArray[Any] = (fraction < margin) | (fraction > 1 - margin)
    return near


def nearest(
    ds: Any,
    raster_crs: str,
    bands: list[int],
    bounds: tuple[float, ...],
    shape: tuple[int, int],
    crs: str,
    fill: float,
) -> npt.NDArray[Any] | None:
    """The bands then an alpha band (255 where a raster pixel landed) on the output grid, or
    None to let GDAL's warper do it."""
    height, width = shape
    positions = source_positions(ds, raster_crs, bounds, width, height, crs)
    if positions is None:
        return None
    col = np.floor(positions[0]).astype(np.int32)
    row = np.floor(positions[1]).astype(np.int32)
    inside = (col >= 0) & (col < ds.width) & (row >= 0) & (row < ds.height)
    dest = np.empty((len(bands) + 1, height, width), dtype=np.dtype(ds.dtypes[0]))
    c0, c1 = max(int(col.min()), 0), min(int(col.max()) + 1, ds.width)
    r0, r1 = max(int(row.min()), 0), min(int(row.max()) + 1, ds.height)
    if c0 >= c1 or r0 >= r1:
        dest[:-1] = fill
        dest[-1] = 0
        return dest
    if (c1 - c0) * (r1 - r0) > _MAX_FACTOR**2 * width * height:
        return None  # much coarser than the raster: the caller reads it decimated
    source = ds.read(bands, window=Window(c0, r0, c1 - c0, r1 - r0))
    np.clip(col - c0, 0, c1 - c0 - 1, out=col)
    np.clip(row - r0, 0, r1 - r0 - 1, out=row)
    dest[:-1] = np.where(inside, source[:, row, col], fill)
    dest[-1] = np.where(inside, 255, 0)
    return dest

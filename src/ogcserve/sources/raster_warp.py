"""A raster carried onto another grid: sampled (output pixels larger than the raster), by our
nearest sampler (`raster_nearest`), or by GDAL's warper. Large outputs are done in strips of
rows, the request's `check` called before each, so a deadline stops the work between two
strips instead of after one long C call."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.windows import Window as RasterioWindow
from rasterio.windows import from_bounds as from_bounds_window

from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.geo import read_window, transformer, valid_area
from ogcserve.sources.base import SourceError
from ogcserve.sources.raster_nearest import nearest

# The most pixels a side read for outputs coarser than the raster itself.
_SAMPLE_SIZE = 512
# Output more than this many times coarser than the raster: read the source decimated first,
# from the overview GDAL picks for that resolution where the file has overviews
# (tests/services/wcs/test_wcs_overviews.py). At 2x or less the raster is read as it is: the
# nearest picks stay the pixels under the exact centres.
_DECIMATE_ABOVE = 2.0
# Output pixels GDAL warps in one call at most. Smaller outputs (every usual request) are
# one call, as before; larger ones are warped in strips of `_WARP_STRIP` pixels. GDAL scales
# its bilinear, cubic and lanczos kernels per chunk of work, so a strip's pixels may differ
# slightly from one call's (GDAL already cut such outputs into chunks by its 64 MB of warp
# memory); nearest and average are the same either way.
_WARP_PIXELS = 1 << 22
_WARP_STRIP = 1 << 20
# Rows of a strip at least: GDAL's approximate transformer picked a few nearest pixels
# differently in strips of 4 rows, never in strips of 48 or more (tests/sources).
_WARP_ROWS = 64

Check = Callable[[], None]


@dataclass(frozen=True, slots=True)
class GridWindow:
    """Part of the output grid: its rows, its columns and its bounds in the request CRS."""

    rows: slice
    cols: slice
    bounds: tuple[float, float, float, float]
    coarse: bool  # its pixels are larger than the raster's footprint


def geo_code(crs: str) -> str:
    """The spelling `ogcserve.geo` keys its CRSs by (OGC:CRS84 is CRS:84 there)."""
    return "CRS:84" if crs.upper() in ("OGC:CRS84", "CRS:84") else crs


def sample(
    ds: Any,
    name: str,
    info: CoverageInfo,
    bands: list[int],
    window: GridWindow,
    request: CoverageRequest,
    fill: float,
) -> npt.NDArray[Any]:
    """Nearest neighbour at each output pixel's centre, from the raster read at no more
    than `_SAMPLE_SIZE` pixels a side: for outputs whose pixels are larger than the
    raster (a handful of columns or rows)."""
    code = geo_code(request.crs)
    minx, _, _, maxy = request.bbox
    px = (request.bbox[2] - minx) / request.width
    py = (maxy - request.bbox[1]) / request.height
    cols = np.arange(window.cols.start, window.cols.stop)
    rows = np.arange(window.rows.start, window.rows.stop)
    x, y = np.meshgrid(minx + (cols + 0.5) * px, maxy - (rows + 0.5) * py)
    dest = np.full((len(bands) + 1, len(rows), len(cols)), fill, dtype=np.dtype(info.dtype))
    area = valid_area(code)
    inside = (
        np.ones(x.shape, dtype=bool)
        if area is None
        else ((x >= area.xy[0]) & (x <= area.xy[2]) & (y >= area.xy[1]) & (y <= area.xy[3]))
    )
    with np.errstate(all="ignore"):
        sx, sy = transformer(code, info.crs).transform(x, y, errcheck=False)
    shape = (len(bands), min(ds.height, _SAMPLE_SIZE), min(ds.width, _SAMPLE_SIZE))
    try:
        array = ds.read(bands, out_shape=shape, resampling=Resampling.nearest)
    except Exception as exc:
        raise SourceError(f"Cannot read {name}: {exc}") from None
    to_pixel = ~(ds.transform @ Affine.scale(ds.width / shape[2], ds.height / shape[1]))
    with np.errstate(all="ignore"):
        a, b, c, d, e, f = to_pixel[:6]
        col = a * np.asarray(sx) + b * np.asarray(sy) + c
        row = d * np.asarray(sx) + e * np.asarray(sy) + f
        inside &= np.isfinite(col) & np.isfinite(row)
        inside &= (col >= 0) & (col < shape[2]) & (row >= 0) & (row < shape[1])
    cols_at = np.where(inside, col, 0).astype(np.intp)
    rows_at = np.where(inside, row, 0).astype(np.intp)
    values = array[:, rows_at, cols_at]
    dest[:-1] = np.where(inside, values, fill)
    valid = inside if info.nodata is None else inside & (values[0] != info.nodata)
    dest[-1] = np.where(valid, 255, 0)
    return dest


def warp(
    ds: Any,
    name: str,
    info: CoverageInfo,
    bands: list[int],
    window: GridWindow,
    request: CoverageRequest,
    resampling: Resampling,
    fill: float,
    check: Check,
) -> npt.NDArray[Any]:
    """Warp the source (the file `name`) onto `window`: bands, then GDAL's alpha."""
    height = window.rows.stop - window.rows.start
    width = window.cols.stop - window.cols.start
    if resampling is Resampling.nearest:
        code = geo_code(request.crs)
        fast = nearest(
            ds, name, bands, window.bounds, (height, width), (info.crs, code), fill, check
        )
        if fast is not None:
            return fast
    check()
    dest = np.full((len(bands) + 1, height, width), fill, dtype=np.dtype(info.dtype))
    source, src_transform = _source_pixels(ds, name, info, bands, window, request.crs, resampling)
    dst_crs = CRS.from_user_input(request.crs)
    grid = from_bounds(*window.bounds, width, height)
    step = height if height * width <= _WARP_PIXELS else max(_WARP_STRIP // width, _WARP_ROWS)
    for start in range(0, height, step):
        check()
        stop = min(start + step, height)
        try:
            rasterio.warp.reproject(
                source=source,
                destination=dest[:, start:stop],
                src_transform=src_transform,
                src_crs=ds.crs,
                src_nodata=info.nodata,
                dst_transform=grid * Affine.translation(0, start) if start else grid,
                dst_crs=dst_crs,
                dst_nodata=fill,
                dst_alpha=len(bands) + 1,
                resampling=resampling,
            )
        except Exception as exc:  # rasterio raises a variety of GDAL-derived errors here
            raise SourceError(f"Cannot read {name}: {exc}") from None
    return dest


def _source_pixels(
    ds: Any,
    name: str,
    info: CoverageInfo,
    bands: list[int],
    window: GridWindow,
    request_crs: str,
    resampling: Resampling,
) -> tuple[Any, Any]:
    """What the warp reads: the raster's bands as they are, or, when the output is much
    coarser than the raster, only the source window under the output read at about the
    output's resolution (GDAL takes overviews for it where the file has them)."""
    height = window.rows.stop - window.rows.start
    width = window.cols.stop - window.cols.start
    whole = (rasterio.band(ds, bands), ds.transform)
    if not ds.transform.is_rectilinear:
        return whole
    try:
        bounds = read_window(window.bounds, geo_code(request_crs), info.crs)
    except ValueError:
        return whole
    left, bottom, right, top = info.extent
    bounds = (
        max(bounds[0], left),
        max(bounds[1], bottom),
        min(bounds[2], right),
        min(bounds[3], top),
    )
    if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
        return whole
    area = from_bounds_window(*bounds, transform=ds.transform)
    # Two source pixels more on each side, for the resampling kernels.
    col0 = max(math.floor(area.col_off) - 2, 0)
    row0 = max(math.floor(area.row_off) - 2, 0)
    col1 = min(math.ceil(area.col_off + area.width) + 2, ds.width)
    row1 = min(math.ceil(area.row_off + area.height) + 2, ds.height)
    if col0 >= col1 or row0 >= row1:
        return whole
    factor = min((col1 - col0) / width, (row1 - row0) / height)
    if factor <= _DECIMATE_ABOVE:
        return whole  # about the output's resolution already: warp from the file as is
    src = RasterioWindow(col0, row0, col1 - col0, row1 - row0)
    shape = (
        len(bands),
        max(math.ceil(src.height / factor), 1),
        max(math.ceil(src.width / factor), 1),
    )
    try:
        array = ds.read(bands, window=src, out_shape=shape, resampling=resampling)
    except Exception as exc:
        raise SourceError(f"Cannot read {name}: {exc}") from None
    transform = ds.window_transform(src) @ Affine.scale(src.width / shape[2], src.height / shape[1])
    return array, transform

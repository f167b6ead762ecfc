"""Rasters (GeoTIFF or anything GDAL reads, or a folder of them) through rasterio, read by window
on their own grid, warped to any other."""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioIOError
from rasterio.windows import Window as RasterioWindow

from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.errors import InvalidCRSError, InvalidParameterValueError
from ogcserve.geo import UnknownCRSError, clip_to_valid, read_window
from ogcserve.sources.base import SourceError, SourceUnavailableError
from ogcserve.sources.raster_mosaic import mosaic_vrt
from ogcserve.sources.raster_warp import GridWindow, geo_code, sample, warp

# Pixels read from the file in one call at most, on the raster's own grid.
_READ_PIXELS = 1 << 22


def _never() -> None:
    """The check of a read nobody stops."""


def crs_name(crs: CRS | None) -> str:
    """'EPSG:xxxx' when the CRS has an EPSG code, its WKT otherwise."""
    if crs is None:
        return ""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else str(crs.to_wkt())


class RasterSource:
    """A raster file. GDAL datasets must not be shared between threads: each thread opens its
    own handle (cheap for GeoTIFF; GDAL's block cache is shared anyway)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list[tuple[weakref.ref[threading.Thread], Any]] = []
        self._closed = False
        if not self._path.exists():
            raise SourceUnavailableError(f"Raster file not found: {self._path}")
        # A folder is a mosaic of its rasters (one VRT document).
        self._target = mosaic_vrt(self._path) if self._path.is_dir() else str(self._path)
        ds = self._dataset()
        left, bottom, right, top = ds.bounds
        res = ds.res
        self._info = CoverageInfo(
            crs=crs_name(ds.crs),
            extent=(float(left), float(bottom), float(right), float(top)),
            width=int(ds.width),
            height=int(ds.height),
            band_count=int(ds.count),
            dtype=str(ds.dtypes[0]),
            nodata=None if ds.nodata is None else float(ds.nodata),
            resolution=(float(res[0]), float(res[1])),
            band_names=tuple(d or "" for d in ds.descriptions),
        )
        # North-up rasters are read straight by window when a request matches their grid.
        self._north_up = ds.transform.b == 0 and ds.transform.d == 0 and ds.transform.e < 0

    def _dataset(self) -> Any:
        ds = getattr(self._local, "dataset", None)
        if ds is not None:
            return ds
        if self._closed:
            raise SourceError(f"Raster {self._path.name} is closed")
        try:
            ds = rasterio.open(self._target)
        except RasterioIOError as exc:
            raise SourceUnavailableError(f"Cannot open raster {self._path.name}: {exc}") from None
        self._local.dataset = ds
        with self._lock:
            # Handles of finished threads are closed: no other thread may use them.
            keep = []
            for ref, handle in self._handles:
                thread = ref()
                if thread is not None and thread.is_alive():
                    keep.append((ref, handle))
                else:
                    handle.close()
            keep.append((weakref.ref(threading.current_thread()), ds))
            self._handles = keep
        return ds

    def info(self) -> CoverageInfo:
        """CRS, extent, size, bands, data type and nodata of the raster."""
        return self._info

    def read(
        self, request: CoverageRequest, check: Callable[[], None] = _never
    ) -> npt.NDArray[Any]:
        """The raster on the requested grid: (bands, height, width), nodata and outside masked.
        Large reads are done in parts, `check` called before each (it raises to stop: the
        request's deadline)."""
        info = self._info
        bands = list(request.bands) if request.bands else list(range(1, info.band_count + 1))
        for b in bands:
            if not 1 <= b <= info.band_count:
                raise InvalidParameterValueError(f"No band {b}", locator="bands")
        if request.width <= 0 or request.height <= 0:
            raise InvalidParameterValueError("Width and height must be positive")
        try:
            resampling = Resampling[request.resampling.lower()]
        except KeyError:
            raise InvalidParameterValueError(
                f"Unknown resampling {request.resampling!r}", locator="resampling"
            ) from None
        try:
            CRS.from_user_input(request.crs)
        except (CRSError, ValueError):
            raise InvalidCRSError(f"Unknown CRS {request.crs!r}", locator="crs") from None
        minx, miny, maxx, maxy = request.bbox
        if not (maxx > minx and maxy > miny):
            raise InvalidParameterValueError("Empty bounding box", locator="bbox")
        ds = self._dataset()
        nodata = info.nodata
        fill = nodata if nodata is not None else 0
        native = self._native_window(request)
        if native is not None:
            return self._read_native(ds, bands, native, request, check)
        dest = self._on_grid(ds, bands, request, resampling, fill, check)
        data = dest[:-1]
        mask = np.broadcast_to(dest[-1] == 0, data.shape)
        if nodata is not None:
            mask = mask | (data == nodata)
            if np.isnan(nodata):
                mask = mask | np.isnan(data)
        return np.ma.MaskedArray(data, mask=mask, fill_value=fill)

    def _on_grid(
        self,
        ds: Any,
        bands: list[int],
        request: CoverageRequest,
        resampling: Resampling,
        fill: float,
        check: Callable[[], None],
    ) -> npt.NDArray[Any]:
        """The bands, then GDAL's alpha (0: no source pixel, or nodata), on the request's grid."""
        window = self._dest_window(request)
        info, name = self._info, self._path.name
        whole = (slice(0, request.height), slice(0, request.width))
        if window is not None and not window.coarse and (window.rows, window.cols) == whole:
            return warp(ds, name, info, bands, window, request, resampling, fill, check)
        shape = (len(bands) + 1, request.height, request.width)
        dest = np.full(shape, fill, dtype=np.dtype(info.dtype))
        if window is not None and window.coarse:
            dest[:, window.rows, window.cols] = sample(ds, name, info, bands, window, request, fill)
        elif window is not None:
            dest[:, window.rows, window.cols] = warp(
                ds, name, info, bands, window, request, resampling, fill, check
            )
        return dest

    def _native_window(self, request: CoverageRequest) -> RasterioWindow | None:
        """The raster's own pixels when the request is on its grid: its CRS, its resolution and
        an origin on a pixel corner (to 1e-6 of a pixel); None otherwise."""
        info = self._info
        if not self._north_up or request.crs != info.crs:
            return None
        left, _, _, top = info.extent
        res_x, res_y = info.resolution
        minx, miny, maxx, maxy = request.bbox
        cols = (maxx - minx) / res_x
        rows = (maxy - miny) / res_y
        col0 = (minx - left) / res_x
        row0 = (top - maxy) / res_y
        exact = all(abs(v - round(v)) < 1e-6 for v in (cols, rows, col0, row0))
        if not exact or round(cols) != request.width or round(rows) != request.height:
            return None
        return RasterioWindow(round(col0), round(row0), request.width, request.height)

    def _read_native(
        self,
        ds: Any,
        bands: list[int],
        window: RasterioWindow,
        request: CoverageRequest,
        check: Callable[[], None],
    ) -> npt.NDArray[Any]:
        """The raster's pixels under `window`, unchanged; outside the raster is masked.
        Only the window is read (in strips of rows): memory follows the request, not the
        file."""
        info = self._info
        nodata = info.nodata
        fill = nodata if nodata is not None else 0
        data = np.full((len(bands), request.height, request.width), fill, np.dtype(info.dtype))
        inside = np.zeros((request.height, request.width), dtype=bool)
        c0, r0 = max(window.col_off, 0), max(window.row_off, 0)
        c1 = min(window.col_off + window.width, info.width)
        r1 = min(window.row_off + window.height, info.height)
        if c0 < c1 and r0 < r1:
            cols = slice(c0 - window.col_off, c1 - window.col_off)
            step = max(_READ_PIXELS // (c1 - c0), 1)
            for top in range(r0, r1, step):
                check()
                bottom = min(top + step, r1)
                rows = slice(top - window.row_off, bottom - window.row_off)
                part = RasterioWindow(c0, top, c1 - c0, bottom - top)
                try:
                    data[:, rows, cols] = ds.read(bands, window=part)
                    inside[rows, cols] = ds.read_masks(bands[0], window=part) > 0
                except Exception as exc:
                    raise SourceError(f"Cannot read {self._path.name}: {exc}") from None
        mask = np.broadcast_to(~inside, data.shape)
        if info.nodata is not None:
            mask = mask | (data == info.nodata)
            if np.isnan(info.nodata):
                mask = mask | np.isnan(data)
        return np.ma.MaskedArray(data, mask=mask, fill_value=fill)

    def _dest_window(self, request: CoverageRequest) -> GridWindow | None:
        """The output pixels the raster can reach: the request clipped to the raster's
        footprint and to the request CRS's valid area (None: none at all).

        Warping only these keeps every GDAL call proportional to the raster, whatever BBOX
        was asked for (a BBOX of ±1e15 m kept GDAL busy for minutes).
        """
        info = self._info
        try:
            footprint = read_window(info.extent, info.crs, geo_code(request.crs))
            clipped = clip_to_valid(request.bbox, geo_code(request.crs))
        except UnknownCRSError:
            raise InvalidCRSError(f"Unknown CRS {request.crs!r}", locator="crs") from None
        except ValueError:
            return None  # the raster lies outside the area where the request's CRS is defined
        if clipped is None:
            return None
        minx, miny, maxx, maxy = request.bbox
        px = (maxx - minx) / request.width
        py = (maxy - miny) / request.height
        x0, y0 = max(footprint[0], clipped[0]), max(footprint[1], clipped[1])
        x1, y1 = min(footprint[2], clipped[2]), min(footprint[3], clipped[3])
        if x0 >= x1 or y0 >= y1:
            return None
        # One pixel more on each side: the footprint is a densified estimate.
        c0 = max(math.floor((x0 - minx) / px) - 1, 0)
        c1 = min(math.ceil((x1 - minx) / px) + 1, request.width)
        r0 = max(math.floor((maxy - y1) / py) - 1, 0)
        r1 = min(math.ceil((maxy - y0) / py) + 1, request.height)
        if c0 >= c1 or r0 >= r1:
            return None
        bounds = (minx + c0 * px, maxy - r1 * py, minx + c1 * px, maxy - r0 * py)
        # Output pixels larger than the raster stall GDAL's warper: those are sampled directly.
        coarse = px > footprint[2] - footprint[0] or py > footprint[3] - footprint[1]
        return GridWindow(slice(r0, r1), slice(c0, c1), bounds, coarse)

    def close(self) -> None:
        """Close every dataset handle this source opened."""
        self._closed = True
        with self._lock:
            handles, self._handles = self._handles, []
        for _, handle in handles:
            handle.close()
        self._local = threading.local()

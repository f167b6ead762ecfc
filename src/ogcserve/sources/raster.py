"""Rasters (GeoTIFF or anything GDAL reads) through rasterio, warped to the requested grid."""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.warp
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioIOError
from rasterio.transform import from_bounds

from ogcserve.errors import InvalidCRSError, InvalidParameterValueError
from ogcserve.sources.base import (
    CoverageInfo,
    CoverageRequest,
    SourceError,
    SourceUnavailableError,
)


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
        )

    def _dataset(self) -> Any:
        ds = getattr(self._local, "dataset", None)
        if ds is not None:
            return ds
        if self._closed:
            raise SourceError(f"Raster {self._path.name} is closed")
        try:
            ds = rasterio.open(self._path)
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

    def read(self, request: CoverageRequest) -> npt.NDArray[Any]:
        """Warp the raster onto the requested grid: a (bands, height, width) masked array where
        nodata and everything outside the raster is masked."""
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
            dst_crs = CRS.from_user_input(request.crs)
        except CRSError:
            raise InvalidCRSError(f"Unknown CRS {request.crs!r}", locator="crs") from None
        minx, miny, maxx, maxy = request.bbox
        if not (maxx > minx and maxy > miny):
            raise InvalidParameterValueError("Empty bounding box", locator="bbox")
        ds = self._dataset()
        transform = from_bounds(minx, miny, maxx, maxy, request.width, request.height)
        nodata = info.nodata
        fill = nodata if nodata is not None else 0
        # One extra band receives GDAL's alpha: 0 where no source pixel landed (outside the
        # raster, or nodata), so the mask is right with or without a nodata value.
        dest = np.full(
            (len(bands) + 1, request.height, request.width), fill, dtype=np.dtype(info.dtype)
        )
        try:
            rasterio.warp.reproject(
                source=rasterio.band(ds, bands),
                destination=dest,
                src_nodata=nodata,
                dst_transform=transform,
                dst_crs=dst_crs,
                dst_nodata=fill,
                dst_alpha=len(bands) + 1,
                resampling=resampling,
            )
        except Exception as exc:  # rasterio raises a variety of GDAL-derived errors here
            raise SourceError(f"Cannot read {self._path.name}: {exc}") from None
        data = dest[:-1]
        mask = np.broadcast_to(dest[-1] == 0, data.shape)
        if nodata is not None:
            mask = mask | (data == nodata)
            if np.isnan(nodata):
                mask = mask | np.isnan(data)
        return np.ma.MaskedArray(data, mask=mask, fill_value=fill)

    def close(self) -> None:
        """Close every dataset handle this source opened."""
        self._closed = True
        with self._lock:
            handles, self._handles = self._handles, []
        for _, handle in handles:
            handle.close()
        self._local = threading.local()

"""The values of a raster read: the window asked for (`CoverageRequest`) and what a coverage is
(`CoverageInfo`). Like `ogcserve.features`, they depend on nothing of the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from ogcserve.features import BBox


@dataclass(frozen=True, slots=True)
class CoverageRequest:
    """A window to read from a coverage, in any CRS, at a given size."""

    bbox: BBox
    crs: str
    width: int
    height: int
    resampling: str = "nearest"  # nearest, bilinear, cubic, average, ...
    bands: tuple[int, ...] | None = None  # 1-based; None: all


@dataclass(frozen=True, slots=True)
class CoverageInfo:
    """What a coverage is: CRS, extent, size, bands."""

    crs: str
    extent: BBox
    width: int
    height: int
    band_count: int
    dtype: str
    nodata: float | None
    resolution: tuple[float, float]
    band_names: tuple[str, ...] = ()  # each band's description ("" when it has none)

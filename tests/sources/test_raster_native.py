"""RasterSource on its own grid: pixels read by window, unchanged, even across the raster's
edge (the margin masked); band descriptions in CoverageInfo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from ogcserve.coverages import CoverageRequest
from ogcserve.sources.raster import RasterSource


def test_native_window_across_the_edge_is_exact(demo_tif: Path) -> None:
    source = RasterSource(demo_tif)
    try:
        info = source.info()
        assert info.band_names == ("elevation",)
        left, _, _, top = info.extent
        rx, ry = info.resolution
        # 20 x 15 pixels from column -5, row 3: five columns left of the raster.
        bbox = (left - 5 * rx, top - 18 * ry, left + 15 * rx, top - 3 * ry)
        data = source.read(CoverageRequest(bbox, info.crs, 20, 15))
    finally:
        source.close()
    with rasterio.open(demo_tif) as ds:
        expected = ds.read(1, window=Window(0, 3, 15, 15))
        nodata = ds.nodata
    assert data.shape == (1, 15, 20)
    assert data.mask[0, :, :5].all()
    assert np.array_equal(data.data[0, :, 5:], expected)
    assert np.array_equal(data.mask[0, :, 5:], expected == nodata)

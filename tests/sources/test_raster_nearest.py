"""The nearest-neighbour sampler picks, for every output pixel, the raster pixel under its
centre transformed exactly by PROJ (no interpolation error at pixel edges)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_bounds

from ogcserve.sources.raster_nearest import nearest


def test_nearest_is_the_pixel_under_each_exact_centre(demo_tif: Path) -> None:
    bounds = (640000.0, 6370000.0, 725000.0, 6465000.0)  # EPSG:3857, over Luxembourg
    width, height = 300, 333
    with rasterio.open(demo_tif) as ds:
        got = nearest(ds, "EPSG:4326", [1], bounds, (height, width), "EPSG:3857", -32768)
        source = ds.read(1)
        to_pixel = ~ds.transform
        size = (ds.height, ds.width)
    assert got is not None
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    x, y = from_bounds(*bounds, width, height) * (cols, rows)
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)
    col, row = (np.floor(v).astype(int) for v in to_pixel * (lon, lat))
    inside = (col >= 0) & (col < size[1]) & (row >= 0) & (row < size[0])
    assert np.array_equal(got[-1] == 255, inside)
    assert np.array_equal(got[0][inside], source[row[inside], col[inside]])

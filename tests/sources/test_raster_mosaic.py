"""A folder of GeoTIFF tiles is one raster: the demo elevation cut into four tiles reads back
as the file itself, and tiles on different grids are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from ogcserve.coverages import CoverageRequest
from ogcserve.sources.base import SourceUnavailableError
from ogcserve.sources.raster import RasterSource


def _cut(demo_tif: Path, folder: Path) -> None:
    with rasterio.open(demo_tif) as src:
        profile = src.profile
        for name, window in {
            "nw": Window(0, 0, 50, 40),
            "ne": Window(50, 0, 45, 40),
            "sw": Window(0, 40, 50, 50),
            "se": Window(50, 40, 45, 50),
        }.items():
            tile = profile | {
                "width": window.width,
                "height": window.height,
                "transform": src.window_transform(window),
            }
            with rasterio.open(folder / f"{name}.tif", "w", **tile) as out:
                out.write(src.read(window=window))
                out.set_band_description(1, "elevation")


def test_folder_mosaic_is_the_whole_raster(demo_tif: Path, tmp_path: Path) -> None:
    _cut(demo_tif, tmp_path)
    source = RasterSource(tmp_path)
    try:
        info = source.info()
        with rasterio.open(demo_tif) as src:
            assert (info.width, info.height) == (src.width, src.height)
            assert info.extent == pytest.approx(tuple(src.bounds), abs=1e-12)
            assert info.nodata == src.nodata and info.band_names == ("elevation",)
            data = source.read(CoverageRequest(info.extent, info.crs, info.width, info.height))
            assert np.array_equal(data.data, src.read())
    finally:
        source.close()


def test_tiles_off_one_grid_are_refused(demo_tif: Path, tmp_path: Path) -> None:
    _cut(demo_tif, tmp_path)
    with rasterio.open(tmp_path / "se.tif") as se:
        profile = se.profile | {"dtype": "float32"}
        data = se.read().astype("float32")
    (tmp_path / "se.tif").unlink()
    with rasterio.open(tmp_path / "se.tif", "w", **profile) as out:
        out.write(data)
    with pytest.raises(SourceUnavailableError, match="dtype"):
        RasterSource(tmp_path)

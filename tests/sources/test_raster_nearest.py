"""The nearest-neighbour sampler picks, for every output pixel, the raster pixel under its
centre transformed exactly by PROJ (no interpolation error at pixel edges)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.transform import from_bounds
from rasterio.warp import transform_bounds

from ogcserve.sources.raster_nearest import nearest


def exact_picks(path: Path, bounds: tuple[float, ...], size: tuple[int, int], crs: str) -> None:
    """`nearest` against the pixel under each centre carried by PROJ one by one."""
    height, width = size
    with rasterio.open(path) as ds:
        raster_crs = f"EPSG:{ds.crs.to_epsg()}"
        got = nearest(ds, path.name, [1], bounds, (height, width), (raster_crs, crs), -32768)
        source = ds.read(1)
        to_pixel = ~ds.transform
        shape = (ds.height, ds.width)
    assert got is not None
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    grid = from_bounds(*bounds, width, height)
    x, y = grid.c + cols * grid.a, grid.f + rows * grid.e
    sx, sy = Transformer.from_crs(crs, raster_crs, always_xy=True).transform(x, y)
    a, b, c, d, e, f = to_pixel[:6]
    col = np.floor(a * sx + b * sy + c).astype(int)
    row = np.floor(d * sx + e * sy + f).astype(int)
    inside = (col >= 0) & (col < shape[1]) & (row >= 0) & (row < shape[0])
    assert np.array_equal(got[-1] == 255, inside)
    assert np.array_equal(got[0][inside], source[row[inside], col[inside]])


def test_nearest_is_the_pixel_under_each_exact_centre(demo_tif: Path) -> None:
    bounds = (640000.0, 6370000.0, 725000.0, 6465000.0)  # EPSG:3857, over Luxembourg
    exact_picks(demo_tif, bounds, (333, 300), "EPSG:3857")


@pytest.mark.parametrize("size", [(512, 512), (301, 457)])
def test_between_conformal_projections(tmp_path: Path, size: tuple[int, int]) -> None:
    """UTM to Web Mercator: both conformal, so the coordinates are harmonic and the
    interpolation's errors along rows and columns cancel at each cell's centre (a check
    there alone once missed edge pixels)."""
    path = tmp_path / "utm.tif"
    transform = Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 5600000.0)
    data = np.random.default_rng(3).integers(0, 30000, size=(1200, 1200), dtype=np.int16)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=1200,
        height=1200,
        count=1,
        dtype="int16",
        crs="EPSG:32631",
        transform=transform,
    ) as out:
        out.write(data, 1)
    utm = (401000.0, 5589880.0, 406120.0, 5595000.0)  # 512 x 512 pixels of the raster
    exact_picks(path, transform_bounds("EPSG:32631", "EPSG:3857", *utm), size, "EPSG:3857")


@pytest.mark.parametrize(
    ("raster_crs", "transform", "crs", "size"),
    [
        # Geographic at 60 N to Web Mercator and to LAEA Europe; UTM to geographic and LAEA.
        ("EPSG:4326", Affine(0.0005, 0.0, 5.0, 0.0, -0.0005, 60.6), "EPSG:3857", (400, 512)),
        ("EPSG:4326", Affine(0.0005, 0.0, 5.0, 0.0, -0.0005, 60.6), "EPSG:3035", (800, 777)),
        ("EPSG:32631", Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 5600000.0), "EPSG:4326", (512, 512)),
        ("EPSG:32631", Affine(40.0, 0.0, 400000.0, 0.0, -40.0, 5600000.0), "EPSG:3035", (700, 999)),
    ],
)
def test_error_estimate_keeps_picks_exact(
    tmp_path: Path, raster_crs: str, transform: Affine, crs: str, size: tuple[int, int]
) -> None:
    """The interpolation's error is estimated from the control points' second differences:
    across projections of different kinds every pick is still the exact centre's pixel."""
    path = tmp_path / "source.tif"
    data = np.random.default_rng(5).integers(0, 30000, size=(1000, 1000), dtype=np.int16)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=1000,
        height=1000,
        count=1,
        dtype="int16",
        crs=raster_crs,
        transform=transform,
    ) as out:
        out.write(data, 1)
    inner = (transform * (100, 900)) + (transform * (900, 100))
    exact_picks(path, transform_bounds(raster_crs, crs, *inner), size, crs)

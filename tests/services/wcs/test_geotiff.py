"""The GeoTIFF written with tifffile reads back through GDAL as the grid, CRS, nodata, band
descriptions and values it was given; CRSs without an EPSG code are left to GDAL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_bounds

from ogcserve.services.wcs.geotiff import geotiff

CASES = [
    ("EPSG:3857", "int16", -9999.0, [""]),
    ("EPSG:4326", "float32", math.nan, ["elevation"]),
    ("EPSG:32631", "uint8", 0.0, ["red", "green & <blue>", ""]),
    ("EPSG:3035", "float64", -3.5, ["a", "b"]),
    ("EPSG:2056", "uint16", None, ["", ""]),
]


@pytest.mark.parametrize(("code", "dtype", "nodata", "names"), CASES)
def test_reads_back_through_gdal(
    code: str, dtype: str, nodata: float | None, names: list[str]
) -> None:
    rng = np.random.default_rng(7)
    data = (rng.random((len(names), 37, 53)) * 200).astype(dtype)
    if nodata is not None:
        data[:, :3, :5] = nodata
    transform = from_bounds(2.5, 48.25, 3.75, 49.0, 53, 37)
    body = geotiff(data, CRS.from_user_input(code), transform, nodata, names)
    assert body is not None
    with rasterio.MemoryFile(body) as memory, memory.open() as got:
        assert got.crs == CRS.from_user_input(code)
        assert got.crs.to_epsg() == int(code.split(":")[1])
        assert got.transform.almost_equals(transform, precision=1e-12)
        assert (got.width, got.height, got.count) == (53, 37, len(names))
        assert got.dtypes[0] == dtype
        if nodata is None:
            assert got.nodata is None
        elif math.isnan(nodata):
            assert got.nodata is not None and math.isnan(got.nodata)
        else:
            assert got.nodata == nodata
        assert [d or "" for d in got.descriptions] == names
        assert np.array_equal(got.read(), data, equal_nan=True)


def test_crs_without_epsg_code_is_left_to_gdal() -> None:
    custom = CRS.from_proj4("+proj=ortho +lat_0=50 +lon_0=10 +datum=WGS84 +units=m")
    data = np.zeros((1, 4, 4), dtype="int16")
    assert geotiff(data, custom, from_bounds(0, 0, 4, 4, 4, 4), None, [""]) is None

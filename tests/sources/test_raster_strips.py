"""Large raster reads are done in strips of rows with a check between them (the request's
deadline stops the work there), and the strips change no pixel: every read below is compared
with the same read done in one piece."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform_bounds

from ogcserve.coverages import CoverageRequest
from ogcserve.sources import raster, raster_nearest, raster_warp
from ogcserve.sources.raster import RasterSource

UTM = Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 5600000.0)


class StopError(Exception):
    """What the test's check raises."""


@pytest.fixture(scope="module")
def utm_tif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600 x 500 int16 UTM raster with nodata and a nodata block."""
    path = tmp_path_factory.mktemp("strips") / "utm.tif"
    data = np.random.default_rng(11).integers(0, 30000, size=(500, 600), dtype=np.int16)
    data[:40, :40] = -9999
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=600,
        height=500,
        count=1,
        dtype="int16",
        crs="EPSG:32631",
        transform=UTM,
        nodata=-9999,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as out:
        out.write(data, 1)
    return path


def _tiny_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raster_nearest, "_STRIP_PIXELS", 2_000)
    monkeypatch.setattr(raster_warp, "_WARP_PIXELS", 2_000)
    monkeypatch.setattr(raster_warp, "_WARP_STRIP", 2_000)
    monkeypatch.setattr(raster, "_READ_PIXELS", 2_000)


EXTENT = (400000.0, 5595000.0, 406000.0, 5600000.0)
PART = (401234.0, 5596000.0, 408000.0, 5601500.0)  # over the raster's east and north edges


def _assert_strips_change_nothing(
    path: Path, request: CoverageRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`request` read whole, then in tiny strips (checked before each): the same pixels."""
    source = RasterSource(path)
    try:
        whole = source.read(request)
        _tiny_strips(monkeypatch)
        checks: list[int] = []
        stripped = source.read(request, lambda: checks.append(1))
    finally:
        source.close()
    assert len(checks) > 1  # it was done in strips, checked before each
    assert np.array_equal(np.ma.getmaskarray(stripped), np.ma.getmaskarray(whole))
    assert np.array_equal(stripped.filled(0), whole.filled(0))


CASES = [
    # request CRS, area (UTM), size, resampling
    ("EPSG:3857", EXTENT, (401, 377), "nearest"),  # our sampler
    ("EPSG:3857", PART, (300, 251), "nearest"),
    ("EPSG:4326", EXTENT, (333, 290), "nearest"),
    ("EPSG:3035", EXTENT, (120, 97), "nearest"),  # coarser than the raster: decimated read
    ("EPSG:32631", (400003.0, 5595001.0, 405997.0, 5599999.0), (777, 650), "nearest"),
]


@pytest.mark.parametrize(("crs", "area", "size", "resampling"), CASES)
def test_strips_change_no_pixel(
    utm_tif: Path,
    monkeypatch: pytest.MonkeyPatch,
    crs: str,
    area: tuple[float, float, float, float],
    size: tuple[int, int],
    resampling: str,
) -> None:
    bbox = transform_bounds("EPSG:32631", crs, *area) if crs != "EPSG:32631" else area
    request = CoverageRequest(bbox, crs, size[0], size[1], resampling)
    _assert_strips_change_nothing(utm_tif, request, monkeypatch)


def test_gdal_warps_nearest_alike_in_strips(utm_tif: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where our sampler gives up, GDAL's warper does it, in strips: the same pixels. (Its
    bilinear, cubic and average kernels are fitted to each chunk of work, so large outputs
    with those differ slightly in strips, as they did with GDAL's own chunks.)"""
    monkeypatch.setattr(raster_nearest, "_TOLERANCE", -1.0)  # the sampler always gives up
    bbox = transform_bounds("EPSG:32631", "EPSG:3857", *PART)
    request = CoverageRequest(bbox, "EPSG:3857", 420, 390)
    _assert_strips_change_nothing(utm_tif, request, monkeypatch)


def test_the_native_grid_is_read_in_strips(utm_tif: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = CoverageRequest(EXTENT, "EPSG:32631", 600, 500)
    _assert_strips_change_nothing(utm_tif, request, monkeypatch)


@pytest.mark.parametrize("resampling", ["nearest", "bilinear", "cubic"])
@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:32631"])
def test_a_check_that_raises_stops_the_read_midway(
    utm_tif: Path, monkeypatch: pytest.MonkeyPatch, resampling: str, crs: str
) -> None:
    """The deadline's check raises: the read stops there, its error unchanged (not wrapped
    as a source error)."""
    _tiny_strips(monkeypatch)
    bbox = transform_bounds("EPSG:32631", crs, *EXTENT) if crs != "EPSG:32631" else EXTENT
    size = (600, 500) if crs == "EPSG:32631" else (640, 480)
    request = CoverageRequest(bbox, crs, size[0], size[1], resampling)
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise StopError

    source = RasterSource(utm_tif)
    try:
        with pytest.raises(StopError):
            source.read(request, check)
    finally:
        source.close()
    assert len(calls) == 3

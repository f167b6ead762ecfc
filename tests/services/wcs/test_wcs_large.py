"""A 20,000 x 20,000 raster is served by window: memory follows the request, not the file."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window
from wcs_support import open_tiff

from ogcserve.server import Server
from ogcserve.testing import Result, call, make_server

LARGE_YAML = """\
name: large
title: Large
layers:
  - name: large
    source: {type: raster, path: large.tif}
"""
MERCATOR = "crs: [EPSG:32631, EPSG:3857]\n"


def _write_large(path: Path) -> np.ndarray:
    """A sparse tiled uint8 raster (400 MB if read whole) with one written block."""
    block = np.arange(512 * 512, dtype=np.uint32).reshape(1, 512, 512).astype(np.uint8)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=20_000,
        height=20_000,
        count=1,
        dtype="uint8",
        crs="EPSG:32631",
        transform=Affine(1.0, 0.0, 400000.0, 0.0, -1.0, 5600000.0),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        sparse_ok=True,
        nodata=None,
    ) as out:
        out.write(block, window=Window(10_240, 10_240, 512, 512))
    return block


def _measured(server: Server, query: str) -> tuple[Result, int]:
    """The answer to `query` and the peak of Python memory while it was made."""
    tracemalloc.start()
    try:
        result = call(server, query)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_raster_read_by_window(tmp_path: Path) -> None:
    block = _write_large(tmp_path / "large.tif")
    (tmp_path / "large.yaml").write_text(LARGE_YAML)
    server = make_server([tmp_path / "large.yaml"])
    try:
        x0, y0 = 400000 + 10_240, 5600000 - 10_240
        query = (
            "/ows?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=large"
            f"&SUBSET=E({x0},{x0 + 512})&SUBSET=N({y0 - 512},{y0})"
        )
        call(server, query)  # opens the source once
        result, peak = _measured(server, query)
    finally:
        server.close()
    assert result.status == 200
    out = open_tiff(result.body)
    assert (out.width, out.height) == (512, 512)
    assert np.array_equal(out.read(), block)
    assert peak < 40 * 2**20  # the file is 400 MB of pixels


@pytest.mark.parametrize(
    "extra",
    [
        "",
        "&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/3857",
        "&INTERPOLATION=http://www.opengis.net/def/interpolation/OGC/1/average",
    ],
)
def test_the_whole_large_raster_at_a_coarse_size(tmp_path: Path, extra: str) -> None:
    """The whole 20,000 x 20,000 raster at 500 x 500 (natively, reprojected, averaged) is
    read decimated: memory follows the 500 x 500 answer, not the 400 MB of pixels."""
    _write_large(tmp_path / "large.tif")
    (tmp_path / "large.yaml").write_text(LARGE_YAML.replace("layers:", MERCATOR + "layers:"))
    server = make_server([tmp_path / "large.yaml"])
    try:
        query = (
            "/ows?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=large"
            "&SCALESIZE=E(500),N(500)" + extra
        )
        call(server, query)  # opens the source once
        result, peak = _measured(server, query)
    finally:
        server.close()
    assert result.status == 200, result.body[:300]
    out = open_tiff(result.body)
    assert (out.width, out.height) == (500, 500)
    assert 0 < np.count_nonzero(out.read()) < 500  # the 512 x 512 block, about 13 x 13 here
    assert peak < 40 * 2**20


@pytest.mark.parametrize(
    "query",
    [
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=large",
        "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=large&FORMAT=image/tiff"
        "&BOUNDINGBOX=400000.5,5580000.5,419999.5,5599999.5,urn:ogc:def:crs:EPSG::32631",
        "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=large&CRS=EPSG:32631&FORMAT=GeoTIFF"
        "&BBOX=400000,5580000,420000,5600000&WIDTH=20000&HEIGHT=20000",
    ],
)
def test_the_whole_large_raster_natively_is_refused(tmp_path: Path, query: str) -> None:
    """20,000 pixels a side is above `wcs_max_size` (8192 by default): an error naming the
    limit, before anything is read, not a 400 MB answer."""
    _write_large(tmp_path / "large.tif")
    (tmp_path / "large.yaml").write_text(LARGE_YAML)
    server = make_server([tmp_path / "large.yaml"])
    try:
        result, peak = _measured(server, "/ows?SERVICE=WCS&" + query)
    finally:
        server.close()
    assert result.status == 400, result.body[:300]
    assert b"InvalidParameterValue" in result.body and b"8192" in result.body
    assert peak < 40 * 2**20


BUDGET_YAML = """\
name: budget
title: Budget
crs: [EPSG:32631, EPSG:3857]
layers:
  - name: dem
    source: {type: raster, path: dem.tif}
"""


def test_a_large_reprojected_coverage_stops_at_the_budget(tmp_path: Path) -> None:
    """8192 x 8192 reprojected takes many seconds: the read stops between two strips once the
    budget (0.5 s) is spent, and the client gets the OGC exception for it (503). It used to
    run to its end (182 s on a loaded machine) and answer 200."""
    data = np.random.default_rng(1).integers(0, 3000, size=(1500, 1500), dtype=np.int16)
    with rasterio.open(
        tmp_path / "dem.tif",
        "w",
        driver="GTiff",
        width=1500,
        height=1500,
        count=1,
        dtype="int16",
        crs="EPSG:32631",
        transform=Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 5600000.0),
    ) as out:
        out.write(data, 1)
    (tmp_path / "budget.yaml").write_text(BUDGET_YAML)
    server = make_server([tmp_path / "budget.yaml"], request_timeout=0.5)
    try:
        result = call(
            server,
            "/ows?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=dem"
            "&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/3857"
            "&SCALESIZE=E(8192),N(8192)&FORMAT=image/tiff",
        )
    finally:
        server.close()
    assert result.status == 503, result.body[:300]
    assert b"ows:ExceptionReport" in result.body
    assert b"The request exceeded the time budget of 0.5 s" in result.body

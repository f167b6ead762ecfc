"""Overviews are read when the requested resolution allows, in every version and every way of
asking for it. The raster is 1 everywhere and its overviews (external .ovr files, as
`gdaladdo -ro` writes them) hold 2 at the 2x level and 4 at the 4x level: a value of 2 or 4 in
an answer can only come from that overview level."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from wcs_support import open_tiff

from ogcserve.server import Server
from ogcserve.testing import call, make_server

PROJECT_YAML = """\
name: overviews
title: Overviews
crs: [EPSG:32631, EPSG:3857]
layers:
  - name: dem
    source: {type: raster, path: dem.tif}
"""
LINEAR = "http://www.opengis.net/def/interpolation/OGC/1/linear"
AVERAGE = "http://www.opengis.net/def/interpolation/OGC/1/average"
MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
V2 = "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=dem&FORMAT=image/tiff"
V1 = (
    "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=dem&CRS=EPSG:32631&FORMAT=GeoTIFF"
    "&BBOX=500000,5589760,510240,5600000"
)
UTM = "urn:ogc:def:crs:EPSG::32631"
# 1.1.1 names the centres of the corner pixels: those of a 256 x 256 grid of 40 m.
V11 = (
    "VERSION=1.1.1&REQUEST=GetCoverage&IDENTIFIER=dem&FORMAT=image/tiff"
    f"&BOUNDINGBOX=500020,5589780,510220,5599980,{UTM}&GRIDBASECRS={UTM}&GRIDOFFSETS=40,0,0,-40"
)


def _write(path: Path, size: int, value: int) -> None:
    res = 10240 / size
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        crs="EPSG:32631",
        transform=Affine(res, 0.0, 500000.0, 0.0, -res, 5600000.0),
    ) as out:
        out.write(np.full((1, size, size), value, dtype="uint8"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    _write(tmp_path / "dem.tif", 1024, 1)
    _write(tmp_path / "dem.tif.ovr", 512, 2)  # GDAL's external overview: the 2x level
    _write(tmp_path / "dem.tif.ovr.ovr", 256, 4)  # and the overview of that: the 4x level
    with rasterio.open(tmp_path / "dem.tif") as ds:
        assert ds.overviews(1) == [2, 4]
    (tmp_path / "overviews.yaml").write_text(PROJECT_YAML)
    srv = make_server([tmp_path / "overviews.yaml"])
    yield srv
    srv.close()


@pytest.mark.parametrize(
    ("query", "size", "level"),
    [
        (V2, 1024, 1),  # the native grid: the raster itself
        (V2 + "&SCALESIZE=E(700),N(700)", 700, 1),  # 1.46x: too fine for the 2x level
        (V2 + "&SCALESIZE=E(400),N(400)", 400, 2),  # 2.56x: the 2x level, not the 4x
        (V2 + "&SCALEFACTOR=4", 256, 4),
        (V2 + "&SCALESIZE=E(256),N(256)&INTERPOLATION=" + LINEAR, 256, 4),
        (V2 + "&SCALESIZE=E(256),N(256)&INTERPOLATION=" + AVERAGE, 256, 4),
        (V2 + "&SCALESIZE=E(100),N(100)", 100, 4),
        (V2 + "&SCALESIZE=E(2),N(2)", 2, 4),
        (V2 + "&SCALESIZE=E(256),N(256)&OUTPUTCRS=" + MERCATOR, 256, 4),
        (V2 + "&SCALESIZE=E(400),N(400)&OUTPUTCRS=" + MERCATOR, 400, 2),
        (V1 + "&WIDTH=256&HEIGHT=256", 256, 4),
        (V1 + "&RESX=20&RESY=20", 512, 1),  # exactly 2x: read as it is (the exact picks)
        (V1 + "&RESX=25.6&RESY=25.6&INTERPOLATION=bilinear", 400, 2),
        (V11, 256, 4),
    ],
)
def test_the_overview_the_resolution_allows_is_read(
    server: Server, query: str, size: int, level: int
) -> None:
    result = call(server, "/ows?SERVICE=WCS&" + query)
    assert result.status == 200, result.body[:400]
    with open_tiff(result.body) as out:
        assert (out.width, out.height) == (size, size)
        values = out.read(1)
    inside = values[values != 0]  # (reprojected: the corners outside the raster are 0)
    assert inside.size > 0.9 * values.size
    assert set(np.unique(inside).tolist()) == {level}

"""Every kind of raster layer a project names is served exactly: a GeoTIFF, another GDAL
format (ERDAS Imagine), a VRT mosaic file and a folder of GeoTIFF tiles. Each cuts or copies
the demo elevation, and the whole coverage comes back as the demo's pixels on its grid."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from wcs_support import ELEVATION, get, open_tiff

from ogcserve.server import Server
from ogcserve.testing import make_server

_TILES = {
    "nw": Window(0, 0, 50, 40),
    "ne": Window(50, 0, 45, 40),
    "sw": Window(0, 40, 50, 50),
    "se": Window(50, 40, 45, 50),
}
_KINDS = {"geotiff": "elevation.tif", "imagine": "elevation.img", "folder": "tiles"}


def _cut(folder: Path) -> list[Path]:
    """The demo elevation as four GeoTIFF tiles in `folder`."""
    folder.mkdir()
    paths = []
    with rasterio.open(ELEVATION) as src:
        for name, window in _TILES.items():
            profile = src.profile | {
                "width": window.width,
                "height": window.height,
                "transform": src.window_transform(window),
            }
            path = folder / f"{name}.tif"
            with rasterio.open(path, "w", **profile) as out:
                out.write(src.read(window=window))
            paths.append(path)
    return paths


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    shutil.copyfile(ELEVATION, tmp_path / "elevation.tif")
    with rasterio.open(ELEVATION) as src:
        profile, data = src.profile | {"driver": "HFA"}, src.read()
    with rasterio.open(tmp_path / "elevation.img", "w", **profile) as out:
        out.write(data)
    tiles = _cut(tmp_path / "tiles")
    kinds = dict(_KINDS)
    if shutil.which("gdalbuildvrt") is not None:
        vrt = tmp_path / "mosaic.vrt"
        subprocess.run(["gdalbuildvrt", "-q", str(vrt), *map(str, tiles)], check=True)
        kinds["vrt"] = "mosaic.vrt"
    layers = "".join(
        f"  - name: {name}\n    source: {{type: raster, path: {path}}}\n"
        for name, path in kinds.items()
    )
    project = tmp_path / "kinds.yaml"
    project.write_text(f"name: kinds\ntitle: Kinds\nlayers:\n{layers}")
    srv = make_server([project])
    yield srv
    srv.close()


@pytest.mark.parametrize("kind", ["geotiff", "imagine", "folder", "vrt"])
@pytest.mark.parametrize(
    "query",
    [
        "VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID={}",
        "VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE={}&CRS=EPSG:4326&FORMAT=GeoTIFF"
        "&BBOX=5.741666666666667,49.44166666666667,6.533333333333333,50.19166666666667"
        "&WIDTH=95&HEIGHT=90",
    ],
)
def test_each_kind_is_served_exactly(server: Server, kind: str, query: str) -> None:
    names = get(server, "VERSION=2.0.1&REQUEST=GetCapabilities").body
    if f"<wcs:CoverageId>{kind}</wcs:CoverageId>".encode() not in names:
        assert kind == "vrt", names[:400]
        pytest.skip("gdalbuildvrt is not installed")
    result = get(server, query.format(kind))
    assert result.status == 200, result.body[:400]
    with rasterio.open(ELEVATION) as src, open_tiff(result.body) as out:
        assert out.shape == src.shape and out.crs == src.crs
        assert out.transform.almost_equals(src.transform, precision=1e-12)
        assert out.nodata == src.nodata
        assert np.array_equal(out.read(), src.read())

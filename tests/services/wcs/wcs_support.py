"""WCS test support: a project of real rasters written with rasterio (the demo's elevation,
a three-band UTM raster with nodata and band names, a 20,000 x 20,000 one), a plugin that
forbids one coverage, and request helpers."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from lxml import etree

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.testing import Result, call, make_server

DEMO = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"
ELEVATION = DEMO / "elevation.tif"
NS = {
    "wcs": "http://www.opengis.net/wcs/2.0",
    "wcs1": "http://www.opengis.net/wcs",
    "ows": "http://www.opengis.net/ows/2.0",
    "ows11": "http://www.opengis.net/ows/1.1",
    "wcs11": "http://www.opengis.net/wcs/1.1",
    "gml": "http://www.opengis.net/gml/3.2",
    "gml3": "http://www.opengis.net/gml",
    "swe": "http://www.opengis.net/swe/2.0",
    "ogc": "http://www.opengis.net/ogc",
}
PROJECT_YAML = """\
name: wcs
title: WCS test
crs: [EPSG:4326, EPSG:3857, EPSG:32631]
layers:
  - name: elevation
    title: Elevation
    source: {type: raster, path: elevation.tif}
    wcs: {publish: true}
  - name: rgb
    title: Three bands
    source: {type: raster, path: rgb.tif}
    wcs: {publish: true}
  - name: secret
    title: Forbidden
    source: {type: raster, path: elevation.tif}
    wcs: {publish: true}
  - name: hidden
    title: Not published
    source: {type: raster, path: elevation.tif}
    wcs: {publish: false}
"""
# The UTM raster: 120 columns x 80 rows of 30 m from (500000, 5500000).
RGB_TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 5500000.0)
RGB_NODATA = 0


def write_rgb(path: Path) -> None:
    """Three uint16 bands named red/green/blue, nodata 0 in a 10 x 10 corner block."""
    rng = np.random.default_rng(15)
    data = rng.integers(1, 60000, size=(3, 80, 120), dtype=np.uint16)
    data[:, :10, :10] = RGB_NODATA
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=120,
        height=80,
        count=3,
        dtype="uint16",
        crs="EPSG:32631",
        transform=RGB_TRANSFORM,
        nodata=RGB_NODATA,
    ) as out:
        out.write(data)
        for band, name in enumerate(("red", "green", "blue"), start=1):
            out.set_band_description(band, name)


def write_project(folder: Path) -> Path:
    """The project file, with its rasters beside it."""
    shutil.copyfile(ELEVATION, folder / "elevation.tif")
    write_rgb(folder / "rgb.tif")
    project = folder / "wcs.yaml"
    project.write_text(PROJECT_YAML)
    return project


class NoSecret(AccessControlFilter):
    """Everyone may read everything but the layer `secret`, which only X-Role: admin reads."""

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def role(self) -> str:
        return self.iface.env("HTTP_X_ROLE")

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        if layer.name == "secret" and self.role() != "admin":
            return LayerPermissions(False, False, False, False)
        return LayerPermissions()

    def cache_key(self) -> str:
        return self.role()


def no_secret(iface: ServerInterface) -> None:
    iface.register_access_control(NoSecret(iface), priority=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = make_server([write_project(tmp_path)], plugins=[no_secret], wcs_max_size=2000)
    yield srv
    srv.close()


def get(server: Server, query: str, role: str = "") -> Result:
    headers = {"X-Role": role} if role else {}
    return call(server, "/ows?SERVICE=WCS&" + query, headers=headers)


def xml(result: Result) -> etree._Element:
    return etree.fromstring(result.body)


def exception_code(result: Result) -> str:
    root = xml(result)
    found = root.xpath("//@exceptionCode | //ogc:ServiceException/@code", namespaces=NS)
    return str(found[0]) if found else ""


def open_tiff(body: bytes) -> rasterio.io.DatasetReader:
    """The GeoTIFF `body` opened; the dataset keeps its in-memory file alive (a `MemoryFile`
    dropped while its dataset is read frees the bytes under it)."""
    return rasterio.open(io.BytesIO(body))

"""OWSLib, a real WMS client, against a real `ogcserve serve` process."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from ogcserve.testing import serve_process

owslib_wms = pytest.importorskip("owslib.wms")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_process() as base:
        yield f"{base}/ows"


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_owslib_reads_capabilities_and_draws(url: str, version: str) -> None:
    wms = owslib_wms.WebMapService(url, version=version)
    assert wms.identification.title == "ogcserve demo"
    assert {"countries", "cities", "places", "elevation"} <= set(wms.contents)
    assert wms["countries"].queryable == 1
    assert "image/png" in wms.getOperationByName("GetMap").formatOptions
    # OWSLib takes x/y and, for 1.3.0, swaps EPSG:4326 itself (its `srs` becomes CRS)
    response = wms.getmap(
        layers=["countries"],
        styles=[""],
        bbox=(-180, -90, 180, 90),
        size=(360, 180),
        format="image/png",
        transparent=True,
        srs="EPSG:4326",
    )
    picture = Image.open(io.BytesIO(response.read()))
    assert picture.size == (360, 180)
    assert picture.convert("RGBA").getpixel((182, 44))[3] == 255
    info = wms.getfeatureinfo(
        layers=["countries"],
        query_layers=["countries"],
        styles=[""],
        bbox=(-180, -90, 180, 90),
        size=(360, 180),
        xy=(182, 44),
        info_format="application/json",
        srs="EPSG:4326",
    )
    assert b"France" in info.read()


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_owslib_sees_the_project_as_a_layer_and_draws_it(url: str, version: str) -> None:
    wms = owslib_wms.WebMapService(url, version=version)
    root = wms["demo"]
    assert root.parent is None and root.title == "ogcserve demo"
    assert {child.name for child in root.children} == {
        "countries",
        "places",
        "nyc_boroughs",
        "nc_counties",
        "elevation",
    }
    assert "demo" in wms.contents and root.queryable == 1

    def draw(layers: list[str]) -> bytes:
        response = wms.getmap(
            layers=layers,
            styles=[""] * len(layers),
            bbox=(-180, -90, 180, 90),
            size=(360, 180),
            format="image/png",
            transparent=True,
            srs="EPSG:4326",
        )
        return bytes(Image.open(io.BytesIO(response.read())).convert("RGBA").tobytes())

    project = draw(["demo"])
    assert project == draw(["countries", "places", "nyc_boroughs", "nc_counties", "elevation"])
    assert project != draw(["countries"])

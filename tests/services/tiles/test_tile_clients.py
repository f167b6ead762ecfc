"""Real clients against a real `ogcserve serve` (two workers sharing the Redis cache): OWSLib's
WebMapTileService and GDAL's WMTS driver (gdalinfo, gdal_translate)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tile_support import REDIS_URL, redis_answers

from ogcserve.cache import RedisBackend
from ogcserve.testing import serve_process

owslib_wmts = pytest.importorskip("owslib.wmts")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    if not redis_answers():
        pytest.skip("no Redis at 127.0.0.1:6379 (.ci/run starts one)")
    env = {
        **os.environ,
        "OGCSERVE_CACHE_BACKEND": "redis",
        "OGCSERVE_CACHE_REDIS_URL": REDIS_URL,
        "OGCSERVE_CACHE_REDIS_PREFIX": f"e2e-{uuid.uuid4().hex}:",
    }
    with serve_process(env=env) as url:
        yield url
    RedisBackend(REDIS_URL, env["OGCSERVE_CACHE_REDIS_PREFIX"]).drop_tree("demo")


def test_owslib_reads_the_capabilities_and_gets_a_tile(base: str) -> None:
    wmts = owslib_wmts.WebMapTileService(f"{base}/ows?SERVICE=WMTS&REQUEST=GetCapabilities")
    assert {"countries", "cities", "places", "demo"} <= set(wmts.contents)
    assert {"WebMercatorQuad", "WorldCRS84Quad"} <= set(wmts.tilematrixsets)
    layer = wmts.contents["countries"]
    assert "image/png" in layer.formats
    mercator = wmts.tilematrixsets["WebMercatorQuad"]
    assert mercator.tilematrix["3"].matrixwidth == 8
    tile = wmts.gettile(
        layer="countries",
        tilematrixset="WebMercatorQuad",
        tilematrix="1",
        row=0,
        column=0,
        format="image/png",
    )
    image = np.asarray(Image.open(io.BytesIO(tile.read())).convert("RGBA"))
    assert image.shape == (256, 256, 4) and (image[..., 3] > 0).mean() > 0.2
    # The same tile again, from the other worker or this one: from Redis either way.
    again = httpx.get(tile.geturl())
    assert again.headers["x-cache"] == "HIT"


def _gdal(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (.ci/run installs gdal-bin)")
    return path


def test_gdal_reads_the_wmts_and_draws_a_window(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"WMTS:{base}/ows?SERVICE=WMTS&REQUEST=GetCapabilities"
    # GDAL keeps the tiles it reads in ./gdalwmscache unless told otherwise.
    monkeypatch.setenv("GDAL_DEFAULT_WMS_CACHE_PATH", str(tmp_path / "gdal-cache"))
    listing = subprocess.run(
        [_gdal("gdalinfo"), source], capture_output=True, text=True, timeout=120, check=True
    )
    assert "layer=countries" in listing.stdout
    countries = f"{source},layer=countries,tilematrixset=WorldCRS84Quad"
    info = subprocess.run(
        [_gdal("gdalinfo"), countries], capture_output=True, text=True, timeout=120, check=True
    )
    assert "Driver: WMTS" in info.stdout and "CRS84" in info.stdout.replace("WGS 84", "CRS84")
    out = tmp_path / "europe.png"
    subprocess.run(
        [
            _gdal("gdal_translate"),
            "-of",
            "PNG",
            "-outsize",
            "200",
            "100",
            "-projwin",
            "-10",
            "60",
            "30",
            "35",
            countries,
            str(out),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = np.asarray(Image.open(out).convert("RGBA"))
    assert image.shape[:2] == (100, 200)
    assert (image[..., 3] > 0).mean() > 0.3  # Europe's land


LAMBERT_PROJECT = """
name: france
title: France in Lambert-93
crs: [EPSG:2154, EPSG:4326]
layers:
  - name: countries
    title: Countries
    source: {{type: geopackage, path: {gpkg}, table: countries}}
    key: fid
    style: {{fill: "#cfe3c4", stroke: "#5b7f52"}}
"""


@pytest.fixture(scope="module")
def lambert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A project whose CRS list defines two tile matrix sets: EPSG:2154 (x/y) and EPSG:4326
    (latitude first)."""
    from ogcserve.testing import demo_project

    folder = tmp_path_factory.mktemp("lambert")
    gpkg = demo_project().parent / "natural_earth.gpkg"
    (folder / "france.yaml").write_text(LAMBERT_PROJECT.format(gpkg=gpkg))
    with serve_process(folder / "france.yaml", workers=1) as url:
        yield url


def test_owslib_reads_a_project_defined_matrix_set(lambert: str) -> None:
    wmts = owslib_wmts.WebMapTileService(f"{lambert}/wmts/france/1.0.0/WMTSCapabilities.xml")
    assert list(wmts.tilematrixsets) == [
        "WebMercatorQuad",
        "WorldCRS84Quad",
        "EPSG:2154",
        "EPSG:4326",
    ]
    lambert93 = wmts.tilematrixsets["EPSG:2154"]
    assert lambert93.crs == "urn:ogc:def:crs:EPSG::2154"
    level = lambert93.tilematrix["3"]
    # Lambert-93's area of use (France) from PROJ, its west and north edges as the corner.
    west, north = level.topleftcorner
    assert -400_000 < west < -300_000 and 7_200_000 < north < 7_300_000
    assert (level.matrixwidth, level.matrixheight) == (8, 6)
    # EPSG:4326 is latitude first: so is its corner.
    assert wmts.tilematrixsets["EPSG:4326"].tilematrix["0"].topleftcorner == (90.0, -180.0)
    tile = wmts.gettile(
        layer="countries",
        tilematrixset="EPSG:2154",
        tilematrix="3",
        row=2,
        column=3,
        format="image/png",
    )
    image = np.asarray(Image.open(io.BytesIO(tile.read())).convert("RGBA"))
    assert image.shape == (256, 256, 4) and (image[..., 3] > 0).mean() > 0.5  # France


@pytest.mark.parametrize(
    ("tms", "window", "land"),
    [
        # Lambert-93 metres around France; latitude/longitude order is GDAL's business.
        ("EPSG:2154", ["100000", "7150000", "1100000", "6050000"], 0.5),
        ("EPSG:4326", ["-5", "51", "8", "43"], 0.5),
    ],
)
def test_gdal_reads_a_project_defined_matrix_set(
    lambert: str, tmp_path: Path, tms: str, window: list[str], land: float
) -> None:
    source = f"WMTS:{lambert}/wmts/france/1.0.0/WMTSCapabilities.xml,layer=countries"
    env = {**os.environ, "GDAL_DEFAULT_WMS_CACHE_PATH": str(tmp_path / "gdal-cache")}
    layer = f"{source},tilematrixset={tms}"
    info = subprocess.run(
        [_gdal("gdalinfo"), layer], capture_output=True, text=True, timeout=120, env=env
    )
    assert "Driver: WMTS" in info.stdout and f'ID["EPSG",{tms.split(":")[1]}]' in info.stdout
    out = tmp_path / "france.png"
    subprocess.run(
        [
            _gdal("gdal_translate"),
            "-of",
            "PNG",
            "-outsize",
            "100",
            "100",
            "-projwin",
            *window,
            layer,
            str(out),
        ],
        capture_output=True,
        timeout=120,
        check=True,
        env=env,
    )
    image = np.asarray(Image.open(out).convert("RGBA"))
    assert image.shape[:2] == (100, 100)
    assert (image[..., 3] > 0).mean() > land

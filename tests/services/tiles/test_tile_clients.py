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


def test_gdal_reads_the_wmts_and_draws_a_window(base: str, tmp_path: Path) -> None:
    # GDAL's WMTS driver keeps a tile cache (`gdalwmscache/`) in its working directory.
    source = f"WMTS:{base}/ows?SERVICE=WMTS&REQUEST=GetCapabilities"
    listing = subprocess.run(
        [_gdal("gdalinfo"), source],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    assert "layer=countries" in listing.stdout
    countries = f"{source},layer=countries,tilematrixset=WorldCRS84Quad"
    info = subprocess.run(
        [_gdal("gdalinfo"), countries],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
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
        cwd=tmp_path,
    )
    image = np.asarray(Image.open(out).convert("RGBA"))
    assert image.shape[:2] == (100, 200)
    assert (image[..., 3] > 0).mean() > 0.3  # Europe's land

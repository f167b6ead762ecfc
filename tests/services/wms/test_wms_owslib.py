"""OWSLib, a real WMS client, against a real `ogcserve serve` process."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

owslib_wms = pytest.importorskip("owslib.wms")

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("QGIS_PLUGINPATH",
                                                           "OGCSERVE_PLUGINPATH")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ogcserve", "serve", "--port", str(port), "--log-level",
         "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("server did not start")
            time.sleep(0.2)
        yield f"{base}/ows"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_owslib_reads_capabilities_and_draws(url: str, version: str) -> None:
    wms = owslib_wms.WebMapService(url, version=version)
    assert wms.identification.title == "ogcserve demo"
    assert {"countries", "cities", "places", "elevation"} <= set(wms.contents)
    assert wms["countries"].queryable == 1
    assert "image/png" in wms.getOperationByName("GetMap").formatOptions
    # OWSLib takes x/y and, for 1.3.0, swaps EPSG:4326 itself (its `srs` becomes CRS)
    response = wms.getmap(layers=["countries"], styles=[""], bbox=(-180, -90, 180, 90),
                          size=(360, 180), format="image/png", transparent=True,
                          srs="EPSG:4326")
    picture = Image.open(io.BytesIO(response.read()))
    assert picture.size == (360, 180)
    assert picture.convert("RGBA").getpixel((182, 44))[3] == 255
    info = wms.getfeatureinfo(layers=["countries"], query_layers=["countries"], styles=[""],
                              bbox=(-180, -90, 180, 90), size=(360, 180), xy=(182, 44),
                              info_format="application/json", srs="EPSG:4326")
    assert b"France" in info.read()

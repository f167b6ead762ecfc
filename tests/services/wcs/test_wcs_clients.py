"""Real clients against a real `ogcserve serve`: GDAL's WCS driver (gdal_translate) in 1.0.0,
1.1.1 and 2.0.1, OWSLib's WebCoverageService in 1.0.0 and 2.0.1, and QGIS desktop's WCS
provider. Each gets the source's grid and values, compared with the file by rasterio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from wcs_support import ELEVATION, write_project

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).with_name("qgis_wcs_client.py")
QGIS_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("wcs_clients")
    project = write_project(folder)
    with serve_process(project) as url:
        yield url, folder


def _gdal_translate(url: str, out: Path, *options: str) -> None:
    if shutil.which("gdal_translate") is None:
        pytest.skip("gdal_translate is not installed")
    cache = tempfile.mkdtemp(prefix="gdal-wcs-")  # GDAL's WCS cache: none shared between runs
    try:
        done = subprocess.run(
            ["gdal_translate", "-q", "-oo", f"CACHE={cache}", *options, f"WCS:{url}", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("version", ["1.0.0", "1.1.1", "2.0.1"])
def test_gdal_translate_whole_coverage(
    served: tuple[str, Path], tmp_path: Path, version: str
) -> None:
    url, _ = served
    out = tmp_path / "out.tif"
    _gdal_translate(f"{url}/ows?version={version}&coverage=elevation", out)
    with rasterio.open(ELEVATION) as src, rasterio.open(out) as copy:
        assert copy.shape == src.shape
        assert copy.crs == src.crs
        assert copy.transform.almost_equals(src.transform, precision=1e-9)
        assert np.array_equal(copy.read(), src.read())


@pytest.mark.parametrize("version", ["1.0.0", "2.0.1"])
def test_gdal_translate_window_of_a_multiband_raster(
    served: tuple[str, Path], tmp_path: Path, version: str
) -> None:
    url, folder = served
    out = tmp_path / "out.tif"
    _gdal_translate(
        f"{url}/ows?version={version}&coverage=rgb", out, "-srcwin", "10", "20", "40", "30"
    )
    with rasterio.open(folder / "rgb.tif") as src, rasterio.open(out) as copy:
        window = Window(10, 20, 40, 30)
        assert copy.count == 3 and copy.shape == (30, 40)
        assert copy.transform.almost_equals(src.window_transform(window), precision=1e-6)
        assert np.array_equal(copy.read(), src.read(window=window))


def test_owslib(served: tuple[str, Path]) -> None:
    from owslib.wcs import WebCoverageService

    url, _ = served
    with rasterio.open(ELEVATION) as src:
        expected = src.read(1, window=Window(31, 35, 36, 36))
        v2 = WebCoverageService(f"{url}/ows", version="2.0.1")
        assert sorted(v2.contents) == ["elevation", "rgb", "secret"]  # no plugin here
        grid = v2.contents["elevation"].grid
        assert grid.highlimits == ["94", "89"] and grid.axislabels == ["i", "j"]
        answer = v2.getCoverage(
            identifier="elevation",
            format="image/tiff",
            subsets=[("Long", 6.0, 6.3), ("Lat", 49.6, 49.9)],
        )
        with rasterio.MemoryFile(answer.read()) as memory, memory.open() as got:
            assert np.array_equal(got.read(1), expected)
        v1 = WebCoverageService(f"{url}/ows", version="1.0.0")
        assert sorted(v1.contents) == ["elevation", "rgb", "secret"]  # no plugin here
        assert v1.contents["elevation"].grid.highlimits == ["94", "89"]
        answer = v1.getCoverage(
            identifier="elevation",
            bbox=(6.0, 49.6, 6.3, 49.9),
            crs="EPSG:4326",
            format="GeoTIFF",
            width=36,
            height=36,
        )
        with rasterio.MemoryFile(answer.read()) as memory, memory.open() as got:
            assert np.array_equal(got.read(1), expected)
        # Not 1.1.1: OWSLib's 1.1 clients look for GeoServer's namespaces (".../wcs/1.1.1",
        # ".../wcs/1.1/ows"), which no OGC schema declares; our 1.1.1 documents are in the
        # standard's (valid against its schemas, test_wcs_schemas.py) and GDAL reads them
        # (test_gdal_translate_whole_coverage).


def _qgis(url: str, coverage: str) -> dict:  # type: ignore[type-arg]
    if not os.path.exists(QGIS_PYTHON):
        pytest.skip(f"{QGIS_PYTHON} is absent")
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("Debian's python3-qgis cannot be imported")
    home = tempfile.mkdtemp(prefix="qgis-home-")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home}
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(
            [QGIS_PYTHON, str(CLIENT), url, coverage],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"QGIS client failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def test_qgis_wcs_provider(served: tuple[str, Path]) -> None:
    url, _ = served
    report = _qgis(f"{url}/ows", "elevation")
    assert report["valid"], report
    with rasterio.open(ELEVATION) as src:
        assert report["crs"] == "EPSG:4326"
        assert report["size"] == [src.width, src.height]
        assert report["extent"] == pytest.approx(list(src.bounds), abs=1e-12)
        assert np.array_equal(np.array(report["values"]), src.read(1))


def test_png_answers_leave_the_server_log_clean(tmp_path: Path) -> None:
    """A real `ogcserve serve`: rasterio's NotGeoreferencedWarning went to its stderr on
    every PNG answer (grey + alpha, RGB + alpha)."""
    import urllib.request

    project = write_project(tmp_path)
    log = tmp_path / "serve.log"
    with serve_process(project, workers=1, log=log) as url:
        for coverage in ("elevation", "rgb", "elevation"):
            query = f"SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID={coverage}"
            with urllib.request.urlopen(f"{url}/ows?{query}&FORMAT=image/png") as answer:
                assert answer.read(4) == b"\x89PNG"
    text = log.read_text(errors="replace")
    assert "Warning" not in text, text[-2000:]

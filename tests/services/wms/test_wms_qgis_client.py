"""QGIS's own WMS provider (Debian's python3-qgis) against a real `ogcserve serve` process.

QGIS runs only under the system Python, so each check is a small script in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

SYSTEM_PYTHON = "/usr/bin/python3"

# Loads LAYERS as QGIS desktop does (a "wms" raster layer from a data source URI), renders the
# world at 360x180 and prints the extent QGIS read from the capabilities, how many pixels are
# drawn and a digest of the rendered pixels.
RENDER = """
import hashlib, sys
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsMapRendererSequentialJob,
                       QgsMapSettings, QgsRasterLayer, QgsRectangle)
from qgis.PyQt.QtCore import QSize
app = QgsApplication([], False)
app.initQgis()
url, layers = sys.argv[1], sys.argv[2]
# A QGIS WMS URI repeats layers= (and styles=) once per layer.
named = "".join(f"&layers={name}&styles=" for name in layers.split(","))
uri = f"url={url}{named}&format=image/png&crs=EPSG:4326"
layer = QgsRasterLayer(uri, "wms", "wms")
if not layer.isValid():
    print("invalid", layer.error().summary().replace(chr(10), " "))
    sys.exit(0)
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
settings.setExtent(QgsRectangle(-180, -90, 180, 90))
settings.setOutputSize(QSize(360, 180))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
image = job.renderedImage()
background = image.pixel(0, 0)
drawn = sum(image.pixel(x, y) != background for x in range(360) for y in range(180))
digest = hashlib.sha256(bytes(image.constBits().asarray(image.sizeInBytes()))).hexdigest()
box = layer.extent()
extent = ",".join(f"{v:.1f}" for v in (box.xMinimum(), box.yMinimum(), box.xMaximum(),
                                        box.yMaximum()))
print("valid", extent, drawn, digest, len(job.errors()))
"""


def _qgis_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, env=_env(), timeout=120
    )
    return probe.returncode == 0


def _env(home: Path | None = None) -> dict[str, str]:
    # The venv's PYTHONPATH (ogcserve's sources) must not shadow the system's packages.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if home is not None:  # its own QGIS profile and network disk cache
        env["HOME"] = str(home)
    return {**env, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    if not _qgis_available():
        pytest.skip(f"{SYSTEM_PYTHON} cannot import qgis.core (Debian's python3-qgis)")
    with serve_process() as base:
        yield f"{base}/ows"


def _render(url: str, layers: str, tmp_path: Path) -> list[str]:
    script = tmp_path / "render.py"
    script.write_text(RENDER)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(script), url, layers],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_qgis_loads_the_project_layer_and_draws_every_layer(url: str, tmp_path: Path) -> None:
    state, extent, drawn, digest, errors = _render(url, "demo", tmp_path)
    assert state == "valid", (extent, drawn)
    # The extent of the root layer, read from its EX_GeographicBoundingBox: the world.
    assert extent.startswith("-180.0,-90.0,180.0,"), extent
    assert int(errors) == 0
    assert int(drawn) > 360 * 180 // 4  # countries cover far more than a quarter of the map
    # The same picture as naming every layer, and not the picture of the countries alone.
    # QGIS lists sub-layers top first and reverses them into LAYERS (first is bottom).
    every = _render(url, "elevation,nc_counties,nyc_boroughs,cities,countries", tmp_path)
    assert every[0] == "valid" and every[3] == digest
    assert _render(url, "countries", tmp_path)[3] != digest


def test_qgis_refuses_a_layer_the_server_does_not_have(url: str, tmp_path: Path) -> None:
    assert _render(url, "nosuch", tmp_path)[0] == "invalid"


# QGIS desktop's Identify tool on a WMS layer: identify() in the feature format, at Paris.
# Prints each feature's sub-layer, its fields and values, and whether it carries a geometry
# (without WITH_GEOMETRY it does not, as in QGIS Server).
IDENTIFY = """
import sys
from qgis.core import QgsApplication, QgsPointXY, QgsRaster, QgsRasterLayer, QgsRectangle
app = QgsApplication([], False)
app.initQgis()
url, layers = sys.argv[1], sys.argv[2]
layer = QgsRasterLayer(f"url={url}&layers={layers}&styles=&format=image/png&crs=EPSG:4326",
                       "wms", "wms")
assert layer.isValid()
assert layer.dataProvider().capabilities() & layer.dataProvider().IdentifyFeature
result = layer.dataProvider().identify(QgsPointXY(2.35, 48.85), QgsRaster.IdentifyFormatFeature,
                                       QgsRectangle(-10, 30, 20, 60), 200, 200)
if not result.isValid():
    print("error", result.error().message().replace(chr(10), " "))
for stores in result.results().values():
    for store in stores:
        for feature in store.features():
            names = [field.name() for field in feature.fields()]
            print("feature", store.params()["sublayer"],
                  ";".join(f"{n}={feature[n]}" for n in names), feature.hasGeometry())
"""


def _identify(url: str, layers: str, tmp_path: Path) -> list[str]:
    script = tmp_path / "identify.py"
    script.write_text(IDENTIFY)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(script), url, layers],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("layers", ["countries", "demo"])
def test_qgis_identify_tool_reads_the_features_with_their_key(
    url: str, layers: str, tmp_path: Path
) -> None:
    # QGIS asks for the last format it reads as features; it reads JSON only under a header
    # spelled Content-Type, which uvicorn sends in lower case: GML must come last.
    lines = _identify(url, layers, tmp_path)
    france = [line for line in lines if "name=France" in line]
    assert len(france) == 1, lines
    assert ";fid=44;" in f";{france[0].split(' ')[2]};", france
    assert france[0].split(" ")[1] == layers  # QGIS files the answer under the layer it asked
    if layers == "demo":  # the project layer queries every layer: Paris, too
        assert any("name=Paris" in line for line in lines), lines

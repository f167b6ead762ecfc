"""QGIS's own network stack against a real server: its cache revalidates capabilities and
schemas (If-None-Match / If-Modified-Since), gets 304, and the layers stay valid."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

QGIS_PYTHON = "/usr/bin/python3"
SCRIPT = textwrap.dedent("""
    import sys
    from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer
    app = QgsApplication([], False)
    app.initQgis()
    url = sys.argv[1]
    for attempt in range(2):
        wms = QgsRasterLayer(
            f"crs=EPSG:4326&format=image/png&layers=countries&styles=&url={url}/ows", "w", "wms")
        wfs = QgsVectorLayer(
            f"{url}/ows?SERVICE=WFS&VERSION=2.0.0&TYPENAME=countries", "f", "WFS")
        print(attempt, wms.isValid(), wfs.isValid(), wfs.featureCount())
""")


def _qgis_missing() -> bool:
    try:
        probe = subprocess.run(
            [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return True
    return probe.returncode != 0


@pytest.mark.skipif(_qgis_missing(), reason=f"{QGIS_PYTHON} cannot import qgis.core")
def test_qgis_revalidates_and_keeps_its_layers(tmp_path: Path) -> None:
    script = tmp_path / "qgis_client.py"
    script.write_text(SCRIPT)
    log = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))  # a fresh QGIS profile and cache
    with serve_process(workers=2, log=log, log_level="info") as url:
        run = subprocess.run(
            [QGIS_PYTHON, str(script), url], capture_output=True, text=True, env=env, timeout=300
        )
    assert run.stdout.split("\n")[:2] == ["0 True True 177", "1 True True 177"], run.stderr
    text = log.read_text()
    assert '"GET /ows?SERVICE=WMS&REQUEST=GetCapabilities" 200' in text  # the first time
    assert '"GET /ows?SERVICE=WMS&REQUEST=GetCapabilities" 304' in text  # revalidated

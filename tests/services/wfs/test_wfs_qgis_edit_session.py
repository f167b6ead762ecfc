"""A QGIS desktop edit session on one WFS layer, as a user works: add a city, save, refresh;
rename and move it, save, refresh; delete it, save, refresh; then open the layer again.

Found in the acceptance of issue 10: every commit succeeded and the server stored each edit,
yet after "refresh" (reloadData) QGIS showed the city where it was before the move, and the
delete was never sent, because Qt's network cache reused the GetFeature answer of the same
second. QGIS talks straight to the server here (no recording proxy: its delay hid the bug).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfs_support import EDIT_YAML, make_parcels

from ogcserve.cli import demo_project
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

QGIS_PYTHON = "/usr/bin/python3"

SESSION = """
import sys
from qgis.core import (QgsApplication, QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer)
app = QgsApplication([], False)
app.initQgis()
url, version = sys.argv[1], sys.argv[2]
uri = f"url='{url}' typename='cities' version='{version}' restrictToRequestBBOX='0'"
layer = QgsVectorLayer(uri, "cities", "WFS")
assert layer.isValid()

def refreshed(source):
    source.dataProvider().reloadData()
    source.reload()
    return sorted(f"{f['name']}@{f.geometry().asWkt(3)}" for f in source.getFeatures()
                  if str(f["name"]).startswith("Acceptance"))

layer.startEditing()
city = QgsFeature(layer.fields())
city["name"] = "Acceptance"
city.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(2.3522, 48.8566)))
layer.addFeature(city)
print("added", layer.commitChanges(), refreshed(layer))
found = [f for f in layer.getFeatures() if f["name"] == "Acceptance"]
layer.startEditing()
layer.changeGeometry(found[0].id(), QgsGeometry.fromPointXY(QgsPointXY(13.405, 52.52)))
layer.changeAttributeValue(found[0].id(), layer.fields().indexOf("name"), "Acceptance moved")
print("moved", layer.commitChanges(), refreshed(layer))
found = [f for f in layer.getFeatures() if f["name"] == "Acceptance moved"]
layer.startEditing()
layer.deleteFeatures([f.id() for f in found])
print("deleted", layer.commitChanges(), refreshed(layer))
print("reopened", refreshed(QgsVectorLayer(uri, "again", "WFS")))
"""


def _qgis_missing() -> str | None:
    if not os.path.exists(QGIS_PYTHON):
        return f"{QGIS_PYTHON} is absent"
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    )
    return None if probe.returncode == 0 else "Debian's python3-qgis cannot be imported"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _qgis_missing()
    if reason:
        pytest.skip(f"QGIS desktop's WFS provider is not available: {reason}")
    folder = tmp_path_factory.mktemp("qgis_session")
    for name in ("data.gpkg", "other.gpkg"):
        (folder / name).write_bytes((demo_project().parent / "natural_earth.gpkg").read_bytes())
    make_parcels(folder / "data.gpkg")
    (folder / "edit.yaml").write_text(EDIT_YAML)
    with serve_process(folder / "edit.yaml") as base:
        yield f"{base}/ows"


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_qgis_sees_each_saved_edit_after_a_refresh(url: str, version: str, tmp_path: Path) -> None:
    script = tmp_path / "session.py"
    script.write_text(SESSION)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        [QGIS_PYTHON, str(script), url, version],
        capture_output=True,
        text=True,
        env={**env, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)},  # its own cache
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = [
        line
        for line in done.stdout.splitlines()
        if line.split(" ")[0] in ("added", "moved", "deleted", "reopened")
    ]
    assert report == [
        "added True ['Acceptance@Point (2.352 48.857)']",
        "moved True ['Acceptance moved@Point (13.405 52.52)']",
        "deleted True []",
        "reopened []",
    ]

"""QGIS desktop's own WFS provider (Debian's python3-qgis) against a real `ogcserve serve`: the
layer opened as WFS 2.0.0, 1.1.0 and 1.0.0 by the bare type name a user types, its feature count
(RESULTTYPE=hits), its editing capabilities, its geometries, and an edit session inserting Paris,
checked in the GeoPackage and read back. The Transaction QGIS posts is recorded and must be the
one test_wfs_axis_order.py replays."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from client_transactions import QGIS_INSERTS, QGIS_UPDATES
from lxml import etree
from wfs_support import DEMO, EDIT_YAML, make_parcels

from ogcserve.sources.gpkg_binary import strip_gpkg_headers
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).with_name("qgis_wfs_client.py")
QGIS_PYTHON = "/usr/bin/python3"
PARIS = (2.3522, 48.8566)


def _qgis_missing() -> str | None:
    if not os.path.exists(QGIS_PYTHON):
        return f"{QGIS_PYTHON} is absent"
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    )
    return None if probe.returncode == 0 else "Debian's python3-qgis cannot be imported"


@pytest.fixture(scope="module")
def qgis() -> None:
    reason = _qgis_missing()
    if reason:
        pytest.skip(f"QGIS desktop's WFS provider is not available: {reason}")


def _project(folder: Path) -> Path:
    for name in ("data.gpkg", "other.gpkg"):
        shutil.copyfile(DEMO / "natural_earth.gpkg", folder / name)
        (folder / name).chmod(0o644)
    make_parcels(folder / "data.gpkg")
    (folder / "edit.yaml").write_text(EDIT_YAML)
    return folder / "edit.yaml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, qgis: None) -> Iterator[tuple[str, Path]]:
    project = _project(tmp_path_factory.mktemp("qgis_wfs"))
    with serve_process(project) as url:
        yield url, project.parent / "data.gpkg"


def run_qgis(url: str, typename: str, version: str, *edit: str) -> dict:  # type: ignore[type-arg]
    # Each run has its own QGIS profile and network disk cache (~/.cache): a run never answers
    # from another run's copy of a server that happened to listen on the same port.
    home = tempfile.mkdtemp(prefix="qgis-home-")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home}
    env.pop("PYTHONPATH", None)  # Debian's python with Debian's packages only
    try:
        done = _run_client(url, typename, version, edit, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"QGIS client failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _run_client(
    url: str, typename: str, version: str, edit: tuple[str, ...], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QGIS_PYTHON, str(CLIENT), url, typename, version, *edit],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def rows(gpkg: Path) -> dict[str, tuple[float, float]]:
    with sqlite3.connect(gpkg) as conn:
        found = conn.execute("SELECT name, geom FROM parcels").fetchall()
    out = {}
    for name, blob in found:
        point = shapely.from_wkb(strip_gpkg_headers([blob])[0])
        out[name] = (point.x, point.y)
    return out


def canonical(body: str) -> bytes:
    """A posted body without what varies between runs (port, attribute order, the name)."""
    body = re.sub(r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:8080/", body)
    return etree.tostring(etree.fromstring(body.encode()), method="c14n")


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_qgis_reads_counts_and_edits_by_the_bare_name(
    served: tuple[str, Path], version: str
) -> None:
    url, gpkg = served
    before = rows(gpkg)
    name = f"Paris {version}"
    report = run_qgis(url, "parcels", version, "insert", *map(str, PARIS), name)
    assert report["valid"], report["messages"]
    # Editing is offered as the capabilities advertise it (1.0.0/1.1.0: per-type Operations).
    assert report["can_add"] and report["can_change"] and report["can_delete"]
    # The count comes from RESULTTYPE=hits (WFS 1.0.0 has none: QGIS counts as it reads).
    if version != "1.0.0":
        assert report["feature_count"] == len(before)
    assert len(report["wkt"]) == len(before)
    assert "Point (1 0.5)" in report["wkt"]  # parcel 1 at x=1, y=0.5: axes read right
    assert report["added"] and report["committed"], report["commit_errors"]
    # Stored in Paris, not in the Indian Ocean, and read back there by a fresh layer.
    after = rows(gpkg)
    assert set(after) - set(before) == {name}
    assert after[name] == pytest.approx(PARIS, abs=1e-9)
    assert "Point (2.3522 48.8566)" in report["wkt_after"]
    # Moving parcel 2 to 0.01 degree north of it: an Update, stored and read back there.
    assert report["moved"] and report["moved_committed"]
    assert after["parcel 2"] == pytest.approx((PARIS[0], PARIS[1] + 0.01), abs=1e-9)
    assert "Point (2.3522 48.8666)" in report["wkt_after"]
    # A request restricted to a box around it: QGIS sends BBOX in its srsname's axis order;
    # exactly the stored points inside the box come back.
    inside = [
        p for p in after.values() if abs(p[0] - PARIS[0]) < 0.05 and abs(p[1] - PARIS[1]) < 0.05
    ]
    assert sorted(report["wkt_in_bbox"]) == sorted(f"Point ({x:g} {y:g})" for x, y in inside)
    bbox = [r["path"] for r in report["requests"] if "BBOX=" in r["path"]]
    assert bbox and ("BBOX=48.8" in bbox[-1]) is (version != "1.0.0"), bbox
    # The Transactions QGIS posted are the ones the unit-test matrix replays.
    posted = [r["body"] for r in report["requests"] if r["method"] == "POST"]
    assert len(posted) == 2
    assert canonical(posted[0].replace(f">{name}<", ">NAME<")) == canonical(QGIS_INSERTS[version])
    assert canonical(posted[1]) == canonical(QGIS_UPDATES[version])


def test_qgis_prefixed_name_needs_the_prefixed_listing(tmp_path: Path, qgis: None) -> None:
    # QGIS matches its typename exactly against the capabilities: with the default (bare)
    # listing `ogcserve:parcels` is not found; with wfs_prefixed_type_names it is.
    project = _project(tmp_path)
    with serve_process(project) as url:
        report = run_qgis(url, "ogcserve:parcels", "2.0.0")
        assert not report["valid"]
        assert any("Could not find typename ogcserve:parcels" in m for m in report["messages"])
    env = {**os.environ, "OGCSERVE_WFS_PREFIXED_TYPE_NAMES": "true"}
    with serve_process(project, env=env) as url:
        report = run_qgis(url, "ogcserve:parcels", "2.0.0")
        assert report["valid"] and report["feature_count"] == 6, json.dumps(report, indent=1)
        assert report["can_add"]

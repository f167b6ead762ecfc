"""Real clients against a real `ogcserve serve`, over a GeoPackage and over PostGIS: OWSLib's
`Features`, GDAL's OAPIF driver (ogrinfo, ogr2ogr with small and large pages) and QGIS
desktop's OAPIF provider (Debian's python3-qgis, headless)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ogcapi_support import event_rows, write_events, write_events_postgis

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e
COUNT = 2500
QGIS_PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).with_name("qgis_oapif_client.py")
IN_BOX = [1, 2, 3, 101, 102, 103]  # -10..-9.5 x 40..40.25


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp(request.param)
    table = f"oapi_e2e_{uuid.uuid4().hex[:8]}"
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS", "")
    if request.param == "postgis":
        if not dsn:
            pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
        project = write_events_postgis(folder, dsn, table, COUNT)
    else:
        project = write_events(folder, COUNT)
    try:
        with serve_process(project, workers=1) as url:
            yield f"{url}/ogcapi/ev"
    finally:
        if request.param == "postgis":
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_owslib_features(served: str) -> None:
    from owslib.ogcapi.features import Features

    api = Features(served)
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in api.conformance()["conformsTo"]
    )
    assert "events" in [c["id"] for c in api.collections()["collections"]]
    assert "kind" in api.collection_queryables("events")["properties"]
    page = api.collection_items("events", limit=5, bbox=[-10, 40, -9.5, 40.25])
    assert page["numberMatched"] == 6 and [f["id"] for f in page["features"]] == IN_BOX[:5]
    assert api.collection_items("events", kind="b", limit=1)["numberMatched"] == 833
    assert api.collection_items("events", filter="value < 3")["numberMatched"] == 3
    assert api.collection_item("events", "7")["properties"]["name"] == "event 7"
    assert "/collections/events/items" in api.api()["paths"]


def _gdal(*args: str) -> str:
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} is not installed")
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ogrinfo_lists_the_collections(served: str) -> None:
    listed = _gdal("ogrinfo", "-ro", f"OAPIF:{served}")
    assert "events (title: Events) (Point)" in listed
    summary = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{served}", "events")
    assert f"Feature Count: {COUNT}" in summary


@pytest.mark.parametrize("page_size", [50, 1000])
def test_ogr2ogr_copies_every_feature_once(served: str, page_size: int, tmp_path: Path) -> None:
    out = tmp_path / "copy.gpkg"
    _gdal(
        "ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{served}", "events",
        "-oo", f"PAGE_SIZE={page_size}",
    )  # fmt: skip
    with sqlite3.connect(out) as conn:
        rows = conn.execute("SELECT fid, name, kind FROM events ORDER BY fid").fetchall()
    expected = [(r["fid"], r["name"], r["kind"]) for r in event_rows(COUNT)]
    assert rows == expected


def _qgis_missing() -> str | None:
    if not os.path.exists(QGIS_PYTHON):
        return f"{QGIS_PYTHON} is absent"
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    )
    return None if probe.returncode == 0 else "Debian's python3-qgis cannot be imported"


@pytest.mark.parametrize("page_size", [100, 1000])
def test_qgis_oapif_provider(served: str, page_size: int) -> None:
    reason = _qgis_missing()
    if reason:
        pytest.skip(f"QGIS's OAPIF provider is not available: {reason}")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [QGIS_PYTHON, str(CLIENT), served, "events", str(page_size)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["valid"], done.stderr
    assert report["count"] == COUNT and report["crs"] == "EPSG:4326"
    assert sorted(report["ids"]) == list(range(1, COUNT + 1))
    assert report["in_box"] == IN_BOX
    assert {"name", "kind", "value", "day", "at"} <= set(report["fields"])

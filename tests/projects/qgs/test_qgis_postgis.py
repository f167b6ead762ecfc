"""A QGIS project of PostGIS layers (QGIS's `postgres` provider, written by PyQGIS): the same WFS
feature set and GetFeatureInfo attributes from QGIS Server 3.22 and from ogcserve, the `sql=`
subset applied as the row filter, and a PostgreSQL-only subset refusing its layer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict
from qgis_project_support import QGIS_SERVER, layer, make_data, qgis_server, write_projects

from ogcserve.access import AccessLayer
from ogcserve.projects import check_project, load_project
from ogcserve.sources.specs import PostGISSpec
from ogcserve.testing import client, make_server

pytestmark = pytest.mark.postgis

SCHEMA = "qgs_projects_test"
WFS = {
    "SERVICE": "WFS",
    "VERSION": "1.1.0",
    "REQUEST": "GetFeature",
    "TYPENAME": "pg_countries",
    "OUTPUTFORMAT": "application/vnd.geo+json",
    "SRSNAME": "EPSG:4326",
}
# Berlin, in a map of Europe (WMS 1.3.0, EPSG:4326: latitude first).
GFI = {
    "SERVICE": "WMS",
    "VERSION": "1.3.0",
    "REQUEST": "GetFeatureInfo",
    "CRS": "EPSG:4326",
    "BBOX": "35,-10,60,30",
    "WIDTH": "400",
    "HEIGHT": "250",
    "LAYERS": "pg_countries",
    "QUERY_LAYERS": "pg_countries",
    "STYLES": "",
    "INFO_FORMAT": "application/json",
    "I": "234",
    "J": "75",
    "FEATURE_COUNT": "10",
}


@pytest.fixture(scope="module")
def pg_project(tmp_path_factory: pytest.TempPathFactory, qgis_folder: Path) -> Iterator[Path]:
    postgis_dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not postgis_dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    if shutil.which("ogr2ogr") is None:
        pytest.skip("GDAL's ogr2ogr is not installed")
    folder = tmp_path_factory.mktemp("qgis_pg")
    make_data(folder)
    parts = conninfo_to_dict(postgis_dsn)
    pg = " ".join(f"{k}={v}" for k, v in parts.items())
    subprocess.run(
        [
            "psql",
            postgis_dsn,
            "-qc",
            f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "ogr2ogr", "-f", "PostgreSQL", f"PG:{pg}", str(folder / "natural_earth.gpkg"),
            "countries", "-nln", f"{SCHEMA}.countries", "-lco", "GEOMETRY_NAME=geom",
            "-lco", "FID=fid",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    base = (
        f"dbname='{parts['dbname']}' host={parts.get('host', '127.0.0.1')} "
        f"port={parts.get('port', '5432')} user='{parts.get('user', '')}' "
        f"password='{parts.get('password', '')}' sslmode=disable key='fid' srid=4326 "
        f'type=MultiPolygon checkPrimaryKeyUnicity=\'1\' table="{SCHEMA}"."countries" (geom)'
    )
    spec = {
        "out": str(folder / "pg.qgs"),
        "title": "PostGIS",
        "layers": [
            layer("pg_countries", base, "postgres", subset='"pop_est" > 50000000'),
            layer("pg_regex", base, "postgres", subset="\"name\" ~ '^F'"),
        ],
        "settings": {"WFSLayers": ["pg_countries", "pg_regex"]},
    }
    write_projects([spec], folder)
    yield folder / "pg.qgs"
    subprocess.run(["psql", postgis_dsn, "-qc", f"DROP SCHEMA {SCHEMA} CASCADE"], check=False)


def test_postgres_layers_read(pg_project: Path) -> None:
    project = load_project(pg_project, opener=AccessLayer().check_source)
    assert [layer.name for layer in project.layers] == ["pg_countries"]
    countries = project.layers[0]
    assert countries.filter == '"pop_est" > 50000000'
    # Every part of the connection string QGIS wrote, the table, its geometry column and key.
    source = countries.source
    assert isinstance(source, PostGISSpec)
    assert (source.table, source.geometry, source.key) == (f"{SCHEMA}.countries", "geom", "fid")
    parts = conninfo_to_dict(os.environ["OGCSERVE_TEST_POSTGIS"])
    assert conninfo_to_dict(source.dsn) == {
        "dbname": parts["dbname"],
        "host": parts.get("host", "127.0.0.1"),
        "port": parts.get("port", "5432"),
        "user": parts.get("user", ""),
        "password": parts.get("password", ""),
        "sslmode": "disable",
    }
    issues = {i.key: i for i in check_project(pg_project, AccessLayer().check_source)}
    regex = issues["layer 'pg_regex'"]
    assert regex.severity == "refused" and "cannot be translated" in regex.message


def test_same_features_as_qgis_server(pg_project: Path) -> None:
    if not os.access(QGIS_SERVER, os.X_OK):
        pytest.skip(f"QGIS Server is not installed ({QGIS_SERVER})")
    status, _, body = qgis_server(pg_project, WFS, pg_project.parent)
    assert status == 200, body[:300]
    status, _, info = qgis_server(pg_project, GFI, pg_project.parent)
    assert status == 200, info[:300]
    server = make_server([pg_project])
    with client(server) as http:
        mine = http.get("/ows", params={"MAP": str(pg_project), **WFS})
        my_info = http.get("/ows", params={"MAP": str(pg_project), **GFI})
    server.close()
    assert mine.status_code == 200 and my_info.status_code == 200
    # GetFeatureInfo: the same features (Germany; the subset leaves no small neighbour) with
    # the same attributes.
    theirs_info = [f["properties"] for f in json.loads(info)["features"]]
    assert [p["name"] for p in theirs_info] == ["Germany"]
    assert [f["properties"] for f in my_info.json()["features"]] == theirs_info

    def rows(payload: bytes) -> list[str]:
        return sorted(
            json.dumps(feature["properties"], sort_keys=True)
            for feature in json.loads(payload)["features"]
        )

    theirs = rows(body)
    assert theirs and len(theirs) < 40
    assert rows(mine.content) == theirs

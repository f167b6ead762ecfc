"""Real clients against a real `ogcserve serve`: OWSLib, GDAL's WFS driver (through pyogrio's
bundled GDAL) copying whole layers page by page, from GeoPackage and PostGIS, and GDAL's
command-line tools (`ogrinfo`, `ogr2ogr`) reading, counting and inserting through WFS-T."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely

from ogcserve.sources.gpkg_binary import strip_gpkg_headers
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo"


def _serve(projects: list[Path]) -> Iterator[str]:
    with serve_process(*projects) as url:
        yield url


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve([DEMO / "demo.yaml"])


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostGIS table of 2,500 points served by a project of its own."""
    import psycopg

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"wfs_points_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (id serial PRIMARY KEY, label text NOT NULL,"
            " n integer, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (label, n, geom) SELECT 'p' || g, g, "
            f"ST_SetSRID(ST_MakePoint(g % 360 - 180, (g % 170) - 85), 4326)"
            f" FROM generate_series(1, 2500) g"
        )
    tmp = tmp_path_factory.mktemp("wfs_pg")
    project = tmp / "pg.yaml"
    project.write_text(
        f"name: pg\ntitle: PostGIS\nlayers:\n  - name: points\n    title: Points\n"
        f"    source: {{type: postgis, dsn: '{dsn}', table: {table}}}\n"
        f"    wfs: {{insert: true, update: true, delete: true}}\n"
    )
    try:
        yield from _serve([project])
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_owslib_capabilities_and_getfeature(demo_url: str) -> None:
    from owslib.wfs import WebFeatureService

    for version in ("2.0.0", "1.1.0", "1.0.0"):
        service = WebFeatureService(f"{demo_url}/ows", version=version)
        # Listed bare, as QGIS Server does; the prefixed name still works in requests.
        assert "countries" in service.contents
        assert "elevation" not in service.contents
        for name in ("cities", "ogcserve:cities"):
            response = service.getfeature(typename=[name], maxfeatures=5)
            body = response.read()
            assert body.count(b"<ogcserve:cities ") == 5, body[:400]
        # A lon/lat bbox around Paris: OWSLib writes it in the version's axis order.
        near = service.getfeature(typename=["cities"], bbox=(2.2, 48.7, 2.5, 49.0)).read()
        assert near.count(b"<ogcserve:cities ") == 1 and b">Paris<" in near, near[:400]
    service = WebFeatureService(f"{demo_url}/ows", version="2.0.0")
    schema = service.get_schema("countries")
    assert set(schema["properties"]) >= {"name", "continent", "pop_est"}
    stored = service.storedqueries
    assert any(q.id.endswith("GetFeatureById") for q in stored)


def _copy(url: str, layer: str, page_size: int) -> tuple[list[int], int]:
    import pyogrio

    pyogrio.set_gdal_config_options(
        {
            "OGR_WFS_PAGING_ALLOWED": "ON",
            "OGR_WFS_PAGE_SIZE": str(page_size),
            "GDAL_HTTP_TIMEOUT": "30",
        }
    )
    try:
        meta, _fids, geometry, fields = pyogrio.raw.read(
            f"WFS:{url}/ows?SERVICE=WFS&VERSION=2.0.0", layer=layer
        )
    finally:
        pyogrio.set_gdal_config_options({"OGR_WFS_PAGING_ALLOWED": None, "OGR_WFS_PAGE_SIZE": None})
    names = list(meta["fields"])
    column = names.index("gml_id") if "gml_id" in names else None
    ids = [int(str(v).rsplit(".", 1)[1]) for v in fields[column]] if column is not None else []
    return ids, len(geometry)


def test_gdal_copies_a_geopackage_layer_page_by_page(demo_url: str) -> None:
    ids, n = _copy(demo_url, "cities", 50)
    assert n == 243 and sorted(ids) == list(range(1, 244))


def test_gdal_copies_a_postgis_layer_page_by_page(pg_url: str) -> None:
    ids, n = _copy(pg_url, "points", 400)
    assert n == 2500 and sorted(ids) == list(range(1, 2501))


def test_owslib_against_postgis(pg_url: str) -> None:
    from owslib.fes2 import PropertyIsLessThan
    from owslib.wfs import WebFeatureService

    service = WebFeatureService(f"{pg_url}/ows", version="2.0.0")
    from owslib.etree import etree

    flt = etree.tostring(PropertyIsLessThan("n", "11").toXML()).decode()
    flt = f'<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0">{flt}</fes:Filter>'
    # OWSLib sends a GET filter as `query=` (its quirk): filters go by POST.
    body = service.getfeature(typename=["points"], filter=flt, method="POST").read()
    assert body.count(b"<ogcserve:points ") == 10, body[:600]


# --- GDAL's command-line tools ------------------------------------------------------------------

PARIS = (2.3522, 48.8566)


def _gdal_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"GDAL's {name} is not installed")
    return path


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def edit_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An editable `parcels` point table (WGS 84), served."""
    from wfs_support import EDIT_YAML, make_parcels

    folder = tmp_path_factory.mktemp("wfs_gdal")
    for name in ("data.gpkg", "other.gpkg"):
        shutil.copyfile(DEMO / "natural_earth.gpkg", folder / name)
        (folder / name).chmod(0o644)
    make_parcels(folder / "data.gpkg")
    (folder / "edit.yaml").write_text(EDIT_YAML)
    with serve_process(folder / "edit.yaml") as url:
        yield url, folder / "data.gpkg"


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_ogrinfo_lists_counts_and_reads_in_xy(demo_url: str, version: str, tmp_path: Path) -> None:
    ogrinfo, ogr2ogr = _gdal_tool("ogrinfo"), _gdal_tool("ogr2ogr")
    source = f"WFS:{demo_url}/ows?VERSION={version}"
    listing = _run(ogrinfo, "-ro", "-so", source)
    assert re.search(r"^\d+: countries\b", listing, re.MULTILINE), listing
    # The count: RESULTTYPE=hits from 1.1.0 on (GDAL reads numberOfFeatures/numberMatched).
    summary = _run(ogrinfo, "-ro", "-so", source, "countries")
    assert "Feature Count: 177" in summary, summary
    # GDAL turns the answer into x/y whatever the version's axis order: Paris is at 2.35 E.
    out = tmp_path / "cities.geojson"
    _run(ogr2ogr, "-f", "GeoJSON", str(out), source, "cities", "-where", "name = 'Paris'")
    features = json.loads(out.read_text())["features"]
    assert len(features) == 1
    x, y = features[0]["geometry"]["coordinates"][:2]
    assert abs(x - PARIS[0]) < 0.1 and abs(y - PARIS[1]) < 0.1


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_ogr2ogr_inserts_paris_through_wfs_t(
    edit_url: tuple[str, Path], version: str, tmp_path: Path
) -> None:
    ogr2ogr = _gdal_tool("ogr2ogr")
    url, gpkg = edit_url
    name = f"GDAL Paris {version}"
    paris = tmp_path / "paris.geojson"
    paris.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"role": "a", "name": name},
                        "geometry": {"type": "Point", "coordinates": list(PARIS)},
                    }
                ],
            }
        )
    )
    _run(
        ogr2ogr,
        "-append",
        "-update",
        f"WFS:{url}/ows?VERSION={version}",
        str(paris),
        "-nln",
        "parcels",
    )
    with sqlite3.connect(gpkg) as conn:
        blobs = conn.execute("SELECT geom FROM parcels WHERE name = ?", (name,)).fetchall()
    assert len(blobs) == 1
    point = shapely.from_wkb(strip_gpkg_headers([blobs[0][0]])[0])
    assert (point.x, point.y) == pytest.approx(PARIS, abs=1e-9)


def test_gdal_finds_a_layer_by_the_listed_name(demo_url: str) -> None:
    """GDAL selects a layer by the name the capabilities list, and by the bare name when the
    prefixed one is listed, never the other way round. Listed bare (the default, as QGIS
    Server does) `ogcserve:countries` is no layer to GDAL, though every request takes it; under
    `wfs_prefixed_type_names` both names are (docs/services/wfs.md)."""
    ogrinfo = _gdal_tool("ogrinfo")
    source = f"WFS:{demo_url}/ows?VERSION=2.0.0"
    assert "Feature Count: 177" in _run(ogrinfo, "-ro", "-so", source, "countries")
    refused = subprocess.run(
        [ogrinfo, "-ro", "-so", source, "ogcserve:countries"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Couldn't fetch requested layer ogcserve:countries" in refused.stdout + refused.stderr
    env = {**os.environ, "OGCSERVE_WFS_PREFIXED_TYPE_NAMES": "true"}
    with serve_process(DEMO / "demo.yaml", env=env) as url:
        source = f"WFS:{url}/ows?VERSION=2.0.0"
        for name in ("ogcserve:countries", "countries"):
            assert "Feature Count: 177" in _run(ogrinfo, "-ro", "-so", source, name), name

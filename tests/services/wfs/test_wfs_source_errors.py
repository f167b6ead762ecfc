"""A write the database refuses answers with the action and the constraint's name, never with the
row: PostgreSQL's "Failing row contains (...)" lists every column, hidden ones included, and
SQLite names the columns of a UNIQUE constraint. The database's own words go to the log."""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfs_support import NS, build, exception_code, post

from ogcserve.server import Server
from ogcserve.testing import Result

SECRET = "TOPSECRET-7731"
TX = (
    f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
    f'xmlns:fes="{NS["fes"]}" xmlns:gml="{NS["gml"]}" xmlns:e="{NS["e"]}">{{}}'
    "</wfs:Transaction>"
)


def update(handle: str, name: str, value: str, fid: int = 1) -> str:
    return TX.format(
        f'<wfs:Update typeName="e:parcels" handle="{handle}"><wfs:Property><wfs:ValueReference>'
        f"{name}</wfs:ValueReference><wfs:Value>{value}</wfs:Value></wfs:Property><fes:Filter>"
        f"<fes:ResourceId rid='parcels.{fid}'/></fes:Filter></wfs:Update>"
    )


def insert(handle: str, properties: str) -> str:
    point = (
        '<e:geom><gml:Point gml:id="p" srsName="urn:ogc:def:crs:EPSG::4326">'
        "<gml:pos>5 6</gml:pos></gml:Point></e:geom>"
    )
    return TX.format(
        f'<wfs:Insert handle="{handle}"><e:parcels>{point}{properties}</e:parcels></wfs:Insert>'
    )


def message(result: Result) -> str:
    return result.body.decode()


def assert_clean(result: Result, *absent: str) -> None:
    text = message(result)
    assert result.status == 400, text
    assert exception_code(result) == "InvalidParameterValue"
    for word in ("Failing row", "DETAIL", "INSERT", "UPDATE ", "SELECT", SECRET, *absent):
        assert word not in text, (word, text)


PROJECT = """name: edit
title: source errors
layers:
  - name: parcels
    title: Parcels
    source: {source}
    fields: {{exclude: [secret, code]}}
    wfs: {{insert: true, update: true, delete: true}}
"""


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    import psycopg

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"wfs_errors_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, name text NOT NULL,"
            " value integer CONSTRAINT value_not_negative CHECK (value >= 0),"
            " secret text NOT NULL, code text UNIQUE, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (name, value, secret, code, geom) VALUES"
            f" ('one', 10, '{SECRET}', 'C-1', ST_SetSRID(ST_MakePoint(1, 2), 4326)),"
            f" ('two', 20, '{SECRET}', 'C-2', ST_SetSRID(ST_MakePoint(3, 4), 4326))"
        )
    (tmp_path / "pg.yaml").write_text(
        PROJECT.format(source=f"{{type: postgis, dsn: '{dsn}', table: {table}}}")
    )
    srv = build([tmp_path / "pg.yaml"])
    try:
        yield srv, table
    finally:
        srv.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.postgis
def test_postgis_check_violation_names_action_and_constraint_only(
    pg: tuple[Server, str], caplog: pytest.LogCaptureFixture
) -> None:
    srv, table = pg
    with caplog.at_level(logging.WARNING, logger="ogcserve.sources"):
        r = post(srv, update("raise-value", "value", "-5"))
    assert_clean(r, table, "0101000020")
    text = message(r)
    assert "Update 'raise-value' on parcels failed" in text
    assert "value_not_negative" in text
    # The details went to the log, for the operator.
    assert SECRET in caplog.text and "Failing row" in caplog.text


@pytest.mark.postgis
def test_postgis_not_null_names_a_readable_column_only(pg: tuple[Server, str]) -> None:
    srv, table = pg
    r = post(srv, insert("no-name", "<e:value>3</e:value>"))
    assert_clean(r, table)
    assert "Insert 'no-name' on parcels failed" in message(r)
    assert "'name'" in message(r) and "NOT NULL" in message(r)
    # With a name, the insert breaks the NOT NULL of `secret`, which the caller cannot see:
    # the constraint's kind is said, the column is not.
    hidden = post(srv, insert("named", "<e:name>n</e:name>"))
    assert_clean(hidden, table, "secret")
    assert "Insert 'named' on parcels failed" in message(hidden) and "NOT NULL" in message(hidden)


@pytest.mark.postgis
def test_postgis_unique_violation_shows_no_value(pg: tuple[Server, str]) -> None:
    import psycopg

    srv, table = pg
    dsn = os.environ["OGCSERVE_TEST_POSTGIS"]
    # PostgreSQL's detail would be "Key (name)=(one) already exists."
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE UNIQUE INDEX names_once_{table[-8:]} ON {table} (name)")
    r = post(srv, update("rename", "name", "one", fid=2))
    assert_clean(r, table, "(name)=", "C-1", "C-2")
    assert f"'names_once_{table[-8:]}'" in message(r) and "UNIQUE" in message(r)


@pytest.mark.postgis
def test_postgis_errors_through_ogc_api_name_the_constraint_only(
    pg: tuple[Server, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The same refusals through OGC API - Features Part 4 (PATCH, PUT, POST): JSON errors
    that name the constraint, never the row (its hidden `secret`, its geometry)."""
    import json

    from ogcserve.testing import call

    srv, table = pg
    items = "/ogcapi/edit/collections/parcels/items"
    point = {"type": "Point", "coordinates": [5, 6]}
    feature = {"type": "Feature", "geometry": point, "properties": {"name": "n", "value": -5}}
    # A replace keeps the hidden `secret`; a create leaves it NULL, and its NOT NULL is named,
    # not the column.
    patch = "application/merge-patch+json"
    cases = [
        ("PATCH", f"{items}/1", {"properties": {"value": -5}}, patch, "value_not_negative"),
        ("PUT", f"{items}/1", feature, "application/geo+json", "value_not_negative"),
        ("POST", items, feature, "application/geo+json", "NOT NULL"),
    ]
    with caplog.at_level(logging.WARNING, logger="ogcserve.sources"):
        for method, url, body, kind, named in cases:
            result = call(
                srv,
                url,
                method=method,
                headers={"Content-Type": kind},
                body=json.dumps(body).encode(),
            )
            text = result.body.decode()
            assert result.status == 400, (method, text)
            assert json.loads(text)["code"] == "InvalidParameterValue"
            assert named in text, (method, text)
            hidden = ("Failing row", "DETAIL", SECRET, "secret", table, "0101000020", "UPDATE ")
            for word in (*hidden, "INSERT"):
                assert word not in text, (method, word, text)
    assert "Failing row" in caplog.text  # for the operator


@pytest.fixture
def gpkg(tmp_path: Path) -> Iterator[Server]:
    from ogcserve.sources.gpkg_binary import encode_gpkg_geometry

    path = tmp_path / "data.gpkg"
    demo = Path(__file__).resolve().parents[3] / "src" / "ogcserve" / "demo" / "natural_earth.gpkg"
    path.write_bytes(demo.read_bytes())
    import shapely

    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE parcels (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB,"
            " name TEXT NOT NULL, value INTEGER CONSTRAINT value_not_negative"
            " CHECK (value >= 0), secret TEXT NOT NULL, code TEXT UNIQUE,"
            " CHECK (length(secret) > 3))"
        )
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('parcels', 'features', 'parcels', 4326)"
        )
        conn.execute(
            "INSERT INTO gpkg_geometry_columns VALUES ('parcels', 'geom', 'POINT', 4326, 0, 0)"
        )
        for fid, code in ((1, "C-1"), (2, "C-2")):
            conn.execute(
                "INSERT INTO parcels (fid, geom, name, value, secret, code)"
                " VALUES (?, ?, ?, 1, ?, ?)",
                (fid, encode_gpkg_geometry(shapely.Point(fid, fid), 4326), f"p{fid}", SECRET, code),
            )
    (tmp_path / "g.yaml").write_text(
        PROJECT.format(source="{type: geopackage, path: data.gpkg, table: parcels}")
    )
    srv = build([tmp_path / "g.yaml"])
    yield srv
    srv.close()


def test_geopackage_check_violation_names_a_declared_constraint(gpkg: Server) -> None:
    r = post(gpkg, update("neg", "value", "-1"))
    assert_clean(r)
    assert "Update 'neg' on parcels failed" in message(r)
    assert "value_not_negative" in message(r)


def test_geopackage_unique_violation_names_no_column(gpkg: Server, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "data.gpkg") as conn:
        conn.execute("CREATE UNIQUE INDEX parcels_name ON parcels (name)")
    r = post(gpkg, update("dup", "name", "p1", fid=2))
    assert_clean(r, "parcels.name", "p1'")
    assert "UNIQUE" in message(r)


def test_geopackage_not_null_names_a_readable_column(gpkg: Server) -> None:
    r = post(gpkg, insert("ins", "<e:value>3</e:value>"))
    assert_clean(r)
    assert "Insert 'ins' on parcels failed" in message(r) and "'name'" in message(r)
    hidden = post(gpkg, insert("named", "<e:name>n</e:name>"))
    assert_clean(hidden, "secret")
    assert "NOT NULL" in message(hidden)

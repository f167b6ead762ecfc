"""Six layers on one PostGIS database, one on another: when the first database stops, the first
request that finds it down pays the wait, and every other layer of that database answers 503
with Retry-After at once, without another connection attempt (the breaker is the database's,
not the layer's: `ogcserve.sources.pg_databases`); the layer of the other database answers
throughout, and every layer comes back when the database does. A real `ogcserve serve` with
clusters of the test's own (tests/pg_cluster.py), never the machine's main PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from pg_cluster import OwnPostgres, own_postgres

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

TABLES = [f"parcels_{i}" for i in range(6)]
SETTINGS = {
    "OGCSERVE_SOURCE_CONNECT_TIMEOUT": "2",
    "OGCSERVE_SOURCE_QUEUE_TIMEOUT": "2",
    # Long enough for the requests after the first failure to find the database still down.
    "OGCSERVE_SOURCE_RETRY_AFTER": "20",
}


def features(layer: str) -> str:
    return f"/ows/pg?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES={layer}&COUNT=2"


def create(pg: OwnPostgres, tables: list[str]) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(
                f"CREATE TABLE {table} AS SELECT g AS fid, 'p' || g AS name,"
                " ST_SetSRID(ST_MakePoint(g, g), 4326)::geometry(Point, 4326) AS geom"
                " FROM generate_series(1, 5) g"
            )
            conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (fid)")


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[OwnPostgres, OwnPostgres]]:
    with own_postgres() as first, own_postgres() as second:
        create(first, TABLES)
        create(second, ["roads"])
        yield first, second


@pytest.fixture(scope="module")
def server(
    clusters: tuple[OwnPostgres, OwnPostgres], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    first, second = clusters
    folder = tmp_path_factory.mktemp("one-database")
    layers = [(table, first.dsn) for table in TABLES] + [("roads", second.dsn)]
    project = folder / "pg.yaml"
    project.write_text(
        "name: pg\ntitle: PostGIS\nlayers:\n"
        + "".join(
            f"  - name: {table}\n    title: {table}\n"
            f"    source: {{type: postgis, dsn: '{dsn}', table: {table}}}\n"
            for table, dsn in layers
        )
    )
    log = folder / "server.log"
    env = {**os.environ, **SETTINGS}
    with serve_process(project, workers=1, env=env, log=log) as url:
        yield url, log


def attempts(log: Path) -> int:
    """Connection attempts that found the database down, as the server logged them."""
    return log.read_text(errors="replace").count("Cannot connect to")


def test_one_database_down_fails_fast_for_all_its_layers(
    server: tuple[str, Path], clusters: tuple[OwnPostgres, OwnPostgres]
) -> None:
    url, log = server
    first, _ = clusters
    with httpx.Client(base_url=url, timeout=60) as client:
        for layer in [*TABLES, "roads"]:  # every layer has its pool
            assert client.get(features(layer)).status_code == 200
        first.stop()
        try:
            answer = client.get(features(TABLES[0]))
            assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
            assert attempts(log) == 1
            for layer in TABLES[1:]:
                answer = client.get(features(layer))
                assert answer.status_code == 503, answer.text
                assert int(answer.headers["Retry-After"]) >= 1
                assert "ExceptionReport" in answer.text
                assert str(first.port) not in answer.text
            # No layer of the database tried it again; the other database answers.
            assert attempts(log) == 1
            assert client.get(features("roads")).status_code == 200
        finally:
            first.start()
        # Back for every layer once the breaker lets a probe through.
        deadline = time.monotonic() + 90
        for layer in TABLES:
            while (status := client.get(features(layer)).status_code) != 200:
                assert status == 503
                assert time.monotonic() < deadline, f"{layer} never came back"
                time.sleep(0.5)
        assert client.get(features("roads")).status_code == 200

"""/health and /ready: ready with the projects loaded and their databases reachable; a PostGIS
that goes down makes the server not ready (503, naming what is not), and ready again when it
comes back. (A Redis that goes down does not: tests/cache/test_cache_metrics.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pg_cluster import OwnPostgres, own_postgres

from ogcserve.server import Server
from ogcserve.testing import client, demo_project, make_server


def test_health_is_live_and_ready_is_ready_for_the_demo() -> None:
    http = client(make_server())
    assert http.get("/health").json()["status"] == "ok"
    ready = http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["projects"] == ["demo"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE parcels AS SELECT g AS fid, ST_SetSRID(ST_MakePoint(g, g), 4326)"
                "::geometry(Point, 4326) AS geom FROM generate_series(1, 5) g"
            )
            conn.execute("ALTER TABLE parcels ADD PRIMARY KEY (fid)")
        yield pg


def pg_server(cluster: OwnPostgres, folder: Path, **settings: object) -> Server:
    project = folder / "pgproj.yaml"
    project.write_text(
        "name: pgproj\nlayers:\n  - name: parcels\n"
        f"    source: {{type: postgis, dsn: '{cluster.dsn}', table: parcels}}\n"
    )
    return make_server([demo_project(), project], **settings)


def test_a_postgis_down_makes_the_server_not_ready_until_it_is_back(
    cluster: OwnPostgres, tmp_path: Path
) -> None:
    server = pg_server(cluster, tmp_path, ready_cache=0)
    http = client(server)
    try:
        assert http.get("/ready").status_code == 200
        cluster.stop()
        try:
            down = http.get("/ready")
            assert down.status_code == 503
            report = down.json()
            assert report["status"] == "not ready"
            [unreachable] = report["unreachable"]
            assert unreachable["projects"] == ["pgproj"] and unreachable["layers"] == 1
            assert unreachable["database"] == "database postgres on 127.0.0.1"
            assert http.get("/health").status_code == 200  # alive all the same
        finally:
            cluster.start()
        assert http.get("/ready").status_code == 200
    finally:
        server.close()


def test_ready_probes_no_more_often_than_its_cache_time(
    cluster: OwnPostgres, tmp_path: Path
) -> None:
    server = pg_server(cluster, tmp_path, ready_cache=3600)
    http = client(server)
    try:
        assert http.get("/ready").status_code == 200
        cluster.stop()
        try:
            # the answer of a moment ago stands: no probe per call
            assert all(http.get("/ready").status_code == 200 for _ in range(5))
        finally:
            cluster.start()
    finally:
        server.close()

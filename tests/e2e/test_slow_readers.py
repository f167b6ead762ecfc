"""Clients that stop reading a large WFS answer hold no pooled PostGIS connection, and are cut
off after the write timeout: a real `ogcserve serve` (one worker, a pool of four) on a cluster of
the test's own. Four raw sockets read 50 KB of a ~10 MB GetFeature and stall; meanwhile another
client gets its answer; after the write timeout the four connections are reset and
pg_stat_activity shows no session of ours left idle in a transaction."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from pg_cluster import OwnPostgres, own_postgres

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

WRITE_TIMEOUT = 8
BIG = "/ows/slow?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=big"
TCP_ESTABLISHED = 1


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS label, ST_Buffer("
                "ST_SetSRID(ST_MakePoint(g % 360 - 180, (g / 360) % 170 - 85), 4326), 0.1, 2)"
                "::geometry(Polygon, 4326) AS geom FROM generate_series(1, 20000) g"
            )
            conn.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
        yield pg


@pytest.fixture(scope="module", params=[1, 2], ids=["one worker", "two workers"])
def base_url(
    cluster: OwnPostgres, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    # One worker: the four readers share its pool of four (where they used to hold all of it).
    # Two: the parent holds a duplicate of each connection, closed on the worker's report.
    project = tmp_path_factory.mktemp("slow") / "slow.yaml"
    project.write_text(
        "name: slow\ntitle: slow readers\nlayers:\n  - name: big\n    title: Big\n"
        f"    source: {{type: postgis, dsn: '{cluster.dsn}', table: big, pool_size: 4}}\n"
    )
    env = {**os.environ, "OGCSERVE_WRITE_TIMEOUT": str(WRITE_TIMEOUT)}
    with serve_process(project, workers=request.param, env=env) as url:
        yield url


def stalled_reader(base_url: str) -> socket.socket:
    """A client that asks for the whole layer, reads 50 KB, and then reads no more."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, set early
    sock.settimeout(30)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {BIG} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    received = 0
    while received < 50_000:
        chunk = sock.recv(8192)
        assert chunk, "the answer ended before 50 KB"
        received += len(chunk)
    return sock


def tcp_state(sock: socket.socket) -> int:
    return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])


def our_sessions(cluster: OwnPostgres) -> list[tuple[str, str]]:
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, state FROM pg_stat_activity"
            " WHERE application_name LIKE 'ogcserve%'"
        ).fetchall()
    return [(str(a), str(s)) for a, s in rows]


def test_stalled_readers_hold_no_pooled_connection_and_are_cut_off(
    base_url: str, cluster: OwnPostgres
) -> None:
    warm = httpx.get(f"{base_url}{BIG}&COUNT=3", timeout=30)
    assert warm.status_code == 200
    readers = [stalled_reader(base_url) for _ in range(4)]
    try:
        time.sleep(1)  # the server fills what buffers it can, then waits on the readers
        # Meanwhile the layer answers another client, count included (numberMatched).
        other = httpx.get(f"{base_url}{BIG}&COUNT=5", timeout=WRITE_TIMEOUT - 2)
        assert other.status_code == 200 and other.text.count("<wfs:member>") == 5
        assert ("ogcserve", "idle in transaction") not in our_sessions(cluster)
        assert all(tcp_state(r) == TCP_ESTABLISHED for r in readers)
        # After the write timeout the stalled connections are reset by the server...
        deadline = time.monotonic() + WRITE_TIMEOUT + 30
        while any(tcp_state(r) == TCP_ESTABLISHED for r in readers):
            assert time.monotonic() < deadline, "stalled clients were never cut off"
            time.sleep(0.5)
        # ...and no session of ours is left idle in a transaction.
        while any(state == "idle in transaction" for _, state in our_sessions(cluster)):
            assert time.monotonic() < deadline, our_sessions(cluster)
            time.sleep(0.5)
    finally:
        for reader in readers:
            reader.close()
    again = httpx.get(f"{base_url}{BIG}&COUNT=2", timeout=30)
    assert again.status_code == 200 and again.text.count("<wfs:member>") == 2

"""A PostGIS that goes away, refusing or hanging, costs only the requests for its layers: a real
`ogcserve serve` (one worker, so that every request shares its threads) with a PostGIS project
on a cluster of the test's own and the demo (GeoPackage) project. Forty-two requests for the
PostGIS layer get 503 with Retry-After instead of waiting, the demo's GetCapabilities keeps
answering meanwhile, and the layer comes back with its database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

import httpx
import psycopg
import pytest
from pg_cluster import OwnPostgres, own_postgres

from ogcserve.cli import demo_project
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

GET_FEATURE = "/ows/pgproj?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels&COUNT=2"
CAPABILITIES = "/ows/demo?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
SETTINGS = {
    "OGCSERVE_SOURCE_CONNECT_TIMEOUT": "2",
    "OGCSERVE_SOURCE_QUEUE_TIMEOUT": "2",
    "OGCSERVE_SOURCE_RETRY_AFTER": "3",
    "OGCSERVE_SOURCE_MAX_WAITING": "8",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE parcels AS SELECT g AS fid, 'parcel ' || g AS name,"
                " ST_SetSRID(ST_MakePoint(g, g), 4326)::geometry(Point, 4326) AS geom"
                " FROM generate_series(1, 50) g"
            )
            conn.execute("ALTER TABLE parcels ADD PRIMARY KEY (fid)")
        yield pg


@pytest.fixture(scope="module")
def base_url(cluster: OwnPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import os

    folder = tmp_path_factory.mktemp("outage")
    project = folder / "pgproj.yaml"
    project.write_text(
        "name: pgproj\ntitle: PostGIS\nlayers:\n  - name: parcels\n    title: Parcels\n"
        f"    source: {{type: postgis, dsn: '{cluster.dsn}', table: parcels}}\n"
    )
    with serve_process(demo_project(), project, workers=1, env={**os.environ, **SETTINGS}) as url:
        yield url


def get(base_url: str, path: str, timeout: float) -> httpx.Response:
    return httpx.get(f"{base_url}{path}", timeout=timeout)


def burst(
    pool: ThreadPoolExecutor, base_url: str
) -> tuple[list[Future[httpx.Response]], list[Future[httpx.Response]]]:
    """42 requests for the PostGIS layer at once and, meanwhile, GetCapabilities of the demo,
    each of which must be answered within a generous bound (10 s; 21 s before)."""
    layer = [pool.submit(get, base_url, GET_FEATURE, 120) for _ in range(42)]
    time.sleep(0.5)
    capabilities = [pool.submit(get, base_url, CAPABILITIES, 10) for _ in range(5)]
    return capabilities, layer


def assert_unavailable(response: httpx.Response, cluster: OwnPostgres) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert "ExceptionReport" in response.text
    assert str(cluster.port) not in response.text and "postgres" not in response.text


def wait_for_layer(base_url: str) -> None:
    deadline = time.monotonic() + 60
    while httpx.get(f"{base_url}{GET_FEATURE}", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the layer never came back"
        time.sleep(0.5)


def test_refusing_database(base_url: str, cluster: OwnPostgres) -> None:
    assert httpx.get(f"{base_url}{GET_FEATURE}", timeout=30).status_code == 200
    assert httpx.get(f"{base_url}{CAPABILITIES}", timeout=30).status_code == 200
    cluster.stop()
    try:
        with ThreadPoolExecutor(max_workers=48) as pool:
            capabilities, layer = burst(pool, base_url)
            assert [f.result().status_code for f in capabilities] == [200] * 5
            for future in layer:
                assert_unavailable(future.result(), cluster)
    finally:
        cluster.start()
    wait_for_layer(base_url)


def test_hanging_database(base_url: str, cluster: OwnPostgres) -> None:
    wait_for_layer(base_url)
    cluster.freeze()
    try:
        with ThreadPoolExecutor(max_workers=48) as pool:
            capabilities, layer = burst(pool, base_url)
            assert [f.result().status_code for f in capabilities] == [200] * 5
            # Requests holding one of the layer's four pooled connections may stay stuck on
            # the frozen server until it thaws; every other one gets its 503 meanwhile.
            deadline = time.monotonic() + 60
            while sum(f.done() for f in layer) < 42 - 4 and time.monotonic() < deadline:
                time.sleep(0.2)
            done, stuck = wait(layer, timeout=5)
            assert len(stuck) <= 4
            for future in done:
                assert_unavailable(future.result(), cluster)
            # While frozen, the breaker is open: a new request fails at once.
            assert_unavailable(get(base_url, GET_FEATURE, 10), cluster)
            cluster.thaw()
            assert {f.result().status_code for f in stuck} <= {200, 503}
    finally:
        cluster.thaw()
    wait_for_layer(base_url)


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A port that accepts connections and never says a word: a database that hangs before
    the first connection was ever made."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_a_database_hanging_from_the_start_holds_no_other_project(
    silent_database: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A database that accepts connections and never answers, from before the server starts
    (the cases above start with it up). While the first connection is tried (for a connect
    timeout far longer than the demo's bound), the requests for its layer that wait for it
    used to be unbounded: 42 of them held every worker thread and the demo's GetCapabilities
    timed out. Now at most `source_max_waiting` wait, the others get their 503 at once, and a
    GeoPackage project's first GetCapabilities (built on a worker thread) is answered."""
    import os

    folder = tmp_path_factory.mktemp("silent")
    project = folder / "pgproj.yaml"
    dsn = f"postgresql://nobody:secret@127.0.0.1:{silent_database}/db"
    project.write_text(
        "name: pgproj\ntitle: PostGIS\nlayers:\n  - name: parcels\n    title: Parcels\n"
        f"    source: {{type: postgis, dsn: '{dsn}', table: parcels}}\n"
    )
    settings = {
        **SETTINGS,
        "OGCSERVE_SOURCE_CONNECT_TIMEOUT": "20",  # twice the demo's 10 s below
        "OGCSERVE_SOURCE_MAX_WAITING": "4",
    }
    env = {**os.environ, **settings}
    with (
        serve_process(demo_project(), project, workers=1, env=env) as url,
        ThreadPoolExecutor(max_workers=48) as pool,
    ):
        layer = [pool.submit(get, url, GET_FEATURE, 120) for _ in range(42)]
        time.sleep(0.5)
        # Not requested before: the demo's capabilities are built on a worker thread now.
        assert get(url, CAPABILITIES, 10).status_code == 200
        # At most one request probes the database (and the pool's queue); the others fail fast.
        deadline = time.monotonic() + 60
        while sum(f.done() for f in layer) < 42 - 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        done = [f.result() for f in layer if f.done()]
        assert len(done) >= 42 - 5
        for response in done:
            assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
            assert "ExceptionReport" in response.text and "secret" not in response.text

"""PostGIS stopped and started again while requests flow (issue 11, "Faults"): a real
`ogcserve serve --workers 2` with a PostGIS project on a cluster of the test's own
(tests/pg_cluster.py; never the machine's main one) and the demo (GeoPackage) project, under
continuous load on both.

While the database is down, requests for its layer fail fast with 503 and Retry-After (those in
flight when it stopped included: no 500, no hang); the GeoPackage project answers every
request; once the database is back, its layer answers again without restarting ogcserve, and
the load ends with nothing but successes. test_postgis_outage.py covers an outage that starts
before a burst, and a database that hangs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pg_cluster
import psycopg
import pytest

from ogcserve.cli import demo_project
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

PG_FEATURES = "/ows/pgproj?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels&COUNT=20"
PG_MAP = (
    "/ows/pgproj?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=parcels&STYLES=&CRS=EPSG:4326"
    "&BBOX=0,0,60,60&WIDTH=64&HEIGHT=64&FORMAT=image/png"
)
GPKG = (
    "/ows/demo?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=5",
    "/ows/demo?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326"
    "&BBOX=-90,-180,90,180&WIDTH=64&HEIGHT=32&FORMAT=image/png",
)
SETTINGS = {
    "OGCSERVE_SOURCE_CONNECT_TIMEOUT": "2",
    "OGCSERVE_SOURCE_QUEUE_TIMEOUT": "2",
    "OGCSERVE_SOURCE_RETRY_AFTER": "2",
}
HANG = 30.0


class Load:
    """Client threads looping over `paths`, recording (phase, path, status or error, headers)."""

    def __init__(self, url: str, paths: tuple[str, ...], clients: int) -> None:
        self.url, self.paths = url, paths
        self.phase = "before"
        self.outcomes: list[tuple[str, str, int | Exception, httpx.Headers | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=HANG) as client:
            while not self._stop.is_set():
                for path in self.paths:
                    phase = self.phase
                    try:
                        response = client.get(self.url + path)
                        self.outcomes.append(
                            (self._label(phase), path, response.status_code, response.headers)
                        )
                    except httpx.HTTPError as error:
                        self.outcomes.append((self._label(phase), path, error, None))

    def _label(self, started: str) -> str:
        """The phase a request ran in, or `changing` if the phase changed meanwhile."""
        return started if started == self.phase else "changing"

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(HANG)

    def count(self, phase: str) -> int:
        return sum(1 for o in self.outcomes if o[0] == phase)

    def statuses(self, phase: str) -> set[int | str]:
        return {
            o[2] if isinstance(o[2], int) else type(o[2]).__name__
            for o in self.outcomes
            if o[0] == phase
        }


def _why(log: Path) -> str:
    """The server's warnings and errors, for a failure's message."""
    lines = log.read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if "WARNING" not in line or "PostGIS" in line)[-6000:]


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg_cluster.OwnPostgres]:
    with pg_cluster.own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE parcels AS SELECT g AS fid, 'parcel ' || g AS name,"
                " ST_SetSRID(ST_MakePoint(g % 50, g / 50), 4326)::geometry(Point, 4326) AS geom"
                " FROM generate_series(1, 2000) g"
            )
            conn.execute("ALTER TABLE parcels ADD PRIMARY KEY (fid)")
        yield pg


def test_postgis_stopped_and_started_mid_load(
    cluster: pg_cluster.OwnPostgres, tmp_path: os.PathLike[str]
) -> None:
    project = os.path.join(tmp_path, "pgproj.yaml")
    with open(project, "w") as out:
        out.write(
            "name: pgproj\ntitle: PostGIS\nlayers:\n  - name: parcels\n    title: Parcels\n"
            f"    source: {{type: postgis, dsn: '{cluster.dsn}', table: parcels}}\n"
        )
    log = Path(tmp_path) / "serve.log"
    with (
        serve_process(
            demo_project(), project, workers=2, env={**os.environ, **SETTINGS}, log=log
        ) as url,
        Load(url, (PG_FEATURES, PG_MAP), clients=4) as pg,
        Load(url, GPKG, clients=2) as gpkg,
    ):
        assert wait_for(lambda: pg.count("before") >= 40 and gpkg.count("before") >= 10)

        pg.phase = gpkg.phase = "down"
        cluster.stop()  # fast shutdown: the queries in flight are cut off
        try:
            assert wait_for(lambda: pg.count("down") >= 40 and gpkg.count("down") >= 20)
        finally:
            pg.phase = gpkg.phase = "restarting"
            cluster.start()

        # Back without restarting ogcserve: every worker's layer answers again.
        assert wait_for(lambda: sum(1 for o in pg.outcomes[-20:] if o[2] == 200) == 20)
        pg.phase = gpkg.phase = "after"
        assert wait_for(lambda: pg.count("after") >= 40 and gpkg.count("after") >= 10)

    assert pg.statuses("before") == {200} and pg.statuses("after") == {200}
    # The outage cost the PostGIS requests a 503 each (or nothing, for those that finished
    # first): never a 500, a dropped connection or a hang.
    assert 503 in pg.statuses("down")
    for phase in ("changing", "down", "restarting"):
        assert pg.statuses(phase) <= {200, 503}, (phase, _why(log))
    for phase, path, status, headers in pg.outcomes:
        if status == 503:
            assert headers is not None and int(headers["Retry-After"]) >= 1, (phase, path)
    # The GeoPackage project did not notice.
    for phase in ("before", "changing", "down", "restarting", "after"):
        assert gpkg.statuses(phase) <= {200}, phase

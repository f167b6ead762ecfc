"""A PostGIS read answered on the event loop (http/inline.py) when the database turns slow:
the loop waits for that one read, and the requests after it run in worker threads until the
database is quick again."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ogcserve.context import RequestContext
from ogcserve.http import inline
from ogcserve.plugins import ServerInterface
from ogcserve.plugins.filters import RequestFilter
from ogcserve.testing import client, make_server

GFI = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=slow&STYLES="
    "&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=1024&HEIGHT=768&QUERY_LAYERS=slow"
    "&INFO_FORMAT=application/vnd.ogc.gml&I=519&J=185&FEATURE_COUNT=1"
)
SLOW = 0.6  # seconds the database takes per read once slowed
QUICK = 0.3  # seconds a run may take on the loop (far above a read of a quick database)


@pytest.fixture
def slowed(pg_tables: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A view of the countries that sleeps `delay`'s seconds per read; its name and the delay
    table's."""
    dsn = os.environ["OGCSERVE_TEST_POSTGIS"]
    suffix = uuid.uuid4().hex[:10]
    view, delay = f"slow_{suffix}", f"delay_{suffix}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {delay} (seconds float8 NOT NULL)")
        conn.execute(f"INSERT INTO {delay} VALUES (0)")
        conn.execute(
            f"CREATE VIEW {view} AS SELECT c.* FROM {pg_tables['countries']} c,"
            f" LATERAL (SELECT pg_sleep(seconds) FROM {delay}) AS wait"
        )
    try:
        yield view, delay
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP VIEW IF EXISTS {view}")
            conn.execute(f"DROP TABLE IF EXISTS {delay}")


class _Where(RequestFilter):
    """Notes whether each request's pipeline runs in a worker thread."""

    def __init__(self) -> None:
        self.pooled: list[bool] = []

    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        self.pooled.append(threading.current_thread().name.startswith("ogcserve-request"))
        return None


def test_a_slow_database_stalls_the_loop_once(
    slowed: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    view, delay = slowed
    dsn = os.environ["OGCSERVE_TEST_POSTGIS"]
    monkeypatch.setattr(inline, "QUICK", QUICK)
    monkeypatch.setattr(inline, "PROMOTE_AFTER", 3)
    project = tmp_path / "slow.yaml"
    project.write_text(
        "title: slow\ncrs: [EPSG:4326]\nlayers:\n"
        f"  - {{name: slow, key: fid, queryable: true,"
        f" source: {{type: postgis, dsn: '{dsn}', table: {view}}}}}\n"
    )
    where = _Where()

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(where)

    def slow_down(seconds: float) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"UPDATE {delay} SET seconds = %s", (seconds,))

    server = make_server([project], plugins=[setup])
    with client(server) as http:
        # Another kind opens the pool and reads the view's schema first.
        assert http.get(GFI.replace("GetFeatureInfo", "GetMap") + "&FORMAT=image/png").is_success
        where.pooled.clear()
        quick = [http.get(GFI) for _ in range(5)]  # 3 in threads, then on the loop
        slow_down(SLOW)
        started = time.perf_counter()
        slow = [http.get(GFI) for _ in range(3)]  # one on the loop, then in threads
        took = time.perf_counter() - started
        slow_down(0)
        again = [http.get(GFI) for _ in range(5)]  # 3 in threads, then on the loop again
    server.close()
    answers = {r.content for r in quick + slow + again}
    assert {r.status_code for r in quick + slow + again} == {200}
    assert len(answers) == 1 and b"France" in answers.pop()
    assert took >= 3 * SLOW  # the delay was in force for each of them
    earned = [True] * 3 + [False] * 2  # in threads, then on the loop
    assert where.pooled == [*earned, False, True, True, *earned]

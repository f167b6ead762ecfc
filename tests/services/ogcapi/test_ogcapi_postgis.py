"""OGC API over PostGIS: the same answers as over a GeoPackage (filters, time, CRS, paging)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from ogcapi_support import doc, event_rows, get, roles, write_events_postgis

from ogcserve.server import Server
from ogcserve.testing import make_server

pytestmark = pytest.mark.postgis
ITEMS = "/ogcapi/ev/collections/events/items"


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Server]:
    import psycopg

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"oapi_events_{uuid.uuid4().hex[:8]}"
    server = make_server([write_events_postgis(tmp_path, dsn, table)], plugins=[roles])
    try:
        yield server
    finally:
        server.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def ids(server: Server, url: str, role: str | None = None) -> list[int]:
    return [f["id"] for f in doc(get(server, url, role))["features"]]


def test_filters_time_and_crs(pg: Server) -> None:
    text = quote("kind = 'a' AND value < 30")
    assert doc(get(pg, f"{ITEMS}?filter={text}"))["numberMatched"] == 10
    assert ids(pg, f"{ITEMS}?datetime=2020-01-01T05:00:00Z/2020-01-01T07:00:00Z") == [6, 7, 8]
    assert doc(get(pg, f"{ITEMS}?datetime=2020-01-02&limit=100"))["numberMatched"] == 24
    box = quote("S_INTERSECTS(geom, BBOX(-10, 40, -9.5, 40.25))")
    assert ids(pg, f"{ITEMS}?filter={box}") == [1, 2, 3, 101, 102, 103]
    lat_lon = doc(get(pg, f"{ITEMS}/2?crs={quote('http://www.opengis.net/def/crs/EPSG/0/4326')}"))
    assert lat_lon["geometry"]["coordinates"] == [40.0, -9.8]
    described = doc(get(pg, "/ogcapi/ev/collections/events"))
    assert described["extent"]["temporal"]["interval"][0][0].startswith("2020-01-01T00:00:00")


def test_access_rules_and_paging(pg: Server) -> None:
    mine = [r["fid"] for r in event_rows(250) if r["kind"] != "c" and r["value"] >= 10]
    seen: list[int] = []
    url = f"{ITEMS}?limit=50&sortby=-value"
    while url:
        page = doc(get(pg, url, "restricted"))
        seen += [f["id"] for f in page["features"]]
        assert all("secret" not in f["properties"] for f in page["features"])
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].removeprefix("http://testserver") if nxt else ""
    assert seen == sorted(mine, reverse=True)
    assert get(pg, f"{ITEMS}/3", "restricted").status == 404

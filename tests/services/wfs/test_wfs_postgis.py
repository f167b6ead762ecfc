"""The same operations over a real PostGIS table: filters pushed into SQL, paging, and
transactions rolled back by the database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from wfs_support import NS, build, exception_code, get, parcel_roles, post, xml

from ogcserve.server import Server

pytestmark = pytest.mark.postgis
GF = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels"


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Server, str, str]]:
    import psycopg

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"wfs_parcels_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, role text NOT NULL,"
            " name text NOT NULL, value integer, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (role, name, value, geom) SELECT"
            " CASE WHEN g % 2 = 1 THEN 'a' ELSE 'b' END, 'parcel ' || g, g * 10,"
            f" ST_SetSRID(ST_MakePoint(g, g / 2.0), 4326) FROM generate_series(1, 3000) g"
        )
    (tmp_path / "pg.yaml").write_text(
        f"name: edit\ntitle: pg\nlayers:\n  - name: parcels\n    title: Parcels\n"
        f"    source: {{type: postgis, dsn: '{dsn}', table: {table}}}\n"
        f"    wfs: {{insert: true, update: true, delete: true}}\n"
    )
    srv = build([tmp_path / "pg.yaml"], plugins=(parcel_roles,))
    try:
        yield srv, dsn, table
    finally:
        srv.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def rows(dsn: str, table: str) -> list[tuple[int, str, str, int]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return list(conn.execute(f"SELECT fid, role, name, value FROM {table} ORDER BY fid"))


def test_count_and_paging_follow_the_callers_rows(pg: tuple[Server, str, str]) -> None:
    srv, _, _ = pg
    root = xml(get(srv, f"{GF}&COUNT=1000", role="a"))
    assert root.get("numberMatched") == "1500" and root.get("numberReturned") == "1000"
    roles = {m.findtext("e:role", namespaces=NS) for m in root.iterfind("wfs:member/*", NS)}
    assert roles == {"a"}
    page = xml(get(srv, f"{GF}&COUNT=3&STARTINDEX=1000", role="a"))
    assert [m.get(f"{{{NS['gml']}}}id") for m in page.iterfind("wfs:member/*", NS)] == [
        "parcels.2001",
        "parcels.2003",
        "parcels.2005",
    ]


def test_spatial_and_comparison_filters(pg: tuple[Server, str, str]) -> None:
    srv, _, _ = pg
    f = (
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" '
        'xmlns:gml="http://www.opengis.net/gml/3.2"><fes:And><fes:BBOX>'
        '<fes:ValueReference>geom</fes:ValueReference><gml:Envelope srsName="EPSG:4326">'
        "<gml:lowerCorner>0 0</gml:lowerCorner><gml:upperCorner>100 100</gml:upperCorner>"
        "</gml:Envelope></fes:BBOX><fes:PropertyIsGreaterThanOrEqualTo>"
        "<fes:ValueReference>value</fes:ValueReference><fes:Literal>500</fes:Literal>"
        "</fes:PropertyIsGreaterThanOrEqualTo></fes:And></fes:Filter>"
    )
    root = xml(get(srv, f"{GF}&FILTER={quote(f)}&RESULTTYPE=hits", role="admin"))
    assert root.get("numberMatched") == str(100 - 50 + 1)
    dwithin = (
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" '
        'xmlns:gml="http://www.opengis.net/gml/3.2"><fes:DWithin><fes:ValueReference>geom'
        '</fes:ValueReference><gml:Point gml:id="x" srsName="EPSG:4326"><gml:pos>10 5'
        '</gml:pos></gml:Point><fes:Distance uom="deg">0.01</fes:Distance></fes:DWithin>'
        "</fes:Filter>"
    )
    root = xml(get(srv, f"{GF}&FILTER={quote(dwithin)}", role="admin"))
    assert [m.get(f"{{{NS['gml']}}}id") for m in root.iterfind("wfs:member/*", NS)] == [
        "parcels.10"
    ]


def test_transaction_rolls_back_in_the_database(pg: tuple[Server, str, str]) -> None:
    srv, dsn, table = pg
    before = rows(dsn, table)
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
        f'xmlns:fes="{NS["fes"]}" xmlns:gml="{NS["gml"]}" xmlns:e="{NS["e"]}">'
        "<wfs:Insert><e:parcels><e:role>a</e:role><e:name>new</e:name></e:parcels>"
        "</wfs:Insert><wfs:Update typeName='e:parcels'><wfs:Property><wfs:ValueReference>"
        "name</wfs:ValueReference></wfs:Property><fes:Filter><fes:ResourceId "
        "rid='parcels.1'/></fes:Filter></wfs:Update></wfs:Transaction>"
    )
    r = post(srv, body, role="admin")  # setting name to null breaks NOT NULL
    assert r.status == 400 and "Update" in r.body.decode()
    assert rows(dsn, table) == before
    ok = post(
        srv,
        body.replace(
            "name</wfs:ValueReference>", "name</wfs:ValueReference><wfs:Value>x</wfs:Value>"
        ),
        role="admin",
    )
    assert ok.status == 200
    rid = xml(ok).find(".//fes:ResourceId", NS).get("rid")
    # The rolled-back insert used up a sequence value (PostgreSQL never gives them back).
    after = rows(dsn, table)
    assert rid == f"parcels.{after[-1][0]}" and after[-1][2] == "new" and after[0][2] == "x"


def test_update_moving_a_row_out_is_refused(pg: tuple[Server, str, str]) -> None:
    srv, dsn, table = pg
    before = rows(dsn, table)
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
        f'xmlns:fes="{NS["fes"]}" xmlns:e="{NS["e"]}"><wfs:Update typeName="e:parcels">'
        "<wfs:Property><wfs:ValueReference>role</wfs:ValueReference><wfs:Value>b"
        "</wfs:Value></wfs:Property><fes:Filter><fes:ResourceId rid='parcels.1'/>"
        "</fes:Filter></wfs:Update></wfs:Transaction>"
    )
    r = post(srv, body, role="a")
    assert r.status == 403 and exception_code(r) == "Security"
    assert rows(dsn, table) == before


class CountingSink:
    """Keeps only sizes: what a client receives, without holding it."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.status: int | None = None

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status

    def send(self, chunk: bytes) -> None:
        self.sizes.append(len(chunk))

    def end(self) -> None:
        pass

    def complete(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.sizes.append(len(body))

    def abort(self) -> None:
        raise AssertionError("stream broken off")


@pytest.mark.parametrize("fmt", ["application/json", ""])
def test_large_result_streams_with_flat_memory(tmp_path: Path, fmt: str) -> None:
    import tracemalloc

    import psycopg

    from ogcserve import pipeline
    from ogcserve.http.request import ServerRequest

    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    table = f"wfs_big_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} AS SELECT g AS id, 'label ' || g AS label,"
            " ST_Buffer(ST_SetSRID(ST_MakePoint(g % 360 - 180, g % 170 - 85), 4326),"
            " 0.1, 2)::geometry(Polygon, 4326) AS geom FROM generate_series(1, 40000) g"
        )
        conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
    (tmp_path / "big.yaml").write_text(
        f"name: big\ntitle: big\nlayers:\n  - name: big\n    title: big\n"
        f"    source: {{type: postgis, dsn: '{dsn}', table: {table}}}\n"
    )
    srv = build([tmp_path / "big.yaml"])
    try:
        url = (
            "http://testserver/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature"
            f"&TYPENAMES=big&OUTPUTFORMAT={fmt}"
        )
        sink = CountingSink()
        tracemalloc.start()
        pipeline.handle(srv, ServerRequest.build("GET", url, route={"endpoint": "ows"}), sink)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        total = sum(sink.sizes)
        assert sink.status == 200 and len(sink.sizes) >= 40
        # The first chunk left after ~1,000 features, long before the 40,000th was read...
        assert sink.sizes[0] < total / 20
        # ...and memory stayed flat: far below the size of the whole response.
        assert peak < total / 4, (peak, total)
    finally:
        srv.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_an_update_of_many_rows_changes_the_callers_rows_only(pg: tuple[Server, str, str]) -> None:
    """1,500 rows match the filter, the caller sees 750 of them: those are updated (in
    chunks, a statement for many rows), the others untouched."""
    srv, dsn, table = pg
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
        f'xmlns:fes="{NS["fes"]}" xmlns:e="{NS["e"]}"><wfs:Update typeName="e:parcels">'
        "<wfs:Property><wfs:ValueReference>name</wfs:ValueReference><wfs:Value>many"
        "</wfs:Value></wfs:Property><fes:Filter><fes:PropertyIsLessThanOrEqualTo>"
        "<fes:ValueReference>value</fes:ValueReference><fes:Literal>15000</fes:Literal>"
        "</fes:PropertyIsLessThanOrEqualTo></fes:Filter></wfs:Update></wfs:Transaction>"
    )
    r = post(srv, body, role="a")
    assert r.status == 200, r.body[:500]
    assert xml(r).findtext(".//wfs:totalUpdated", namespaces=NS) == "750"
    changed = {fid for fid, role, name, _ in rows(dsn, table) if name == "many"}
    assert changed == set(range(1, 1501, 2))


def test_an_update_of_many_rows_is_refused_whole(pg: tuple[Server, str, str]) -> None:
    srv, dsn, table = pg
    before = rows(dsn, table)
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
        f'xmlns:fes="{NS["fes"]}" xmlns:e="{NS["e"]}"><wfs:Update typeName="e:parcels">'
        "<wfs:Property><wfs:ValueReference>role</wfs:ValueReference><wfs:Value>b"
        "</wfs:Value></wfs:Property><fes:Filter><fes:PropertyIsLessThanOrEqualTo>"
        "<fes:ValueReference>value</fes:ValueReference><fes:Literal>25000</fes:Literal>"
        "</fes:PropertyIsLessThanOrEqualTo></fes:Filter></wfs:Update></wfs:Transaction>"
    )
    r = post(srv, body, role="a")  # would move 1,250 rows (two chunks) out of the caller's
    assert r.status == 403 and exception_code(r) == "Security"
    assert rows(dsn, table) == before


@pytest.mark.parametrize("count", [700, 1000, 2500])
def test_gml_states_how_many_features_follow(pg: tuple[Server, str, str], count: int) -> None:
    """GML states numberReturned before the members: counted from the rows read ahead when
    they are all of it, by a read of ids when more follow."""
    srv, _, _ = pg
    root = xml(get(srv, f"{GF}&COUNT={count}", role="admin"))
    assert root.get("numberReturned") == str(count)
    assert len(root.findall("wfs:member", NS)) == count
    old = xml(
        get(
            srv,
            f"SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME=parcels&MAXFEATURES={count}",
            role="admin",
        )
    )
    assert old.get("numberOfFeatures") == str(count)
    assert len(old.findall("{http://www.opengis.net/gml}featureMember")) == count


@pytest.mark.parametrize(("count", "start", "returned"), [(1400, 0, 1400), (1400, 300, 1200)])
def test_gml_counts_a_long_page_under_the_callers_row_filter(
    pg: tuple[Server, str, str], count: int, start: int, returned: int
) -> None:
    """A page longer than the rows read ahead is counted by the database up to its limit
    (`count(paged=True)`), with the caller's row filter applied as to the read: role `a` sees
    the 1,500 odd parcels of 3,000."""
    srv, _, _ = pg
    root = xml(get(srv, f"{GF}&COUNT={count}&STARTINDEX={start}", role="a"))
    members = root.findall("wfs:member/*", NS)
    assert root.get("numberReturned") == str(returned) == str(len(members))
    assert {m.findtext("e:role", namespaces=NS) for m in members} == {"a"}
    assert members[0].get(f"{{{NS['gml']}}}id") == f"parcels.{2 * start + 1}"
    old = xml(
        get(
            srv,
            "SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME=parcels"
            f"&MAXFEATURES={count}&STARTINDEX={start}",
            role="a",
        )
    )
    members = old.findall("{http://www.opengis.net/gml}featureMember")
    assert old.get("numberOfFeatures") == str(returned) == str(len(members))

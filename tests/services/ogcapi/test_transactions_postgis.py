"""OGC API - Features Part 4 on a PostGIS table (serial integer key, ids from the URL as text):
writes, rollbacks checked in the database, and If-Match against a writer in another
transaction (the row lock makes the check and the write atomic)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transactions_support import context, layer, roles

from ogcserve.errors import ServiceError
from ogcserve.server import Server
from ogcserve.services.ogcapi.transactions import (
    create_item,
    current_etag,
    delete_item,
    replace_item,
    update_item,
)
from ogcserve.testing import make_server

pytestmark = pytest.mark.postgis

PG = tuple[Server, str, str]


@pytest.fixture
def pg(tmp_path: Path, postgis_dsn: str) -> Iterator[PG]:
    import psycopg

    table = f"ogcapi_parcels_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgis_dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (fid serial PRIMARY KEY, role text NOT NULL,"
            " name text NOT NULL, value integer, geom geometry(Point, 4326))"
        )
        conn.execute(
            f"INSERT INTO {table} (role, name, value, geom) SELECT"
            " CASE WHEN g % 2 = 1 THEN 'a' ELSE 'b' END, 'parcel ' || g, g * 10,"
            " ST_SetSRID(ST_MakePoint(g, g / 2.0), 4326) FROM generate_series(1, 6) g"
        )
    (tmp_path / "pg.yaml").write_text(
        f"name: edit\ntitle: pg\nlayers:\n  - name: parcels\n    title: Parcels\n"
        f"    source: {{type: postgis, dsn: '{postgis_dsn}', table: {table}}}\n"
        f"    wfs: {{insert: true, update: true, delete: true}}\n"
    )
    srv = make_server([tmp_path / "pg.yaml"], plugins=[roles])
    try:
        yield srv, postgis_dsn, table
    finally:
        srv.close()
        with psycopg.connect(postgis_dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def rows(pg: PG) -> dict[int, tuple[Any, ...]]:
    import psycopg

    _, dsn, table = pg
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            f"SELECT fid, role, name, value, ST_X(geom), ST_Y(geom) FROM {table} ORDER BY fid"
        )
        return {r[0]: tuple(r[1:]) for r in found}


def refused(status: int, call: Any, *args: Any) -> None:
    with pytest.raises(ServiceError) as raised:
        call(*args)
    assert raised.value.status == status, raised.value


def test_writes_with_text_ids(pg: PG) -> None:
    server = pg[0]
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [3, 4]}}
    with context(server) as ctx:
        parcels = layer(ctx)
        fid = create_item(
            ctx,
            parcels,
            json.dumps({**body, "properties": {"role": "a", "name": "n"}}).encode(),
            None,
        )
        assert fid == 7
        tag = current_etag(ctx, parcels, "7")
        new = update_item(ctx, parcels, "7", b'{"properties": {"value": 70}}', tag, None)
        assert new == current_etag(ctx, parcels, "7") != tag
        replace = {**body, "properties": {"role": "a", "name": "r"}, "id": 7}
        replace_item(ctx, parcels, "7", json.dumps(replace).encode(), new, None)
        assert rows(pg)[7] == ("a", "r", None, 3.0, 4.0)
        delete_item(ctx, parcels, "2", "*")
        refused(404, current_etag, ctx, parcels, "07")
    assert 2 not in rows(pg)


def test_a_failed_write_leaves_the_table_as_it_was(pg: PG) -> None:
    before = rows(pg)
    with context(server := pg[0]) as ctx:
        patch = b'{"properties": {"value": 1, "name": null}, "geometry": {"coordinates": [9, 9]}}'
        refused(400, update_item, ctx, layer(ctx), "1", patch, None, None)
        refused(
            400, update_item, ctx, layer(ctx), "1", b'{"properties": {"value": "x"}}', None, None
        )
        refused(412, delete_item, ctx, layer(ctx), "1", '"stale"')
    with context(server, "a") as ctx:
        refused(404, update_item, ctx, layer(ctx), "2", b'{"properties": {"value": 1}}', None, None)
        refused(
            403, update_item, ctx, layer(ctx), "1", b'{"properties": {"role": "b"}}', None, None
        )
    assert rows(pg) == before


def test_if_match_is_checked_against_a_writer_that_lands_during_the_write(pg: PG) -> None:
    """Another transaction changes the row and holds its lock while our write starts from the
    ETag read before: our UPDATE waits on the row, the other commits, and our check (after the
    write, inside our transaction) finds the version we would have overwritten: 412, nothing of
    ours written."""
    import psycopg

    server, dsn, table = pg
    with context(server) as ctx:
        tag = current_etag(ctx, layer(ctx), "1")
    other = psycopg.connect(dsn)
    other.execute(f"UPDATE {table} SET value = 111 WHERE fid = 1")  # row locked, not committed
    outcome: list[int] = []

    def write() -> None:
        with context(server) as ctx:
            try:
                update_item(ctx, layer(ctx), "1", b'{"properties": {"value": 222}}', tag, None)
                outcome.append(200)
            except ServiceError as error:
                outcome.append(error.status)

    thread = threading.Thread(target=write)
    thread.start()
    _wait_for_lock_wait(dsn, table)
    other.commit()
    other.close()
    thread.join()
    assert outcome == [412]
    assert rows(pg)[1][2] == 111


def test_concurrent_updates_from_one_etag_only_one_lands(pg: PG) -> None:
    server = pg[0]
    with context(server) as ctx:
        tag = current_etag(ctx, layer(ctx), "1")
    barrier = threading.Barrier(3)
    outcomes: dict[int, int] = {}

    def write(value: int) -> None:
        with context(server) as ctx:
            barrier.wait()
            try:
                body = json.dumps({"properties": {"value": value}}).encode()
                update_item(ctx, layer(ctx), "1", body, tag, None)
                outcomes[value] = 200
            except ServiceError as error:
                outcomes[value] = error.status

    threads = [threading.Thread(target=write, args=(v,)) for v in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == [200, 412, 412]
    winner = next(v for v, status in outcomes.items() if status == 200)
    assert rows(pg)[1][2] == winner


def _wait_for_lock_wait(dsn: str, table: str) -> None:
    """Until a session waits on a row lock of `table` (synchronisation, not a timing check)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(500):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query ILIKE %s",
                (f"%UPDATE%{table}%",),
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the write never waited on the row lock")

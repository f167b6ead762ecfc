"""Reads on unchecked autocommit connections (`PostGISConnections.read`,
docs/decisions/0008-unchecked-autocommit-reads.md): a one-batch read is one round trip to the
database; a pooled connection that died between requests (its backend terminated, the server
restarted) costs the next read nothing but a retry on a new connection; a database that is
down opens the breaker (503 with Retry-After, then no more attempts) as a failed check did.
Writes and streamed reads still run in a transaction on a checked connection. Against a
cluster of the test's own (tests/pg_cluster.py), whose backends the tests terminate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_cluster import OwnPostgres, own_postgres
from psycopg import pq
from shapely.geometry import Point

from ogcserve.features import Feature, FeatureQuery
from ogcserve.sources import pg_connections
from ogcserve.sources.limits import SourceDownError, SourceLimits
from ogcserve.sources.postgis import PostGISSource

ROWS = 3000


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE pts AS SELECT g AS id, ST_SetSRID(ST_MakePoint(g % 360 - 180,"
                " (g / 360) % 180 - 90), 4326)::geometry(Point, 4326) AS geom,"
                f" md5(g::text) AS label FROM generate_series(1, {ROWS}) g"
            )
            conn.execute("ALTER TABLE pts ADD PRIMARY KEY (id)")
            conn.execute("CREATE SEQUENCE pts_ids START 100000 OWNED BY pts.id")
            conn.execute("ALTER TABLE pts ALTER id SET DEFAULT nextval('pts_ids')")
        yield pg


def limits(**overrides: Any) -> SourceLimits:
    values: dict[str, Any] = {"connect_timeout": 2, "retry_after": 1.0, "queue_timeout": 2.0}
    return SourceLimits(**{**values, **overrides})


def terminate_ogcserve_backends(pg: OwnPostgres) -> int:
    """End every backend the sources opened (pooled and stream connections alike)."""
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name LIKE 'ogcserve%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


ONE_FEATURE = FeatureQuery(bbox=(-10.0, -90.0, 10.0, -80.0), limit=1)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Every connection opened from here on traces what it sends (libpq's trace) to a file."""
    trace = tmp_path / "trace.log"
    files = []
    real = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def connect(cls: type, *args: Any, **kwargs: Any) -> Any:
        conn = real(cls, *args, **kwargs)
        out = trace.open("a")
        files.append(out)
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        return conn

    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(connect))
    yield trace
    for out in files:
        out.close()


def round_trips(trace: Path) -> int:
    """Messages after which the client waits for the server: a simple Query, or a Sync that
    ends an extended-protocol exchange (Parse/Bind/Execute)."""
    lines = [line.split("\t") for line in trace.read_text().splitlines()]
    return sum(1 for p in lines if len(p) > 2 and p[0] == "F" and p[2] in ("Query", "Sync"))


def test_a_one_feature_read_is_one_round_trip(cluster: OwnPostgres, traced: Path) -> None:
    source = PostGISSource(cluster.dsn, "pts", limits=limits())
    try:
        assert len(list(source.query(ONE_FEATURE))) == 1  # introspection, first connections
        assert source.count(FeatureQuery()) == ROWS
        traced.write_text("")
        for _ in range(10):
            (batch,) = source.query(ONE_FEATURE)
            assert len(batch) == 1
        assert round_trips(traced) == 10  # no check, BEGIN or ROLLBACK around the read
        assert "BEGIN" not in traced.read_text()
        traced.write_text("")
        assert source.count(FeatureQuery()) == ROWS
        assert round_trips(traced) == 1
    finally:
        source.close()


def test_a_connection_killed_between_requests_costs_the_next_read_nothing(
    cluster: OwnPostgres,
) -> None:
    source = PostGISSource(cluster.dsn, "pts", pool_size=2, limits=limits())
    try:
        assert source.count(FeatureQuery()) == ROWS
        assert len(list(source.query(ONE_FEATURE))) == 1
        assert terminate_ogcserve_backends(cluster) >= 1
        # The pooled connections are dead and nobody checks them: the read finds it, the
        # database answers a direct connection, the read runs again on a new one.
        (batch,) = source.query(ONE_FEATURE)
        assert len(batch) == 1
        terminate_ogcserve_backends(cluster)
        assert source.count(FeatureQuery()) == ROWS
        terminate_ogcserve_backends(cluster)
        assert source.extent() is not None
        stats = source.pool_stats()
        assert stats.get("connections_lost", 0) + stats.get("returns_bad", 0) >= 1
    finally:
        source.close()


def test_writes_and_streams_after_killed_connections(cluster: OwnPostgres) -> None:
    """Blocks that cannot run twice (a transaction, a stream) get a checked connection."""
    source = PostGISSource(cluster.dsn, "pts", pool_size=2, limits=limits())
    try:
        assert source.count(FeatureQuery()) == ROWS
        terminate_ogcserve_backends(cluster)
        with source.transaction() as tx:
            (fid,) = tx.insert([Feature(None, Point(1, 2), {"label": "new"})])
            # A read inside the transaction sees its own write.
            assert tx.get(fid) is not None
        assert source.get(fid) is not None
        with source.transaction() as tx:
            assert tx.delete([fid]) == 1
        terminate_ogcserve_backends(cluster)
        ids = [f for batch in source.query(FeatureQuery(), batch_size=500) for f in batch.ids]
        assert len(ids) == len(set(ids)) == ROWS
    finally:
        source.close()


def test_a_database_down_opens_the_breaker_as_before(
    cluster: OwnPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle pooled connections to a stopped server: the read that finds its connection dead
    probes, the probe fails, the breaker opens (503 with Retry-After), and the next reads
    fail fast without an attempt to connect; then the database is back for everyone."""
    source = PostGISSource(cluster.dsn, "pts", limits=limits(retry_after=1.0))
    attempts: list[str] = []
    real = psycopg.connect

    def counted(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
        attempts.append(dsn)
        return real(dsn, **kwargs)

    monkeypatch.setattr(pg_connections.psycopg, "connect", counted)
    try:
        assert len(list(source.query(ONE_FEATURE))) == 1
        cluster.stop()
        try:
            with pytest.raises(SourceDownError) as down:
                list(source.query(ONE_FEATURE))
            assert down.value.status == 503 and down.value.headers["Retry-After"] == "1"
            tried = len(attempts)
            with pytest.raises(SourceDownError):
                source.count(FeatureQuery())
            assert len(attempts) == tried  # the breaker answered, no connection was tried
        finally:
            cluster.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert len(list(source.query(ONE_FEATURE))) == 1
                break
            except SourceDownError:
                assert time.monotonic() < deadline, "the source never came back"
                time.sleep(0.3)
    finally:
        source.close()

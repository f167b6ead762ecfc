"""PostGIS sources under failure: connect and query timeouts, the circuit breaker (503 with
Retry-After at once while the database is known to be down, then one probe), and streams that
hold no pooled connection while their consumer waits. Against a cluster of the test's own
(tests/pg_cluster.py), which the tests stop, freeze and start again; and against local sockets
that refuse or never answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pg_cluster import OwnPostgres, free_port, own_postgres

from ogcserve.errors import ServiceUnavailableError
from ogcserve.features import FeatureBatch, FeatureQuery, SortKey
from ogcserve.sources.limits import (
    CircuitBreaker,
    SourceDownError,
    SourceLimits,
    SourceTimeoutError,
)
from ogcserve.sources.postgis import PostGISSource

ROWS = 5000
# Text keys that an array literal must quote: quotes, backslashes, commas, braces, percent.
ODD = ['a"b', "c\\d", "e,f", "{g}", "h%i", "plain", " sp ace ", "NULL", "", "'q'", "x" * 300]


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE big AS SELECT g AS id, ST_SetSRID(ST_MakePoint(g % 360 - 180,"
                " (g / 360) % 180 - 90), 4326)::geometry(Point, 4326) AS geom,"
                " CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text) END AS label,"
                f" g % 13 AS grp FROM generate_series(1, {ROWS}) g"
            )
            conn.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
            conn.execute("CREATE TABLE odd (code text PRIMARY KEY, n integer)")
            conn.cursor().executemany(
                "INSERT INTO odd VALUES (%s, %s)", [(k, i) for i, k in enumerate(ODD)]
            )
        yield pg


def quick(**overrides: Any) -> SourceLimits:
    values: dict[str, Any] = {
        "connect_timeout": 2,
        "retry_after": 30.0,
        "queue_timeout": 2.0,
        "max_waiting": 4,
    }
    return SourceLimits(**{**values, **overrides})


def sessions(pg: OwnPostgres) -> list[tuple[str, str]]:
    """(application_name, state) of every ogcserve session of the cluster."""
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, state FROM pg_stat_activity"
            " WHERE application_name LIKE 'ogcserve%'"
        ).fetchall()
    return [(str(a), str(s)) for a, s in rows]


def closed_sessions(pg: OwnPostgres, name: str, within: float = 5.0) -> int:
    """How many sessions named `name` remain once closed ones had `within` seconds to go: a
    backend leaves pg_stat_activity a moment after its client closes the socket."""
    deadline = time.monotonic() + within
    while (left := [a for a, _ in sessions(pg)].count(name)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# --- the breaker alone ---------------------------------------------------------------------------


def test_breaker_fails_fast_while_open_then_lets_one_probe_through() -> None:
    now = [100.0]
    breaker = CircuitBreaker(5.0, clock=lambda: now[0])
    assert breaker.admit() is False  # closed: no probe needed
    error = breaker.failed()
    assert error.status == 503 and error.headers == {"Retry-After": "5"}
    now[0] += 2.2
    with pytest.raises(SourceDownError) as early:
        breaker.admit()
    assert early.value.headers == {"Retry-After": "3"}
    now[0] += 3
    assert breaker.admit() is True  # the probe
    with pytest.raises(SourceDownError):
        breaker.admit()  # others fail fast while the probe runs
    breaker.succeeded()
    assert breaker.admit() is False
    breaker.failed()
    now[0] += 5
    assert breaker.admit() is True
    breaker.settle()  # a probe that ended otherwise: down for another interval
    with pytest.raises(SourceDownError):
        breaker.admit()
    breaker.settle()  # no probe running: nothing changes
    now[0] += 5
    assert breaker.admit() is True


# --- unreachable databases -----------------------------------------------------------------------


class SilentServer:
    """Accepts TCP connections and never says a word (a PostgreSQL that hangs at connect)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.mark.parametrize("kind", ["refused", "hanging"])
def test_unreachable_database_answers_503_then_fails_fast(kind: str) -> None:
    silent = SilentServer() if kind == "hanging" else None
    port = silent.port if silent else free_port()  # nothing listens on a fresh free port
    source = PostGISSource(f"postgresql://u@127.0.0.1:{port}/db", "t", limits=quick())
    try:
        started = time.monotonic()
        with pytest.raises(SourceDownError) as first:
            source.schema()
        assert time.monotonic() - started < 20  # the connect timeout, not libpq's default
        assert first.value.status == 503 and first.value.headers["Retry-After"] == "30"
        assert "127.0.0.1" not in first.value.message and "db" not in first.value.message
        attempts = len(silent.accepted) if silent else 0
        for _ in range(5):
            with pytest.raises(SourceDownError):
                source.count(FeatureQuery())
        # While down, no further connection was even tried.
        assert (len(silent.accepted) if silent else 0) == attempts
    finally:
        source.close()
        if silent:
            silent.close()


def test_stopped_database_fails_fast_and_comes_back(cluster: OwnPostgres) -> None:
    source = PostGISSource(cluster.dsn, "big", limits=quick(retry_after=1.0))
    try:
        assert source.count(FeatureQuery()) == ROWS
        cluster.stop()
        try:
            with pytest.raises(SourceDownError) as down:
                source.count(FeatureQuery())
            assert down.value.headers["Retry-After"] == "1"
            with pytest.raises(SourceDownError):
                list(source.query(FeatureQuery(limit=3)))
        finally:
            cluster.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert source.count(FeatureQuery()) == ROWS
                break
            except ServiceUnavailableError:
                assert time.monotonic() < deadline, "the source never came back"
                time.sleep(0.5)
    finally:
        source.close()


def test_frozen_database_costs_a_bounded_wait(cluster: OwnPostgres) -> None:
    source = PostGISSource(cluster.dsn, "big", pool_size=2, limits=quick(retry_after=1.0))
    try:
        source.schema()
        cluster.freeze()
        try:
            results: list[BaseException | int] = []

            def ask() -> None:
                try:
                    results.append(source.count(FeatureQuery()))
                except BaseException as error:
                    results.append(error)

            threads = [threading.Thread(target=ask, daemon=True) for _ in range(12)]
            for t in threads:
                t.start()
            # The pool's two connections may stay stuck on the frozen server (until it thaws);
            # every other request gets its 503, after at most a queue wait and a connect
            # timeout.
            deadline = time.monotonic() + 30
            while len(results) < len(threads) - 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            answered = [r for r in results if isinstance(r, ServiceUnavailableError)]
            assert len(answered) >= len(threads) - 2, results
            assert sum(t.is_alive() for t in threads) <= 2
        finally:
            cluster.thaw()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert source.count(FeatureQuery()) == ROWS
                break
            except ServiceUnavailableError:
                assert time.monotonic() < deadline, "the source never came back"
                time.sleep(0.5)
    finally:
        source.close()


def test_query_timeout_is_a_503(cluster: OwnPostgres) -> None:
    source = PostGISSource(cluster.dsn, "big", limits=quick(query_timeout=0.3))
    try:
        with pytest.raises(SourceTimeoutError) as slow:
            source.count(FeatureQuery(subsets=("pg_sleep(0.01) IS NOT NULL",)))
        assert slow.value.status == 503 and "pg_sleep" not in slow.value.message
        assert source.count(FeatureQuery(limit=1)) == ROWS  # the connection is fine after
    finally:
        source.close()


def test_a_drawing_read_one_fetch_ahead_times_out_as_a_503(cluster: OwnPostgres) -> None:
    # A drawing's batches come in pipeline mode (PostGISSource._ahead): a fetch that runs past
    # the query timeout is the same clean 503, and the pooled connection serves the next read.
    source = PostGISSource(cluster.dsn, "big", limits=quick(query_timeout=0.3))
    try:
        slow = FeatureQuery(exact=False, wkb=True, subsets=("pg_sleep(0.01) IS NOT NULL",))
        with pytest.raises(SourceTimeoutError) as late:
            ids_of(source.query(slow))
        assert late.value.status == 503 and "pg_sleep" not in late.value.message
        drawn = ids_of(source.query(FeatureQuery(exact=False, wkb=True)))
        assert len(drawn) == ROWS
    finally:
        source.close()


# --- streams off the pool ------------------------------------------------------------------------


def ids_of(batches: Iterator[FeatureBatch]) -> list[Any]:
    return [fid for batch in batches for fid in batch.ids]


def test_waiting_streams_hold_no_pooled_connection(cluster: OwnPostgres) -> None:
    source = PostGISSource(cluster.dsn, "big", pool_size=1, limits=quick())
    try:
        streams = [source.query(FeatureQuery(), batch_size=100) for _ in range(3)]
        for stream in streams:
            # The first batch (and the row that tells more follow), pooled connection given back.
            assert len(next(stream)) == 101
            assert len(next(stream)) == 100  # the rest on a connection of its own
        # The only pooled connection is free for everyone else meanwhile.
        assert source.count(FeatureQuery()) == ROWS
        feature = source.get(42)
        assert feature is not None and feature.id == 42
        states = sessions(cluster)
        assert ("ogcserve", "idle in transaction") not in states
        # Each stream's next fetch is sent ahead (pipeline mode): its backend shows it.
        streams_states = [s for s in states if s[0] == "ogcserve stream"]
        assert len(streams_states) == 3
        assert all(s in ("idle in transaction", "active") for _, s in streams_states)
        for stream in streams:
            stream.close()  # type: ignore[attr-defined]
        # Given back to the streams' own pool, idle (warm for the next stream), none of them
        # left in a transaction.
        states = sessions(cluster)
        assert states.count(("ogcserve stream", "idle")) == 3
        assert not [s for s in states if s[1] == "idle in transaction"]
    finally:
        source.close()
    assert closed_sessions(cluster, "ogcserve stream") == 0


def test_stream_connections_are_kept_for_the_next_stream(cluster: OwnPostgres) -> None:
    source = PostGISSource(cluster.dsn, "big", limits=quick())
    try:
        for _ in range(3):
            assert len(ids_of(source.query(FeatureQuery(with_geometry=False), 500))) == ROWS
        assert [a for a, _ in sessions(cluster)].count("ogcserve stream") == 1
    finally:
        source.close()


@pytest.mark.parametrize(
    ("query", "order"),
    [
        (FeatureQuery(with_geometry=False), None),
        (
            FeatureQuery(sort=(SortKey("label", descending=True),), with_geometry=False),
            "label DESC NULLS FIRST, id",
        ),
        (
            FeatureQuery(sort=(SortKey("grp"),), limit=777, offset=1234, with_geometry=False),
            "grp, id LIMIT 777 OFFSET 1234",
        ),
        (
            FeatureQuery(subsets=("grp < 5",), limit=250, offset=3, with_geometry=False),
            "id LIMIT 250 OFFSET 3",
        ),
    ],
)
def test_a_stream_continued_elsewhere_loses_and_repeats_nothing(
    cluster: OwnPostgres, query: FeatureQuery, order: str | None
) -> None:
    source = PostGISSource(cluster.dsn, "big", limits=quick())
    where = " WHERE grp < 5" if query.subsets else ""
    try:
        with psycopg.connect(cluster.dsn) as conn:
            expected = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM big{where} ORDER BY {order}" if order else "SELECT id FROM big"
                )
            ]
        got = ids_of(source.query(query, batch_size=97))
        if order is None:
            assert sorted(got) == sorted(expected)
        else:
            assert got == expected
    finally:
        source.close()


def test_a_layer_whose_database_hangs_costs_its_own_requests_only(
    cluster: OwnPostgres, tmp_path: Any
) -> None:
    """A PostGIS layer first used while its database hangs (the project loaded while it was
    up): one connect timeout, then 503 at once; the demo's layers answer throughout (the
    source is opened lazily, under its breaker, not under the access layer's lock)."""
    from concurrent.futures import ThreadPoolExecutor

    from ogcserve.cli import demo_project
    from ogcserve.testing import call, make_server

    project = tmp_path / "hang.yaml"
    project.write_text(
        "name: hang\ntitle: hangs\nlayers:\n  - name: stuck\n    title: Stuck\n"
        f"    source: {{type: postgis, dsn: '{cluster.dsn}', table: big}}\n"
    )
    server = make_server([demo_project(), project], source_connect_timeout=2, source_retry_after=30)
    stuck = "/ows/hang?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=stuck&COUNT=1"
    demo = "/ows/demo?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cities&COUNT=1"
    cluster.freeze()
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            layer = [pool.submit(call, server, stuck) for _ in range(8)]
            others = [pool.submit(call, server, demo) for _ in range(4)]
            assert [f.result(timeout=30).status for f in others] == [200] * 4
            results = [f.result(timeout=30) for f in layer]
        assert {r.status for r in results} == {503}
        assert all(r.headers.get("Retry-After") for r in results)
        assert call(server, stuck).status == 503  # known down: answered without a wait
    finally:
        cluster.thaw()
        server.close()


def test_a_continued_stream_keeps_text_keys_that_need_quoting(cluster: OwnPostgres) -> None:
    source = PostGISSource(cluster.dsn, "odd", limits=quick())
    try:
        got = ids_of(source.query(FeatureQuery(with_geometry=False), batch_size=2))
        assert sorted(got) == sorted(ODD)
        paged = ids_of(source.query(FeatureQuery(limit=7, offset=1), batch_size=3))
        assert paged == sorted(ODD)[1:8]
    finally:
        source.close()

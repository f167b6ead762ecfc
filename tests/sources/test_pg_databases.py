"""The sources of one database share its breaker and its bound on requests waiting to connect
(`ogcserve.sources.pg_databases`): one database found down fails fast for every table of it,
without another connection attempt, and comes back for all of them; another database is not
affected. Against a cluster of the test's own (tests/pg_cluster.py) and local sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pg_cluster import OwnPostgres, free_port, own_postgres

from ogcserve.errors import ServiceUnavailableError
from ogcserve.features import FeatureQuery
from ogcserve.sources import pg_connections
from ogcserve.sources.limits import SourceBusyError, SourceDownError, SourceLimits
from ogcserve.sources.pg_databases import Databases, database_key
from ogcserve.sources.postgis import PostGISSource

from .test_postgis_limits import SilentServer

TABLES = [f"t{i}" for i in range(5)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            for table in TABLES:
                conn.execute(
                    f"CREATE TABLE {table} AS SELECT g AS id,"
                    " ST_SetSRID(ST_MakePoint(g, g), 4326)::geometry(Point, 4326) AS geom"
                    " FROM generate_series(1, 10) g"
                )
                conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        yield pg


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The direct connection attempts of the sources (the first of a pool, the probes)."""
    attempts: list[str] = []
    real = psycopg.connect

    def counted(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
        attempts.append(dsn)
        return real(dsn, **kwargs)

    monkeypatch.setattr(pg_connections.psycopg, "connect", counted)
    return attempts


def limits(**overrides: Any) -> SourceLimits:
    values: dict[str, Any] = {
        "connect_timeout": 2,
        "retry_after": 30.0,
        "queue_timeout": 2.0,
        "max_waiting": 4,
    }
    return SourceLimits(**{**values, **overrides})


def test_one_key_per_server_database_and_user() -> None:
    a = database_key("postgresql://u:secret@db.example:5433/gis?application_name=x")
    assert a == database_key("host=db.example port=5433 dbname=gis user=u password=other")
    assert a != database_key("postgresql://u@db.example:5433/other")
    assert a != database_key("postgresql://v@db.example:5433/gis")
    assert a != database_key("postgresql://u@db.example/gis")  # port 5432
    assert database_key("not a dsn ===") == ("not a dsn ===",)
    databases = Databases(limits())
    assert databases.guard("postgresql://u@h/d") is databases.guard("host=h user=u dbname=d")
    assert databases.guard("postgresql://u@h/d") is not databases.guard("postgresql://u@h/e")


def test_a_database_found_down_fails_fast_for_every_table_and_comes_back(
    cluster: OwnPostgres, connects: list[str]
) -> None:
    databases = Databases(limits(retry_after=1.0))
    sources = [
        PostGISSource(
            cluster.dsn, t, limits=limits(retry_after=1.0), database=databases.guard(cluster.dsn)
        )
        for t in TABLES
    ]
    try:
        assert [s.count(FeatureQuery()) for s in sources] == [10] * 5
        cluster.stop()
        try:
            with pytest.raises(ServiceUnavailableError) as first:
                sources[0].count(FeatureQuery())
            assert first.value.headers["Retry-After"]
            before = len(connects)
            for source in sources[1:]:
                with pytest.raises(SourceDownError) as fast:
                    source.count(FeatureQuery())
                assert int(fast.value.headers["Retry-After"]) >= 1
            assert len(connects) == before  # not one more attempt for the other tables
        finally:
            cluster.start()
        # Back for every table (each opens a fresh pool once the probe found it up).
        for source in sources:
            wait_until_up(source)
    finally:
        for source in sources:
            source.close()


def wait_until_up(source: PostGISSource) -> None:
    import time

    deadline = time.monotonic() + 60
    while True:
        try:
            assert source.count(FeatureQuery()) == 10
            return
        except ServiceUnavailableError:
            assert time.monotonic() < deadline, "the source never came back"
            time.sleep(0.3)


def test_a_second_database_that_is_up_is_unaffected(connects: list[str]) -> None:
    """A database on another port is another guard: refused there, fine here."""
    with own_postgres() as other:
        databases = Databases(limits())
        down = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
        broken = PostGISSource(down, "t", limits=limits(), database=databases.guard(down))
        with psycopg.connect(other.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE up AS SELECT 1 AS id")
            conn.execute("ALTER TABLE up ADD PRIMARY KEY (id)")
        fine = PostGISSource(other.dsn, "up", limits=limits(), database=databases.guard(other.dsn))
        try:
            with pytest.raises(SourceDownError):
                broken.schema()
            with pytest.raises(SourceDownError):
                broken.schema()
            assert fine.count(FeatureQuery()) == 1
        finally:
            broken.close()
            fine.close()


def test_first_connections_to_a_hanging_database_are_tried_once() -> None:
    """Five tables of a database that accepts connections and never answers, asked at once
    before it was ever reached: one connect timeout is paid, by one request, and the others
    fail fast after it, instead of five connections each waiting out its timeout."""
    silent = SilentServer()
    dsn = f"postgresql://u@127.0.0.1:{silent.port}/db"
    databases = Databases(limits(max_waiting=8))  # all five may wait
    sources = [
        PostGISSource(dsn, t, limits=limits(max_waiting=8), database=databases.guard(dsn))
        for t in TABLES
    ]
    errors: list[BaseException] = []

    def ask(source: PostGISSource) -> None:
        try:
            source.schema()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(s,)) for s in sources]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(errors) == 5 and all(isinstance(e, SourceDownError) for e in errors)
        assert len(silent.accepted) == 1
    finally:
        for source in sources:
            source.close()
        silent.close()


def test_requests_waiting_to_connect_are_bounded_per_database() -> None:
    """`max_waiting` bounds the requests waiting to connect to one database, whatever the
    table they ask for: past it, 503 at once."""
    databases = Databases(limits(max_waiting=2))
    guard = databases.guard("postgresql://u@h/d")
    with guard.waiting(), guard.waiting():
        with pytest.raises(SourceBusyError) as busy, guard.waiting():
            pass
        assert busy.value.status == 503 and busy.value.headers["Retry-After"] == "1"
        with databases.guard("postgresql://u@h/other").waiting():  # another database
            pass
    with guard.waiting():  # the two are done
        pass


def test_a_burst_on_every_table_of_a_hanging_database_costs_one_attempt() -> None:
    """Two requests on each of five tables of a database that never answers: every one gets
    its 503 (busy past the bound, or down once the first attempt failed), and the database
    saw a single connection attempt."""
    silent = SilentServer()
    dsn = f"postgresql://u@127.0.0.1:{silent.port}/db"
    databases = Databases(limits(max_waiting=2))
    sources = [
        PostGISSource(dsn, t, limits=limits(max_waiting=2), database=databases.guard(dsn))
        for t in TABLES
    ]
    errors: list[BaseException] = []
    lock = threading.Lock()

    def ask(source: PostGISSource) -> None:
        try:
            source.schema()
        except BaseException as error:
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=ask, args=(s,)) for s in sources for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(errors) == 10
        assert all(isinstance(e, (SourceBusyError, SourceDownError)) for e in errors)
        assert len(silent.accepted) == 1
    finally:
        for source in sources:
            source.close()
        silent.close()

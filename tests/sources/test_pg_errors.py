"""How database errors reach the client (`pg_connections.translate`): a connection the error
left broken is a lost connection (503 with Retry-After), whatever the class psycopg gave it;
the same error on a healthy connection is the server's fault (500), and no message of
PostgreSQL's is passed on."""

from __future__ import annotations

import os

import psycopg
import pytest

from ogcserve.errors import ServiceUnavailableError
from ogcserve.sources.pg_errors import translate


@pytest.fixture
def dsn() -> str:
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    return dsn


def _broken(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(dsn)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    assert conn.broken
    return conn


def test_an_error_that_broke_the_connection_is_a_503(dsn: str) -> None:
    conn = _broken(dsn)
    try:
        # psycopg raises errors without a SQLSTATE as a plain DatabaseError or InternalError
        # ("got no result from the query") when the server vanished mid-answer.
        for exc in (psycopg.DatabaseError("secret row"), psycopg.InternalError("no result")):
            error = translate(exc, "read", "parcels", conn)
            assert isinstance(error, ServiceUnavailableError), exc
            assert error.status == 503 and error.headers["Retry-After"] == "1"
            assert "secret" not in error.message
    finally:
        conn.close()


def test_the_same_error_on_a_healthy_connection_is_a_500(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        error = translate(psycopg.DatabaseError("secret row"), "read", "parcels", conn)
        assert error.status == 500 and "secret" not in error.message
        error = translate(psycopg.DatabaseError("secret row"), "read", "parcels")
        assert error.status == 500

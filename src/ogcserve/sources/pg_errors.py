"""What a PostGIS source says about its database: where a DSN points (`describe`, never the
password) and what a database error becomes for the client (`translate`: the kind of failure
and a constraint's name, never a row's values or the SQL; the whole message goes to the log).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ogcserve.errors import ServiceError
from ogcserve.sources.base import ConstraintError, SourceError
from ogcserve.sources.limits import SourceBusyError, SourceTimeoutError

log = logging.getLogger("ogcserve.sources.postgis")


def describe(dsn: str) -> str:
    """Where a DSN points, for messages: host and database, never the password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "the database"
    host = params.get("host") or "localhost"
    return f"database {params.get('dbname') or '?'!s} on {host!s}"


_CONSTRAINTS = {
    "23502": "NOT NULL",
    "23505": "UNIQUE",
    "23503": "FOREIGN KEY",
    "23514": "CHECK",
    "23P01": "EXCLUSION",
}


def translate(
    exc: psycopg.Error, what: str, table: str, conn: psycopg.Connection[Any] | None = None
) -> ServiceError:
    """A database error as the client may see it. PostgreSQL's messages carry values ("Failing
    row contains (...)" lists every column of the row, hidden ones included; "Key (x)=(v)
    already exists"), so none of its text is passed on: only the kind of failure and a
    constraint's name. The whole message goes to the log.

    An error that left `conn` broken is a lost connection (503, to be retried), whatever its
    class: a server that stops mid-query does not always say so with an OperationalError."""
    state = exc.sqlstate or ""
    log.warning("PostGIS %s on %r failed [%s]: %s", what, table, state, str(exc).strip())
    if state in _CONSTRAINTS:
        kind = _CONSTRAINTS[state]
        name = exc.diag.constraint_name
        if state == "23502":
            # The column is named by the access layer, and only to callers who may read it.
            return ConstraintError(
                "a value is required (NOT NULL constraint)", column=exc.diag.column_name
            )
        named = f" {name!r}" if name else ""
        return ConstraintError(f"the change violates the {kind} constraint{named}")
    if state.startswith("22"):
        return ConstraintError(f"a value does not fit its column (SQLSTATE {state})")
    if state == "57014":
        return SourceTimeoutError("The database did not answer in time", retry_after=1)
    if isinstance(exc, psycopg.OperationalError) or (conn is not None and conn.broken):
        return SourceBusyError("The connection to the layer's database was lost", retry_after=1)
    return SourceError(f"The database refused the {what} (SQLSTATE {state or 'unknown'})")

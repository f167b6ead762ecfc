"""What the PostGIS sources of one database share: whether it is down, and how many requests
may wait to connect to it.

A project's layers are often twenty tables of one database. Were the circuit breaker kept per
source, a database that goes down would cost each layer its own connect timeout before that
layer failed fast, and each layer would let `max_waiting` requests wait to connect. A
`DatabaseGuard` is one per database (host, port, database name and user of the DSN): the first
source that fails to connect opens the breaker for all of them, every other source then answers
503 at once without trying, and a single request probes when `retry_after` has passed; while the
database has never been reached, first connections are tried one at a time.

`Databases` hands out the guards. It is no module-level registry: its owner (the access layer,
through its source cache) creates one and passes it to every source it opens; a source opened
without one (`ogcserve check` of one table, tests) gets a guard of its own.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ogcserve.sources.limits import CircuitBreaker, SourceBusyError, SourceDownError, SourceLimits


def database_key(dsn: str) -> tuple[str, ...]:
    """Which database server, database and role a DSN connects to (libpq's defaults filled
    in from the environment as libpq does); the DSN itself when it cannot be parsed."""
    import psycopg  # not on import: the access layer makes `Databases` whatever its sources
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return (dsn,)
    env = os.environ
    host = params.get("host") or params.get("hostaddr") or env.get("PGHOST") or "localhost"
    port = params.get("port") or env.get("PGPORT") or "5432"
    user = params.get("user") or env.get("PGUSER") or ""
    dbname = params.get("dbname") or env.get("PGDATABASE") or user
    return (str(host), str(port), str(dbname), str(user))


class DatabaseGuard:
    """The breaker of one database and the bound on requests waiting to connect to it."""

    def __init__(self, limits: SourceLimits) -> None:
        self.breaker = CircuitBreaker(limits.retry_after)
        self._max_waiting = limits.max_waiting
        self._lock = threading.Lock()
        self._waiting = 0
        self._contact = threading.Lock()
        self._reached = False
        self._outages = 0
        self._on_down: weakref.WeakKeyDictionary[object, Callable[[], None]] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def outages(self) -> int:
        """How many times a connection to the database failed: a pool opened before the last
        failure holds dead connections and is replaced."""
        return self._outages

    def watch(self, owner: object, on_down: Callable[[], None]) -> None:
        """Call `on_down` when the database is found down (until `owner` is gone or calls
        `unwatch`): a source closes its pool then, so that requests waiting for one of its
        connections get their 503 at once instead of at the end of their queue timeout."""
        with self._lock:
            self._on_down[owner] = on_down

    def unwatch(self, owner: object) -> None:
        with self._lock:
            self._on_down.pop(owner, None)

    def down(self, detail: str) -> SourceDownError:
        """A connection failed: every source of the database fails fast for `retry_after`
        seconds. Returns the error to raise."""
        error = self.breaker.failed(detail)
        with self._lock:
            self._outages += 1
            callbacks = list(self._on_down.values())
        for callback in callbacks:
            callback()
        return error

    def reached(self) -> None:
        """A connection worked."""
        self._reached = True

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Bound the requests that wait to connect to the database (a first connection, a
        probe): past `max_waiting`, 503 at once. Each holds a worker thread for up to a connect
        timeout; unbounded, a burst for a database that hangs took every thread."""
        cap = self._max_waiting
        with self._lock:
            if cap and self._waiting >= cap:
                raise SourceBusyError(
                    "Too many requests wait for this layer's database", retry_after=1
                )
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    @contextmanager
    def first_contact(self) -> Iterator[None]:
        """Until the database has once been reached, sources make their first connection one
        at a time: the first one's failure opens the breaker, and the others, asking it next,
        fail fast instead of each paying its own connect timeout."""
        if self._reached:
            yield
            return
        with self._contact:
            yield


class Databases:
    """The guards of the databases an owner's sources use, one per `database_key`."""

    def __init__(self, limits: SourceLimits | None = None) -> None:
        self._limits = limits or SourceLimits()
        self._lock = threading.Lock()
        self._guards: dict[tuple[str, ...], DatabaseGuard] = {}

    def guard(self, dsn: str) -> DatabaseGuard:
        """The guard of the database `dsn` connects to."""
        key = database_key(dsn)
        with self._lock:
            guard = self._guards.get(key)
            if guard is None:
                guard = self._guards[key] = DatabaseGuard(self._limits)
            return guard

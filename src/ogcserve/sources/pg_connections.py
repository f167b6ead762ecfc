"""The connections of one PostGIS source: a pool opened on first use, the circuit breaker in
front of it (its database's, shared with the other sources of that database:
`pg_databases.DatabaseGuard`), connections of their own for long streams, and the one place
where a database error becomes what the client sees (`translate`, in `pg_errors`).

Every use of the database passes `read()` or `pooled()`, which ask the circuit breaker first
(while the database is known to be down, every source of it answers 503 at once), wait a
bounded time for a pooled connection (503 when the pool stays busy), and translate database
errors: the action and the constraint's name, never the row or the SQL; the full message goes
to the log. `dedicated()` gives a streamed read a connection outside the pool
(docs/decisions/0005-streams-off-the-pool.md).

Pooled connections are in autocommit and lent unchecked to `read()`: a one-statement read is
one round trip, with no check, BEGIN or ROLLBACK around it. A connection found lost in use
probes the database the way a failed check did, and the read is tried once more
(docs/decisions/0008-unchecked-autocommit-reads.md). `pooled()` lends a checked connection in
a transaction, for blocks that cannot be run twice: writes, and reads through a named cursor.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout, TooManyRequests

from ogcserve.errors import ServiceError
from ogcserve.sources.base import SourceError
from ogcserve.sources.limits import SourceBusyError, SourceLimits
from ogcserve.sources.pg_databases import DatabaseGuard
from ogcserve.sources.pg_errors import describe, translate

log = logging.getLogger("ogcserve.sources.postgis")

T = TypeVar("T")


class PostGISConnections:
    """Pool and stream connections of one source (`label` names it in the log), under the
    guard of its database (`database`; one of its own if not given)."""

    def __init__(
        self,
        dsn: str,
        label: str,
        pool_size: int,
        limits: SourceLimits,
        database: DatabaseGuard | None = None,
    ) -> None:
        self._dsn = dsn
        self._label = label
        self._pool_size = pool_size
        self._limits = limits
        self._guard = database or DatabaseGuard(limits)
        self._breaker = self._guard.breaker
        self._streams = threading.BoundedSemaphore(max(limits.stream_connections, 1))
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._epoch = 0  # the database's outages counted when the pool was opened
        self._stream_pool: ConnectionPool | None = None
        self._closed = False
        self._guard.watch(self, self._database_down)

    @property
    def pool(self) -> ConnectionPool | None:
        """The current pool (None before first use and after `close`)."""
        return self._pool

    def _connect_args(self) -> dict[str, Any]:
        limits = self._limits
        # No JIT: PostGIS functions are declared costly (ST_Intersects 10,000), which puts any
        # bbox read of a large table past jit_above_cost, and compiling then took 0.6-0.9 s
        # of a 0.4 s read of 100,000 rows. A cursor's plan is chosen for every row, not the
        # first tenth: each is read to its end (a fast-start plan read 100,000 ids in 180 ms
        # instead of 55). No parallel plans: a server's requests already keep the CPUs busy,
        # and a read's workers cost more CPU than they save (a page's count and first batch,
        # 100,000 features: ~100 ms more CPU in the workers, ~40 ms less in the backend).
        # See docs/performance.md, PostGIS.
        options = (
            f"-c statement_timeout={int(limits.query_timeout * 1000)}"
            " -c jit=off -c cursor_tuple_fraction=1 -c max_parallel_workers_per_gather=0"
        )
        return {
            "connect_timeout": max(1, round(limits.connect_timeout)),
            "options": options,
            "application_name": "ogcserve",
            # A peer that vanished (no RST) is noticed instead of waited on for hours.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }

    def _down(self, exc: Exception) -> ServiceError:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        detail = f"Cannot connect to {describe(self._dsn)}: {reason}"
        log.warning("%s (table %r)", detail, self._label)
        return self._guard.down(detail)

    def _database_down(self) -> None:
        """The database was found down (by this source or another of it): requests waiting for
        a connection of the pool get their 503 now (`PoolClosed`), and the next request after
        the outage opens a fresh pool (`_epoch`). Takes no lock: the source finding the outage
        may hold its own while this source's requests wait on the database's guard."""
        pool = self._pool
        if pool is not None:
            pool.close(timeout=0)

    def _admit(self) -> ConnectionPool:
        """The pool, opened on first use; raises `SourceDownError` while the database is known
        to be down, before taking any lock. The first request after that is the probe, and
        opens a fresh pool: the old one may be waiting out its reconnection back-off, and holds
        only dead connections. A pool opened before an outage that another source of the
        database found and saw the end of is replaced as well."""
        if self._closed:
            raise SourceError(f"PostGIS source {self._label!r} is closed")
        if self._breaker.admit():
            return self._replace_pool()
        pool = self._pool
        if pool is not None and self._epoch == self._guard.outages:
            return pool
        # First use, or an old pool: one request of this source connects, the others wait for
        # it (a connect timeout at most), all of them counted by the database's bound.
        with self._guard.waiting(), self._lock, self._guard.first_contact():
            if self._closed:
                raise SourceError(f"PostGIS source {self._label!r} is closed")
            if self._pool is None or self._epoch != self._guard.outages:
                # Asked again: the request that connected before this one may have failed
                # (here or for another source of the database): then this one fails fast.
                probe = self._breaker.admit()
                epoch = self._guard.outages
                try:
                    pool = self._open_pool()
                except BaseException:
                    if probe:
                        self._breaker.settle()
                    raise
                if probe:
                    self._breaker.succeeded()
                old, self._pool, self._epoch = self._pool, pool, epoch
                if old is not None:
                    old.close(timeout=0)
            return self._pool

    def _replace_pool(self) -> ConnectionPool:
        """The probe: a fresh pool if the database answers (the breaker closes)."""
        epoch = self._guard.outages
        try:
            with self._guard.waiting():
                pool = self._open_pool()
        except BaseException:
            self._breaker.settle()  # a probe that failed otherwise than to connect
            raise
        with self._lock:
            old, self._pool, self._epoch = self._pool, pool, epoch
            closed = self._closed
        self._breaker.succeeded()
        if old is not None:
            old.close(timeout=0)
        if closed:
            pool.close()
            raise SourceError(f"PostGIS source {self._label!r} is closed")
        return pool

    def _open_pool(self) -> ConnectionPool:
        # One direct attempt first: the pool would retry quietly until its timeout, while this
        # fails at once with the server's reason (refused, no database...).
        self._connect()
        pool = ConnectionPool(
            self._dsn,
            # Autocommit: a read of one statement is its own implicit transaction. No check on
            # every loan: `read` finds a dead connection in use and tries again, `pooled`
            # checks its own. No statement prepared by psycopg after five uses: that took a
            # round trip of its own, and PostgreSQL may then plan for any parameter (a
            # generic plan) where each request's values were planned for before
            # (docs/decisions/0008-unchecked-autocommit-reads.md).
            kwargs={**self._connect_args(), "autocommit": True, "prepare_threshold": None},
            min_size=1,
            max_size=self._pool_size,
            open=False,
            timeout=self._limits.queue_timeout,
            max_waiting=self._limits.max_waiting,
            name=f"ogcserve:{self._label}",
        )
        pool.open(wait=False)
        return pool

    def read(self, what: str, run: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`run(conn)` on a pooled connection in autocommit, lent without a check: a read of
        one statement is one round trip. `run` must only read and must return everything it
        read (nothing of it has reached the client): it may run twice. When the connection
        turns out lost in use (the backend was terminated, the server restarted, the network
        dropped), the database is probed as a failed check did, by a direct connection (which
        opens the database's breaker when it fails: 503 with Retry-After), the pool's idle
        connections are checked, and `run` is tried once more on a checked connection.
        Database errors leave translated for the client."""
        pool = self._admit()
        conn = self._getconn(pool)
        try:
            return run(conn)
        except psycopg.Error as exc:
            if not conn.broken:
                raise translate(exc, what, self._label, conn) from None
            log.info("PostGIS connection of %r found lost in use: %s", self._label, exc)
        finally:
            rollback(conn)  # no round trip unless `run` opened a transaction
            pool.putconn(conn)  # a lost one is discarded and replaced by the pool
        with self._lent(pool, self._recovered(pool), what, transaction=False) as conn:
            return run(conn)

    @contextmanager
    def pooled(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A checked pooled connection for the block, in a transaction (rolled back when the
        block ends unless it committed): for writes, and reads that yield as they go and so
        cannot run twice. Database errors inside the block leave translated for the client."""
        pool = self._admit()
        with self._lent(pool, self._checked(pool), what, transaction=True) as conn:
            yield conn

    @contextmanager
    def _lent(
        self, pool: ConnectionPool, conn: psycopg.Connection[Any], what: str, transaction: bool
    ) -> Iterator[psycopg.Connection[Any]]:
        """`conn` for the block (out of autocommit with `transaction`), given back to `pool`
        rolled back and in autocommit; database errors inside the block leave it translated
        for the client."""
        try:
            if transaction:
                conn.autocommit = False
            yield conn
        except psycopg.Error as exc:
            raise translate(exc, what, self._label, conn) from None
        finally:
            rollback(conn)
            if not conn.broken:
                with contextlib.suppress(psycopg.Error):
                    conn.autocommit = True
            pool.putconn(conn)

    def _checked(self, pool: ConnectionPool) -> psycopg.Connection[Any]:
        """A pooled connection that answered a check (one round trip)."""
        conn = self._getconn(pool)
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error as exc:
            log.info("PostGIS connection of %r failed its check: %s", self._label, exc)
            pool.putconn(conn)
            return self._recovered(pool)
        return conn

    def _recovered(self, pool: ConnectionPool) -> psycopg.Connection[Any]:
        """After a pooled connection was found lost: the outage (503, the breaker open) if the
        database does not take a direct connection; else the pool's idle connections checked
        (the lost ones replaced: after a restart, all of them) and a checked connection."""
        self._probe()
        with contextlib.suppress(PoolClosed):
            pool.check()
        conn = self._getconn(pool)
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            pool.putconn(conn)
            raise SourceBusyError(
                "The connection to the layer's database was lost", retry_after=1
            ) from None
        return conn

    def _connect(self) -> None:
        """A direct connection attempt: raises the outage if the database is down (a pool
        only logs why it cannot connect)."""
        try:
            psycopg.connect(self._dsn, **self._connect_args()).close()
        except psycopg.Error as exc:
            raise self._down(exc) from None
        self._guard.reached()

    def _probe(self) -> None:
        """After a pool did not give a connection in time: raises the outage if the database
        is down (known already, or found now by a direct attempt), returns if it is merely
        busy."""
        self._breaker.check()
        with self._guard.waiting():
            self._connect()

    def _getconn(self, pool: ConnectionPool) -> psycopg.Connection[Any]:
        try:
            return pool.getconn()
        except TooManyRequests:
            raise SourceBusyError(
                "Too many requests wait for this layer's database", retry_after=1
            ) from None
        except PoolClosed:
            # Closed as the database was found down, or replaced by a fresh pool after an
            # outage, while this request waited.
            self._breaker.check()
            raise SourceBusyError("The layer's database is reconnecting", retry_after=1) from None
        except PoolTimeout:
            pass
        self._probe()  # busy, or down: a direct attempt tells which
        raise SourceBusyError("Every connection to this layer's database is in use", retry_after=1)

    @contextmanager
    def dedicated(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection for the rest of a streamed answer, from a pool of its own (at most
        `stream_connections`, idle ones closed after a minute) that the quick reads never wait
        on; past that many streams at once, a pooled one serves instead. Kept open between
        streams: a fresh backend took 15-30 ms to connect and load PostGIS, per stream."""
        if not self._streams.acquire(blocking=False):
            log.info("stream connections of %r all in use: using the pool", self._label)
            with self.pooled(what) as pooled:
                yield pooled
            return
        try:
            pool = self._streams_pool()
            try:
                conn = pool.getconn(timeout=self._limits.connect_timeout)
            except (PoolTimeout, PoolClosed):
                self._probe()
                raise SourceBusyError(
                    "The layer's database is reconnecting", retry_after=1
                ) from None
            with self._lent(pool, conn, what, transaction=True) as lent:
                yield lent
        finally:
            self._streams.release()

    def _streams_pool(self) -> ConnectionPool:
        self._admit()  # the breaker speaks for both pools
        with self._lock:
            if self._closed:
                raise SourceError(f"PostGIS source {self._label!r} is closed")
            if self._stream_pool is None:
                self._stream_pool = ConnectionPool(
                    self._dsn,
                    kwargs={
                        **self._connect_args(),
                        "application_name": "ogcserve stream",
                        "autocommit": True,
                    },
                    min_size=0,
                    max_size=max(self._limits.stream_connections, 1),
                    max_idle=60.0,
                    open=False,
                    check=ConnectionPool.check_connection,
                    name=f"ogcserve-streams:{self._label}",
                )
                self._stream_pool.open(wait=False)
            return self._stream_pool

    def stats(self) -> dict[str, int]:
        """The pool's size, idle connections and waiting requests (psycopg_pool's names);
        empty before first use."""
        pool = self._pool
        return {} if pool is None else dict(pool.get_stats())

    def close(self) -> None:
        """Close the pool (connections still lent out close when given back)."""
        self._guard.unwatch(self)
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            streams, self._stream_pool = self._stream_pool, None
        for each in (pool, streams):
            if each is not None:
                each.close()


def rollback(conn: psycopg.Connection[Any]) -> None:
    # A broken connection is discarded by the pool when given back.
    with contextlib.suppress(psycopg.Error):
        conn.rollback()


def probe(dsn: str, timeout: float) -> bool:
    """Whether the database at `dsn` accepts a connection within `timeout` seconds (libpq
    waits 2 s at least); the reason it does not is logged. For /ready."""
    try:
        psycopg.connect(dsn, connect_timeout=max(2, math.ceil(timeout))).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        log.warning("readiness: cannot connect to %s: %s", describe(dsn), reason)
        return False
    return True

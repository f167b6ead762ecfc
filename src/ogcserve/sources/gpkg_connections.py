"""The connections of one GeoPackage source, and the one place where a SQLite error becomes what
the client sees (`translate`).

Reads use one read-only connection per thread, memory-mapped; writes use a single writable
connection, taken under a lock (`writing()`), on which the functions called by the GeoPackage
R-tree triggers are registered.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ogcserve.errors import ServiceError
from ogcserve.sources.base import ConstraintError, SourceError, SourceUnavailableError
from ogcserve.sources.gpkg_binary import register_rtree_functions
from ogcserve.sources.limits import SourceBusyError

log = logging.getLogger("ogcserve.sources.geopackage")

# Reads go through a memory map: on a 1M-polygon file it cut a 10k-row R-tree query from 26 to
# 18 ms (no pread per page). SQLite caps it at its compile-time maximum.
_MMAP_SIZE = 1 << 31


class GeoPackageConnections:
    """The read connections (one per thread) and the write connection of one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every read connection handed out, so close() can close them. Entries of finished
        # threads are dropped (not closed: a stream started there may still be running).
        self._readers: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._closed = False

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise SourceError(f"GeoPackage {self.path.name} is closed")
        # check_same_thread=False: a stream opened here may be resumed by another thread (ASGI
        # servers iterate in a thread pool); SQLite itself is built serialized (threadsafety 3).
        conn = sqlite3.connect(
            self.path.resolve().as_uri() + "?mode=ro",
            uri=True,
            check_same_thread=False,
            isolation_level=None,
            timeout=10.0,
        )
        conn.execute(f"PRAGMA mmap_size = {_MMAP_SIZE}")
        self._local.conn = conn
        with self._lock:
            self._readers = [(t, c) for t, c in self._readers if _alive(t)]
            self._readers.append((weakref.ref(threading.current_thread()), conn))
        return conn

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The writable connection, held alone for the block."""
        with self._write_lock:
            yield self._writer_conn()

    def _writer_conn(self) -> sqlite3.Connection:
        """The writable connection (used under `_write_lock` only)."""
        if self._writer is None:
            if self._closed:
                raise SourceError(f"GeoPackage {self.path.name} is closed")
            try:
                conn = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None, timeout=10.0
                )
            except sqlite3.Error as exc:
                raise SourceUnavailableError(
                    f"Cannot open GeoPackage {self.path.name} for writing: {exc}"
                ) from None
            # The R-tree triggers of the GeoPackage spec call these on every insert/update.
            register_rtree_functions(conn)
            self._writer = conn
        return self._writer

    def close(self) -> None:
        """Close every connection opened."""
        self._closed = True
        with self._lock:
            readers, self._readers = self._readers, []
        for _, conn in readers:
            conn.close()
        self._local = threading.local()
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def translate(
    exc: sqlite3.Error, what: str, conn: sqlite3.Connection, table: str, file: str
) -> ServiceError:
    """A SQLite error as the client may see it: the kind of constraint and, for CHECK, its name
    if the table declares one (an unnamed CHECK is reported by SQLite as its expression, and a
    UNIQUE one by its columns, which may be hidden ones). The whole message goes to the log."""
    name = getattr(exc, "sqlite_errorname", "")
    log.warning("GeoPackage %s on %s (%s) failed [%s]: %s", what, file, table, name, exc)
    text = str(exc)
    if name == "SQLITE_CONSTRAINT_NOTNULL":
        column = text.rpartition(".")[2] if text.startswith("NOT NULL") else None
        return ConstraintError("a value is required (NOT NULL constraint)", column=column)
    if name == "SQLITE_CONSTRAINT_CHECK":
        said = text.partition(":")[2].strip()
        named = f" {said!r}" if said in _constraint_names(conn, table) else ""
        return ConstraintError(f"the change violates the CHECK constraint{named}")
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return ConstraintError("the change violates a UNIQUE constraint")
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return ConstraintError("the change violates a FOREIGN KEY constraint")
    if name == "SQLITE_CONSTRAINT_TRIGGER":
        return ConstraintError("a trigger of the table refused the change")
    if isinstance(exc, sqlite3.IntegrityError):
        return ConstraintError("the change violates a constraint of the table")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return SourceBusyError("The GeoPackage is busy with another writer", retry_after=1)
    return SourceError(f"The GeoPackage refused the {what}")


_CONSTRAINT_NAME = re.compile(
    r"""CONSTRAINT\s+(?:"([^"]+)"|`([^`]+)`|\[([^\]]+)\]|(\w+))""", re.IGNORECASE
)


def _constraint_names(conn: sqlite3.Connection, table: str) -> set[str]:
    """The names the table's DDL gives its constraints."""
    try:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    except sqlite3.Error:
        return set()
    ddl = str(row[0] or "") if row else ""
    return {next(g for g in m.groups() if g) for m in _CONSTRAINT_NAME.finditer(ddl)}


def _alive(ref: weakref.ref[threading.Thread]) -> bool:
    thread = ref()
    return thread is not None and thread.is_alive()

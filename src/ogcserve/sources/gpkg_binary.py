"""GeoPackage binary geometries: a 'GP' header, an optional envelope, then WKB.

Reading cuts the header off (`strip_gpkg_headers`, `gpkg_wkb`) so that a batch's WKB decodes in
one `shapely.from_wkb` call; writing builds the header with an XY envelope
(`encode_gpkg_geometry`); `register_rtree_functions` gives a connection the SQL functions that the
R-tree triggers of the GeoPackage spec call on every insert and update.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

from ogcserve.geo.wkb import WKBColumn

# Where the WKB starts inside a GeoPackage binary blob, by envelope code (bits 1-3 of the flags
# byte): 8 header bytes plus an envelope of 0, 32, 48, 48 or 64 bytes; codes 5-7 are invalid.
_WKB_START: tuple[int | None, ...] = (8, 40, 56, 56, 72, None, None, None)
_WKB_START_ARRAY = np.array([-1 if s is None else s for s in _WKB_START], dtype=np.intp)


def strip_gpkg_headers(blobs: Sequence[bytes | None]) -> list[bytes | None]:
    """The WKB inside GeoPackage binary blobs (None for NULL or invalid ones).

    One slice per row, no per-vertex work; measured on 10k polygons at 1.1 ms, against 2.6 ms
    for the same cut done in SQL with substr() and a CASE on the flags byte.
    """
    out: list[bytes | None] = []
    append = out.append
    starts = _WKB_START
    for blob in blobs:
        if blob is None or len(blob) < 8:
            append(None)
            continue
        start = starts[(blob[3] >> 1) & 0x07]
        append(None if start is None else blob[start:])
    return out


def gpkg_wkb(blobs: Sequence[bytes | None]) -> WKBColumn:
    """The WKB inside GeoPackage binary blobs, packed (NULL for None or invalid blobs); the
    same cut as `strip_gpkg_headers`, made on the packed buffer with numpy."""
    column = WKBColumn.pack(blobs)
    data = np.frombuffer(column.data, dtype=np.uint8)
    long_enough = column.end - column.start >= 8
    flags = np.zeros(len(column), dtype=np.uint8)
    flags[long_enough] = data[column.start[long_enough] + 3]
    return column.skip(np.where(long_enough, _WKB_START_ARRAY[(flags >> 1) & 0x07], -1))


def encode_gpkg_geometry(geometry: Any, srs_id: int) -> bytes | None:
    """A shapely geometry as GeoPackage binary: little-endian, with an XY envelope."""
    if geometry is None:
        return None
    wkb = bytes(shapely.to_wkb(geometry, byte_order=1, flavor="iso"))
    if shapely.is_empty(geometry):
        # Empty flag (bit 4), no envelope, little endian.
        return b"GP\x00\x11" + struct.pack("<i", srs_id) + wkb
    minx, miny, maxx, maxy = shapely.bounds(geometry).tolist()
    return b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb


def gpkg_envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage binary geometry, None when empty or invalid.

    Read from the header envelope when there is one; decoded with shapely otherwise.
    """
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0x10:
        return None
    code = (flags >> 1) & 0x07
    if code in (1, 2, 3, 4):
        order = "<" if flags & 0x01 else ">"
        minx, maxx, miny, maxy = struct.unpack_from(order + "4d", blob, 8)
        return float(minx), float(maxx), float(miny), float(maxy)
    if code != 0:
        return None
    geometry = shapely.from_wkb(bytes(blob[8:]), on_invalid="ignore")
    if geometry is None or shapely.is_empty(geometry):
        return None
    x0, y0, x1, y1 = shapely.bounds(geometry).tolist()
    return float(x0), float(x1), float(y0), float(y1)


def _st_is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    return 1 if gpkg_envelope(blob) is None else 0


def _envelope_part(i: int) -> Callable[[bytes | None], float | None]:
    def part(blob: bytes | None) -> float | None:
        env = gpkg_envelope(blob)
        return None if env is None else env[i]

    return part


def register_rtree_functions(conn: sqlite3.Connection) -> None:
    """The functions the GeoPackage R-tree triggers call (ST_IsEmpty, ST_MinX, ...)."""
    conn.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(name, 1, _envelope_part(i), deterministic=True)

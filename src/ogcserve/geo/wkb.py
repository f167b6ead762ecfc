"""Packed WKB columns, and a vectorised reader of their rings and lines for drawing.

Why this is written here: to draw a map the renderer needs every ring's coordinates as one
numpy array, not geometry objects. Going through shapely means building a GEOS object per row
(`from_wkb`) and taking each apart again (type, emptiness, bounds, rings, coordinates: five more
passes through GEOS, then destroying them); on a 10,000-polygon map that was about 10 ms of 60.
No maintained library reads WKB into ragged coordinate arrays short of the Arrow stack
(geoarrow-c needs pyarrow). This reads the shapes maps are made of, 2D little-endian
(Multi)Polygon and (Multi)LineString, with numpy, one ring at a time across all rows at once;
every other row (points, Z/M, collections, big-endian, truncated or unusual nesting) is reported
as not read, and the caller hands that row to shapely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

# WKB geometry codes (OGC 06-103r4 §8.2.3) and what shapely calls them (`get_type_id`).
_LINESTRING, _POLYGON, _MULTILINESTRING, _MULTIPOLYGON = 2, 3, 5, 6
_SHAPELY_TYPE = np.full(8, -1, dtype=np.int8)
_SHAPELY_TYPE[1:8] = [0, 1, 3, 4, 5, 6, 7]

# Each step reads one ring of every row that has one left. Past a few steps, the few rows
# still going (a country of many islands) are left to shapely: a numpy round per island for
# a handful of rows costs more than decoding them.
_MAX_STEPS = 16
_FEW_STEPS = 2
_FEW_ROWS = 16

_FOUR = np.arange(4, dtype=np.intp)


@dataclass(frozen=True, slots=True)
class WKBColumn:
    """Geometries as standard WKB, packed in one buffer: row i is `data[start[i]:end[i]]`
    (an empty row is a NULL geometry); `rings`, once read (`with_rings`), what `read_rings`
    finds in them."""

    data: bytes
    start: IntArray
    end: IntArray
    rings: Rings | None = None

    @classmethod
    def pack(cls, blobs: Sequence[bytes | None]) -> WKBColumn:
        """Pack `blobs` (None: NULL) with one join, no per-row copy."""
        n = len(blobs)
        if None in blobs:  # a C-speed scan; the list is rebuilt only when NULLs are present
            blobs = [b if b is not None else b"" for b in blobs]
        lengths = np.fromiter(map(len, blobs), dtype=np.intp, count=n)  # type: ignore[arg-type]
        ends = np.cumsum(lengths)
        starts = ends - lengths
        data = b"".join(blobs)  # type: ignore[arg-type]
        return cls(data, starts.astype(np.intp), ends.astype(np.intp))

    def skip(self, header: IntArray) -> WKBColumn:
        """The same rows without their first `header[i]` bytes (a container's own header, as
        in GeoPackage blobs); a negative or too long header makes the row NULL."""
        null = (header < 0) | (header > self.end - self.start)
        start = self.start + np.where(null, 0, header)
        return WKBColumn(self.data, start, np.where(null, start, self.end))

    @classmethod
    def concat(cls, columns: Sequence[WKBColumn]) -> WKBColumn:
        """The rows of `columns`, one after another."""
        if len(columns) == 1:
            return columns[0]
        if not columns:
            empty = np.zeros(0, dtype=np.intp)
            return cls(b"", empty, empty)
        shift = np.cumsum([0] + [len(c.data) for c in columns[:-1]])
        found = [c.rings for c in columns if c.rings is not None]
        return cls(
            b"".join(c.data for c in columns),
            np.concatenate([c.start + s for c, s in zip(columns, shift, strict=True)]),
            np.concatenate([c.end + s for c, s in zip(columns, shift, strict=True)]),
            Rings.concat(found) if len(found) == len(columns) else None,
        )

    def with_rings(self) -> WKBColumn:
        """The same rows with their rings read (`read_rings`)."""
        if self.rings is not None:
            return self
        return WKBColumn(self.data, self.start, self.end, read_rings(self))

    def __len__(self) -> int:
        return len(self.start)

    def take(self, index: IntArray) -> WKBColumn:
        """The rows `index` (the buffer is shared)."""
        return WKBColumn(self.data, self.start[index], self.end[index])

    def blobs(self) -> list[bytes | None]:
        """One WKB `bytes` per row (None for NULL)."""
        raw = self.data
        return [
            raw[s:e] if e > s else None
            for s, e in zip(self.start.tolist(), self.end.tolist(), strict=True)
        ]

    def geometries(self) -> npt.NDArray[np.object_]:
        """The rows as shapely geometries (None for NULL); a broken row warns and is None."""
        return decode_wkb(self.blobs())


def decode_wkb(blobs: Sequence[bytes | None] | npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Shapely geometries from WKB (None stays None); a broken blob warns and becomes None.

    The strict reader is 30 % faster than the forgiving one; only a batch with a broken blob
    pays for both.
    """
    wkb = np.asarray(blobs, dtype=object)
    try:
        decoded = shapely.from_wkb(wkb)
    except shapely.errors.GEOSException:
        decoded = shapely.from_wkb(wkb, on_invalid="warn")
    result: npt.NDArray[np.object_] = np.asarray(decoded, dtype=object)
    return result


@dataclass(frozen=True, slots=True)
class Rings:
    """What `read_rings` found: the parts of the rows it read, in row order.

    `coords[k]` for the parts split by `counts`; `owner` is each part's row and `closed` tells
    polygon rings from lines. `read` marks the rows read (rows not read have no parts here);
    `kind` is every row's shapely type id (-1: NULL or unknown) and `bounds` each read row's
    (minx, miny, maxx, maxy), NaN when it has no coordinates or was not read.
    """

    coords: FloatArray
    counts: IntArray
    owner: IntArray
    closed: npt.NDArray[np.bool_]
    read: npt.NDArray[np.bool_]
    kind: npt.NDArray[np.int8]
    bounds: FloatArray

    @classmethod
    def concat(cls, found: Sequence[Rings]) -> Rings:
        """The rings of consecutive columns' rows, as if read from one column."""
        if len(found) == 1:
            return found[0]
        shift = np.cumsum([0] + [len(r.read) for r in found[:-1]])
        return cls(
            np.concatenate([r.coords for r in found]).reshape(-1, 2),
            np.concatenate([r.counts for r in found]),
            np.concatenate([r.owner + s for r, s in zip(found, shift, strict=True)]),
            np.concatenate([r.closed for r in found]),
            np.concatenate([r.read for r in found]),
            np.concatenate([r.kind for r in found]),
            np.concatenate([r.bounds for r in found]).reshape(-1, 4),
        )


def _u32(data: npt.NDArray[np.uint8], pos: IntArray) -> IntArray:
    """Little-endian uint32 at each byte position."""
    if not len(pos):
        return np.zeros(0, dtype=np.intp)
    raw = np.ascontiguousarray(data[pos[:, None] + _FOUR])
    return raw.view("<u4").ravel().astype(np.intp)


def read_rings(column: WKBColumn) -> Rings:
    """The rings and lines of every (Multi)Polygon and (Multi)LineString row, vectorised."""
    raw, start, end = column.data, column.start, column.end
    data = np.frombuffer(raw, dtype=np.uint8)
    n = len(start)
    kind = np.full(n, -1, dtype=np.int8)
    read = np.zeros(n, dtype=bool)
    ok = end - start >= 5
    rows = np.flatnonzero(ok)
    little = data[start[rows]] == 1
    code = _u32(data, start[rows] + 1)
    plain = little & (code < 8)  # 2D, no EWKB flags
    kind[rows[plain]] = _SHAPELY_TYPE[code[plain]]
    wanted = little & np.isin(code, (_LINESTRING, _POLYGON, _MULTILINESTRING, _MULTIPOLYGON))
    rows, code = rows[wanted], code[wanted]
    rows_ok = end[rows] - start[rows] >= 9
    rows, code = rows[rows_ok], code[rows_ok]

    # The walk's state, one entry per row still being read.
    count_at = start[rows] + 5
    first = _u32(data, count_at)
    is_line = code == _LINESTRING
    is_multi = (code == _MULTILINESTRING) | (code == _MULTIPOLYGON)
    parts_left = np.where(is_multi, first, 0)
    rings_left = np.where(is_multi, 0, np.where(is_line, 1, first))
    cursor = np.where(is_line, count_at, count_at + 4)
    closed = (code == _POLYGON) | (code == _MULTIPOLYGON)
    part_code = np.where(code == _MULTIPOLYGON, _POLYGON, _LINESTRING)
    left = np.zeros(n, dtype=bool)  # malformed, unusual or long rows: left to shapely
    walked = rows

    found_row: list[IntArray] = []
    found_at: list[IntArray] = []
    found_n: list[IntArray] = []
    found_closed: list[npt.NDArray[np.bool_]] = []
    for step in range(_MAX_STEPS + 1):
        live = (parts_left > 0) | (rings_left > 0)
        if not live.all():
            rows, cursor, parts_left, rings_left, closed, part_code = (
                a[live] for a in (rows, cursor, parts_left, rings_left, closed, part_code)
            )
        if step == _MAX_STEPS or (step >= _FEW_STEPS and len(rows) <= _FEW_ROWS):
            left[rows] = True
            break
        if not len(rows):
            break
        limit = end[rows]
        # A part starts: its own byte order and type, then (polygon) its ring count.
        head = np.flatnonzero(rings_left == 0)
        if len(head):
            at = cursor[head]
            fits = at + 9 <= limit[head]
            safe = np.where(fits, at, start[rows[head]])  # never read past the buffer
            good = fits & (data[safe] == 1) & (_u32(data, safe + 1) == part_code[head])
            left[rows[head[~good]]] = True
            polygon = part_code[head] == _POLYGON
            rings_left[head] = np.where(polygon, _u32(data, safe + 5), 1)
            cursor[head] = at + np.where(polygon, 9, 5)
            parts_left[head] -= 1
        # One ring (or line) of every row that has one left: its point count, then its points.
        ring = np.flatnonzero(rings_left > 0)
        at = cursor[ring]
        fits = at + 4 <= limit[ring]
        points = _u32(data, np.where(fits, at, start[rows[ring]]))
        fits &= at + 4 + 16 * points <= limit[ring]
        left[rows[ring[~fits]]] = True
        found_row.append(rows[ring])
        found_at.append(at + 4)
        found_n.append(points)  # a row that did not fit is dropped with all its parts
        found_closed.append(closed[ring])
        cursor[ring] = at + 4 + 16 * points
        rings_left[ring] -= 1
        # Rows gone wrong stop here (their parts are dropped below).
        drop = left[rows]
        parts_left[drop] = 0
        rings_left[drop] = 0

    if found_row:
        owner = np.concatenate(found_row)
        at = np.concatenate(found_at)
        counts = np.concatenate(found_n)
        closed_parts = np.concatenate(found_closed)
    else:
        owner = at = counts = np.zeros(0, dtype=np.intp)
        closed_parts = np.zeros(0, dtype=bool)
    read[walked] = True
    read[left] = False
    # Parts came out ring level by ring level: put each row's parts together, in order.
    keep = np.flatnonzero(~left[owner])
    order = keep[np.argsort(owner[keep], kind="stable")]
    owner, at, counts, closed_parts = owner[order], at[order], counts[order], closed_parts[order]
    coords = _gather(raw, at, counts)
    return Rings(coords, counts, owner, closed_parts, read, kind, _bounds(coords, counts, owner, n))


def _gather(data: bytes, at: IntArray, counts: IntArray) -> FloatArray:
    """The (sum(counts), 2) float64 points stored from byte `at[k]` on, `counts[k]` of them.

    Points sit at any byte offset: they are gathered as complex128 (16 bytes, one index per
    point) through one view of the buffer per offset modulo 16.
    """
    total = int(counts.sum())
    out = np.empty(total, dtype=np.complex128)
    if total:
        dst = starts_of(counts)
        residue = at % 16
        for low in np.unique(residue).tolist():
            mine = np.flatnonzero(residue == low)
            view = np.frombuffer(
                data, dtype=np.complex128, count=(len(data) - low) // 16, offset=low
            )
            source = ranges((at[mine] - low) // 16, counts[mine])
            out[ranges(dst[mine], counts[mine])] = view[source]
    return out.view(np.float64).reshape(total, 2)


def _bounds(coords: FloatArray, counts: IntArray, owner: IntArray, n: int) -> FloatArray:
    """(minx, miny, maxx, maxy) per row from its parts' points; NaN for rows without any."""
    bounds = np.full((n, 4), np.nan)
    has = counts > 0
    if not has.any():
        return bounds
    point_start = starts_of(counts)[has]
    owner = owner[has]
    # Parts are grouped by row: one reduction per row over all its points.
    first = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
    starts, rows = point_start[first], owner[first]
    bounds[rows, :2] = np.minimum.reduceat(coords, starts, axis=0)
    bounds[rows, 2:] = np.maximum.reduceat(coords, starts, axis=0)
    return bounds


def starts_of(counts: IntArray) -> IntArray:
    """Where each of consecutive runs of `counts` items starts: 0, c0, c0 + c1, ..."""
    result = np.zeros(len(counts), dtype=np.intp)
    np.cumsum(counts[:-1], out=result[1:])
    return result


def ranges(starts: IntArray, counts: IntArray) -> IntArray:
    """Concatenation of arange(s, s + c) for each (s, c), vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.intp)
    ends = np.cumsum(counts)
    shift = np.repeat(starts - (ends - counts), counts)
    result: IntArray = (np.arange(total) + shift).astype(np.intp)
    return result

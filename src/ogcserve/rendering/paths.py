"""Skia paths built in numpy: every feature's `SkPath` is written in Skia's path serialization
and read back (`Path.readFromMemory`), 6-9x faster than the tuple API
(docs/decisions/0003-rendering-engine.md); `PathBatch` holds them, one record per feature."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import skia  # type: ignore[import-not-found,unused-ignore]  # no stubs; see ADR 0003

from ogcserve.geo.wkb import ranges, starts_of

from .geometry import IntArray, Subpaths

# SkPath serialization (SkPath::writeToMemory, "just public data" version 5, skia-python 144.1):
# int32 fill type << 8 | version, int32 point count, int32 conic count, int32 verb count,
# float32 x/y points, conic weights, one byte per verb in order, padded to 4 bytes.
_PATH_VERSION = 5
_EVEN_ODD = 1
_MOVE, _LINE, _CLOSE = 0, 1, 5
MOVE = _MOVE  # the verb that starts a subpath (a line: its points and verbs pair up)


@dataclass(frozen=True)
class PathBatch:
    """Serialized SkPath records, one per feature, in one buffer.

    `feature[i]` is the index (into the layer's arrays) of record i, which occupies
    `buffer[start[i]:start[i] + size[i]]`. The records are written when first asked for: a
    layer whose lines AGG strokes (agg.py) takes the points and verbs alone.
    """

    feature: IntArray
    # Every record's points (float32 x/y) and verbs, concatenated, with each record's share:
    # what `merged` joins into one path without serializing again.
    points: npt.NDArray[np.float32]
    verbs: npt.NDArray[np.uint8]
    point_start: IntArray
    n_points: IntArray
    verb_start: IntArray
    n_verbs: IntArray

    @cached_property
    def _records(self) -> tuple[npt.NDArray[np.uint8], IntArray, IntArray]:
        buffer, start, size = _write(self.points, self.n_points, self.verbs, self.n_verbs)
        return buffer, start.astype(np.intp), size.astype(np.intp)

    @property
    def buffer(self) -> npt.NDArray[np.uint8]:
        """Every record, one after another."""
        return self._records[0]

    @property
    def start(self) -> IntArray:
        """Where each record starts in `buffer` (bytes)."""
        return self._records[1]

    @property
    def size(self) -> IntArray:
        """Each record's size (bytes)."""
        return self._records[2]

    @cached_property
    def raw(self) -> bytes:
        """`buffer` as bytes (what `Path.readFromMemory` reads slices of)."""
        return self.buffer.tobytes()

    def merged(self, records: IntArray) -> bytes:
        """One SkPath record holding the subpaths of `records`, in their order (to stroke
        many features with one draw)."""
        points, verbs = self.runs(records)
        header = np.array(
            [(_EVEN_ODD << 8) | _PATH_VERSION, len(points), 0, len(verbs)], dtype=np.int32
        )
        padding = bytes(-len(verbs) % 4)
        return header.tobytes() + points.tobytes() + verbs.tobytes() + padding

    def runs(self, records: IntArray) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
        """The points and verbs of `records`, in their order (as stored when that is all)."""
        if len(records) == len(self.feature) and np.array_equal(records, np.arange(len(records))):
            return self.points, self.verbs
        points = self.points[ranges(self.point_start[records], self.n_points[records])]
        verbs = self.verbs[ranges(self.verb_start[records], self.n_verbs[records])]
        return points, verbs

    def grouped(self, records: IntArray, size: IntArray) -> tuple[bytes, IntArray, IntArray]:
        """Records that each join the subpaths of `size[i]` consecutive ones of `records` (to
        stroke them with one draw each): one buffer, and each record's start and size."""
        points = self.points[ranges(self.point_start[records], self.n_points[records])]
        verbs = self.verbs[ranges(self.verb_start[records], self.n_verbs[records])]
        at = starts_of(size)
        n_points = np.add.reduceat(self.n_points[records], at)
        n_verbs = np.add.reduceat(self.n_verbs[records], at)
        buffer, start, length = _write(points, n_points, verbs, n_verbs)
        return buffer.tobytes(), start, length

    def extents(self) -> npt.NDArray[np.float32]:
        """The longer side of each record's bounding box, in pixels."""
        x, y, at = self.points[:, 0], self.points[:, 1], self.point_start
        width = np.maximum.reduceat(x, at) - np.minimum.reduceat(x, at)
        height = np.maximum.reduceat(y, at) - np.minimum.reduceat(y, at)
        extent: npt.NDArray[np.float32] = np.maximum(width, height)
        return extent

    def paths(self, records: IntArray | None = None) -> list[tuple[int, skia.Path]]:
        """(feature index, path) for the given records (default: all)."""
        view = memoryview(self.buffer)  # type: ignore[arg-type]
        out = []
        chosen = range(len(self.feature)) if records is None else records
        for i in chosen:
            path = skia.Path()
            start = int(self.start[i])
            path.readFromMemory(view[start : start + int(self.size[i])])
            out.append((int(self.feature[i]), path))
        return out


def serialize(subpaths: Subpaths) -> PathBatch:
    """One SkPath record per feature (even-odd fill), built in numpy."""
    counts, closed = subpaths.counts, subpaths.closed
    ok = counts >= np.where(closed, 4, 2)  # drop degenerate rings and lines
    if not ok.all():
        gather = ranges(starts_of(counts)[ok], counts[ok])
        subpaths = Subpaths(subpaths.coords[gather], counts[ok], subpaths.feature[ok], closed[ok])
        counts, closed = subpaths.counts, subpaths.closed
    n_sub = len(counts)
    if n_sub == 0:
        empty = np.zeros(0, dtype=np.intp)
        return PathBatch(
            empty,
            np.zeros((0, 2), dtype=np.float32),
            np.zeros(0, dtype=np.uint8),
            empty,
            empty,
            empty,
            empty,
        )

    # Per coordinate: its verb, and whether it is a point of the path (a closed ring's last
    # coordinate repeats its first one: it becomes the close verb, not a point).
    sub_start = starts_of(counts)
    sub_last = sub_start + counts - 1
    verbs = np.full(int(counts.sum()), _LINE, dtype=np.uint8)
    verbs[sub_start] = _MOVE
    verbs[sub_last[closed]] = _CLOSE
    is_point = np.ones(len(verbs), dtype=bool)
    is_point[sub_last[closed]] = False

    # Per feature (record): how many points and verbs, and where the record starts.
    features, first_sub = _firsts(subpaths.feature)
    coord_start = sub_start[first_sub]
    n_verbs = np.diff(np.append(coord_start, len(verbs)))
    n_points = np.add.reduceat(is_point.astype(np.intp), coord_start)
    points = subpaths.coords[is_point].astype(np.float32)
    point_start = starts_of(n_points)
    return PathBatch(
        features.astype(np.intp),
        points,
        verbs,
        point_start.astype(np.intp),
        n_points.astype(np.intp),
        coord_start.astype(np.intp),
        n_verbs.astype(np.intp),
    )


def _firsts(feature: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct features of the subpaths and the index of each one's first subpath (as
    `np.unique(..., return_index=True)`; subpaths come in feature order, so without sorting)."""
    step = np.diff(feature)
    if (step < 0).any():
        features, first = np.unique(feature, return_index=True)
        return features, first.astype(np.intp)
    first = np.flatnonzero(np.concatenate(([True], step != 0)))
    return feature[first], first


def _write(
    points: npt.NDArray[np.float32],
    n_points: IntArray,
    verbs: npt.NDArray[np.uint8],
    n_verbs: IntArray,
) -> tuple[npt.NDArray[np.uint8], IntArray, IntArray]:
    """SkPath records in one buffer, record i of the next `n_points[i]` points and `n_verbs[i]`
    verbs; with each record's start and size in bytes."""
    size = 16 + 8 * n_points + ((n_verbs + 3) // 4) * 4
    start = starts_of(size)
    buffer = np.zeros(int(size.sum()), dtype=np.uint8)
    header = buffer.view(np.int32)
    words = start // 4
    header[words] = (_EVEN_ODD << 8) | _PATH_VERSION
    header[words + 1] = n_points
    header[words + 2] = 0
    header[words + 3] = n_verbs

    # Record i's points are one run of 2 * n_points[i] floats from its word start + 4, its verbs
    # one run of bytes after them: each written by one shifted arange (half the passes of
    # indexing point by point: 70 -> 36 ms for 1.4 M points).
    floats = buffer.view(np.float32)
    shift = words + 4 - 2 * starts_of(n_points)
    floats[np.arange(2 * len(points)) + np.repeat(shift, 2 * n_points)] = points.reshape(-1)
    verb_shift = start + 16 + 8 * n_points - starts_of(n_verbs)
    buffer[np.arange(len(verbs)) + np.repeat(verb_shift, n_verbs)] = verbs
    return buffer, start, size

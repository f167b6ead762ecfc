"""Dropping the vertices a map cannot show: in pixel space, a vertex closer than a fraction of
a pixel to the last vertex kept before it on its line or ring goes (QGIS's "distance"
simplification, by default 1 px there), each line's and ring's ends stay.

The drawn outline moves by less than the tolerance, so only anti-aliased edge pixels can
change, and only where several vertices crowd into less than a pixel: at small scales, where
a layer's lines are a few pixels long with many vertices each (200,000 such lines stroke 2.2 ->
~1.0 s, docs/performance.md, PostGIS, sixth pass). At scales where vertices lie a pixel or
more apart nothing is dropped.

A line no longer than two stroke widths (`vector._TINY`; the caller passes that extent) is
mostly its stroke's blob: it is thinned at `TINY_TOLERANCE` (1 px, QGIS's own default), never
more than half the stroke width, so its vertices move inside the blob (the 200,000 lines' whole
layer: 1.36 -> 0.79 M vertices, stroking 1.3 -> 0.6 s, 0.1 % of its inked pixels by more than 16
levels of 255). Not for dashes, miter joins or butt caps, whose shapes follow the vertices.

The rule is sequential along a line; it runs vectorised over every line at once, one numpy
step per vertex rank. Lines are cut into pieces of `_PIECE` vertices whose first vertex is
kept (the rule restarts there), so a line of thousands of vertices costs no more steps than a
short one.
"""

from __future__ import annotations

import numpy as np

from ogcserve.geo.wkb import ranges, starts_of

from .geometry import IntArray, Subpaths

# Pixels: a vertex nearer than this to the last kept one is dropped.
TOLERANCE = 0.5
# Pixels, for a line no longer than a few stroke widths (its stroke's blob is most of what
# shows): QGIS's own default distance simplification.
TINY_TOLERANCE = 1.0
# Vertices per piece (the number of numpy steps), and the least coordinates a ring keeps.
_PIECE = 32
_RING_MIN = 4


def thin(
    subpaths: Subpaths,
    tolerance: float = TOLERANCE,
    tiny: float = 0.0,
    tiny_tolerance: float = TINY_TOLERANCE,
) -> Subpaths:
    """`subpaths` without the vertices closer than `tolerance` pixels to the last kept vertex
    of their line or ring. Ends are kept; a ring that would keep fewer than 4 coordinates (a
    polygon smaller than the tolerance) keeps all of them. Open subpaths whose bounding box's
    longer side is at most `tiny` pixels (lines that are mostly their stroke's blob) are
    thinned at `tiny_tolerance` instead."""
    counts = subpaths.counts
    if len(counts) == 0 or tolerance <= 0:
        return subpaths
    x = np.ascontiguousarray(subpaths.coords[:, 0])
    y = np.ascontiguousarray(subpaths.coords[:, 1])
    first = starts_of(counts)
    last = first + counts - 1
    limit = np.full(len(counts), tolerance * tolerance)
    lines = ~subpaths.closed & (counts > 2)  # rings never (a polygon layer: no extents)
    if tiny > 0 and tiny_tolerance > tolerance and lines.any():
        small = lines & (_extents(x, y, first, counts) <= tiny)
        limit[small] = tiny_tolerance * tiny_tolerance
    keep = _keep(x, y, first, last, limit)
    if keep.all():
        return subpaths
    owner = np.repeat(np.arange(len(counts)), counts)
    kept = np.bincount(owner[keep], minlength=len(counts))
    small = subpaths.closed & (kept < _RING_MIN)
    if small.any():
        keep |= small[owner]
        kept = np.bincount(owner[keep], minlength=len(counts))
    return Subpaths(subpaths.coords[keep], kept.astype(np.intp), subpaths.feature, subpaths.closed)


def _extents(x: np.ndarray, y: np.ndarray, first: IntArray, counts: IntArray) -> np.ndarray:
    """The longer side of each subpath's bounding box (0 for an empty one)."""
    out = np.zeros(len(first))
    some = counts > 0
    at = first[some]
    width = np.maximum.reduceat(x, at) - np.minimum.reduceat(x, at)
    height = np.maximum.reduceat(y, at) - np.minimum.reduceat(y, at)
    out[some] = np.maximum(width, height)
    return out


def _keep(
    x: np.ndarray, y: np.ndarray, first: IntArray, last: IntArray, limit: np.ndarray
) -> np.ndarray:
    """Which vertices the rule keeps (subpath i spans first[i]..last[i], inclusive, with
    `limit[i]` the square of its tolerance)."""
    keep = np.ones(len(x), dtype=bool)
    # A vertex at least the tolerance from the one before it is kept when that one is: only
    # subpaths with a shorter step need the rule (none on a map at a large scale).
    dx, dy = np.diff(x), np.diff(y)
    short = np.zeros(len(x), dtype=bool)
    uniform = bool((limit == limit[0]).all()) if len(limit) else True
    vertex_limit = limit[0] if uniform else np.repeat(limit, last - first + 1)[1:]
    short[1:] = dx * dx + dy * dy < vertex_limit
    short[first[first < len(x)]] = False  # a subpath's first vertex has no step before it
    long_enough = last > first  # two vertices or more
    first, last, limit = first[long_enough], last[long_enough], limit[long_enough]
    if not len(first) or not short.any():
        return keep
    some = np.logical_or.reduceat(short, first)
    first, last, limit = first[some], last[some], limit[some]
    keep[ranges(first + 1, last - first - 1)] = False
    # Pieces: every _PIECE-th vertex of a subpath starts one and is kept.
    n_pieces = (last - first + _PIECE - 1) // _PIECE  # pieces with a vertex after their start
    owner = np.repeat(np.arange(len(first)), n_pieces)
    rank = np.arange(int(n_pieces.sum())) - np.repeat(starts_of(n_pieces), n_pieces)
    start = first[owner] + rank * _PIECE
    keep[start] = True
    # Vertices after each piece's start, longest pieces first: step q takes a prefix.
    length = np.minimum(last[owner] - start, _PIECE - 1)
    order = np.argsort(-length, kind="stable")
    start, length, piece_limit = start[order], length[order], limit[owner][order]
    active = np.searchsorted(-length, -np.arange(1, _PIECE), side="right")
    kept_x, kept_y = x[start], y[start]
    for q in range(1, _PIECE):
        m = int(active[q - 1])
        if m == 0:
            break
        at = start[:m] + q
        px, py = x[at], y[at]
        dx, dy = px - kept_x[:m], py - kept_y[:m]
        far = dx * dx + dy * dy >= piece_limit[:m]
        keep[at[far]] = True
        # The piece's last vertex may be the subpath's end, kept whatever its distance.
        moved = far | keep[at]
        kept_x[:m] = np.where(moved, px, kept_x[:m])
        kept_y[:m] = np.where(moved, py, kept_y[:m])
    return keep

"""Cached tiles of an edited layer are dropped: the tiles touching the features' old and new
extents, in every tile matrix set and level, of the layer, of every group holding it and of the
project standing as a layer.

It subscribes to the access layer's edit events (`AccessLayer.edited`), so every write (WFS-T,
OGC API - Features, a plugin) is covered without a call from any service. The spaces are dropped
in the cache backend, so with the disk or Redis backend every worker and host sees it at once.
A level where the edit touches more than `max_tiles` tiles is dropped whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ogcserve.geo import BBox, normalize_crs, transform_bbox

from .keys import level_space
from .matrices import TileMatrix, TileMatrixSets

if TYPE_CHECKING:
    from ogcserve.access.events import Edit
    from ogcserve.cache import CacheBackend
    from ogcserve.projects.model import Layer, Project


def holders(project: Project, layer: Layer) -> list[str]:
    """The layer, every group above it, and the project: each draws the layer's features."""
    path: list[str] = []

    def find(nodes: tuple[Layer, ...], above: list[str]) -> bool:
        for node in nodes:
            if node.name == layer.name:
                path.extend([*above, node.name])
                return True
            if find(node.children, [*above, node.name]):
                return True
        return False

    find(project.layers, [])
    return [*(path or [layer.name]), project.name]


def grown(extent: BBox, matrix: TileMatrix) -> BBox:
    """One tile of margin: the symbols and labels of a feature reach into its neighbours."""
    minx, miny, maxx, maxy = extent
    return minx - matrix.span, miny - matrix.span, maxx + matrix.span, maxy + matrix.span


class TileInvalidator:
    """Drops the cached tiles an edit changes."""

    def __init__(self, backend: CacheBackend, sets: TileMatrixSets, max_tiles: int = 1024) -> None:
        self.backend = backend
        self.sets = sets
        self.max_tiles = max_tiles

    def __call__(self, edit: Edit) -> None:
        """Drop the tiles of `edit`."""
        names = holders(edit.project, edit.layer)
        for tms in self.sets.of(edit.project):
            extents = self.in_crs(edit, tms.crs)
            whole = False  # a level was dropped whole: finer ones are too (they hold more)
            for matrix in sorted(tms.matrices, key=lambda m: -m.span):
                tiles = None if whole else self.touched(matrix, extents)
                whole = tiles is None
                for name in names:
                    level = level_space(edit.project.name, name, tms.id, matrix.level)
                    if tiles is None:
                        self.backend.drop_tree(level)
                        continue
                    for row, col in tiles:
                        self.backend.drop(f"{level}/{row}/{col}")

    def in_crs(self, edit: Edit, crs: str) -> list[BBox]:
        """The edit's extents in the matrix set's CRS (a point's extent is a point); each
        once (an update of attributes gives every feature's extent twice, before and after)."""
        source = normalize_crs(edit.crs)
        result = []
        for minx, miny, maxx, maxy in dict.fromkeys(edit.extents):
            # A point's extent is empty: widened a hair, it has an inside to transform.
            pad = 1e-7 * max(1.0, abs(minx), abs(miny))
            extent = (minx - pad, miny - pad, maxx + pad, maxy + pad)
            try:
                result.append(transform_bbox(extent, source, crs))
            except ValueError:
                continue  # outside the matrix set's CRS: none of its tiles shows it
        return result

    def touched(self, matrix: TileMatrix, extents: list[BBox]) -> list[tuple[int, int]] | None:
        """The tiles of one level touching any of `extents`, sorted; None for more than
        `max_tiles` (the level is then dropped whole). The tile ranges of all the extents are
        computed at once, and each distinct range is enumerated once: a thousand features
        edited fall into a handful of tiles at most levels."""
        if not extents:
            return []
        boxes = np.asarray(extents, dtype=float).reshape(-1, 4)
        left, top = matrix.top_left
        span = matrix.span
        # The rows and columns of `TileMatrix.tiles_over`, of each extent grown by one tile.
        first_col = np.maximum(0, np.floor((boxes[:, 0] - span - left) / span))
        last_col = np.minimum(matrix.matrix_width - 1, np.floor((boxes[:, 2] + span - left) / span))
        first_row = np.maximum(0, np.floor((top - boxes[:, 3] - span) / span))
        last_row = np.minimum(matrix.matrix_height - 1, np.floor((top - boxes[:, 1] + span) / span))
        ranges = np.stack([first_row, last_row, first_col, last_col], axis=1).astype(np.int64)
        tiles: set[tuple[int, int]] = set()
        for r0, r1, c0, c1 in sorted(set(map(tuple, ranges.tolist()))):
            if r1 < r0 or c1 < c0:
                continue
            if len(tiles) + (r1 - r0 + 1) * (c1 - c0 + 1) > self.max_tiles:
                return None
            tiles.update((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))
        return sorted(tiles)

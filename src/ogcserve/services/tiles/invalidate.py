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
            for matrix in tms.matrices:
                for name in names:
                    self.drop(edit.project.name, name, tms.id, matrix, extents)

    def in_crs(self, edit: Edit, crs: str) -> list[BBox]:
        """The edit's extents in the matrix set's CRS (a point's extent is a point)."""
        source = normalize_crs(edit.crs)
        result = []
        for minx, miny, maxx, maxy in edit.extents:
            # A point's extent is empty: widened a hair, it has an inside to transform.
            pad = 1e-7 * max(1.0, abs(minx), abs(miny))
            extent = (minx - pad, miny - pad, maxx + pad, maxy + pad)
            try:
                result.append(transform_bbox(extent, source, crs))
            except ValueError:
                continue  # outside the matrix set's CRS: none of its tiles shows it
        return result

    def drop(
        self, project: str, layer: str, tms: str, matrix: TileMatrix, extents: list[BBox]
    ) -> None:
        """Drop the tiles of one level touching any of `extents`."""
        level = level_space(project, layer, tms, matrix.level)
        tiles: set[tuple[int, int]] = set()
        for extent in extents:
            rows, cols = matrix.tiles_over(grown(extent, matrix))
            if len(tiles) + len(rows) * len(cols) > self.max_tiles:
                self.backend.drop_tree(level)
                return
            tiles.update((r, c) for r in rows for c in cols)
        for row, col in sorted(tiles):
            self.backend.drop(f"{level}/{row}/{col}")

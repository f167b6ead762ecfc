"""Tile matrix sets (OGC Two Dimensional Tile Matrix Set 2.0, Annex D; WMTS 1.0.0 Annex E).

Rows count down from the top-left corner, columns right; a tile is 256 x 256 pixels. Extents are
in the set's CRS in x/y (east/north) order: CRS84 is lon/lat, so no axis is swapped anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ogcserve.geo import BBox

if TYPE_CHECKING:
    from ogcserve.projects.model import Project

TILE_SIZE = 256
_MERCATOR_HALF = 20037508.3427892


@dataclass(frozen=True, slots=True)
class TileMatrix:
    """One zoom level: its scale, cell size, corner and size in tiles."""

    level: int
    scale_denominator: float
    cell_size: float
    top_left: tuple[float, float]
    matrix_width: int
    matrix_height: int

    @property
    def span(self) -> float:
        """Width (and height) of one tile in CRS units."""
        return self.cell_size * TILE_SIZE

    def contains(self, row: int, col: int) -> bool:
        """Whether (row, col) is a tile of this matrix."""
        return 0 <= row < self.matrix_height and 0 <= col < self.matrix_width

    def tile_bbox(self, row: int, col: int, rows: int = 1, cols: int = 1) -> BBox:
        """The extent of a block of tiles whose top-left tile is (row, col)."""
        left, top = self.top_left
        return (
            left + col * self.span,
            top - (row + rows) * self.span,
            left + (col + cols) * self.span,
            top - row * self.span,
        )

    def tiles_over(self, bbox: BBox) -> tuple[range, range]:
        """The rows and columns of the tiles that touch `bbox` (clipped to the matrix)."""
        left, top = self.top_left
        minx, miny, maxx, maxy = bbox
        first_col = max(0, math.floor((minx - left) / self.span))
        last_col = min(self.matrix_width - 1, math.floor((maxx - left) / self.span))
        first_row = max(0, math.floor((top - maxy) / self.span))
        last_row = min(self.matrix_height - 1, math.floor((top - miny) / self.span))
        return range(first_row, last_row + 1), range(first_col, last_col + 1)


@dataclass(frozen=True)
class TileMatrixSet:
    """A named pyramid of tile matrices in one CRS."""

    id: str
    title: str
    crs: str  # normalized code (EPSG:3857, CRS:84)
    crs_uri: str  # OGC API - Tiles / 2D TMS
    crs_urn: str  # WMTS 1.0.0 SupportedCRS
    well_known_scale_set: str
    uri: str
    scale0: float
    cell0: float
    top_left: tuple[float, float]
    width0: int
    height0: int
    max_level: int
    bbox: BBox
    north_first: bool = False  # documents write the CRS's axes north first (EPSG:4326)

    def in_crs_order(self, x: float, y: float) -> tuple[float, float]:
        """A point as the CRS orders its axes (WMTS TopLeftCorner, 2D TMS pointOfOrigin)."""
        return (y, x) if self.north_first else (x, y)

    @cached_property
    def matrices(self) -> tuple[TileMatrix, ...]:
        """Every level, 0 first; as many tiles across and down as it takes to cover `bbox`."""
        minx, miny, maxx, maxy = self.bbox
        result = []
        for z in range(self.max_level + 1):
            cell = self.cell0 / 2**z
            span = cell * TILE_SIZE
            width = max(1, math.ceil((maxx - minx) / span - 1e-6))
            height = max(1, math.ceil((maxy - miny) / span - 1e-6))
            result.append(TileMatrix(z, self.scale0 / 2**z, cell, self.top_left, width, height))
        return tuple(result)

    def matrix(self, level: int) -> TileMatrix | None:
        """The matrix of a level, or None outside the pyramid."""
        return self.matrices[level] if 0 <= level <= self.max_level else None


def _sets() -> tuple[TileMatrixSet, ...]:
    return (
        TileMatrixSet(
            id="WebMercatorQuad",
            title="Google Maps Compatible for the World",
            crs="EPSG:3857",
            crs_uri="http://www.opengis.net/def/crs/EPSG/0/3857",
            crs_urn="urn:ogc:def:crs:EPSG::3857",
            well_known_scale_set="urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible",
            uri="http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
            scale0=559082264.0287178,
            cell0=156543.03392804097,
            top_left=(-_MERCATOR_HALF, _MERCATOR_HALF),
            width0=1,
            height0=1,
            max_level=20,
            bbox=(-_MERCATOR_HALF, -_MERCATOR_HALF, _MERCATOR_HALF, _MERCATOR_HALF),
        ),
        TileMatrixSet(
            id="WorldCRS84Quad",
            title="CRS84 for the World",
            crs="CRS:84",
            crs_uri="http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            crs_urn="urn:ogc:def:crs:OGC:1.3:CRS84",
            well_known_scale_set="urn:ogc:def:wkss:OGC:1.0:GoogleCRS84Quad",
            uri="http://www.opengis.net/def/tilematrixset/OGC/1.0/WorldCRS84Quad",
            scale0=279541132.0143589,
            cell0=0.703125,
            top_left=(-180.0, 90.0),
            width0=2,
            height0=1,
            max_level=19,
            bbox=(-180.0, -90.0, 180.0, 90.0),
        ),
    )


class TileMatrixSets:
    """The tile matrix sets a server offers, by identifier: the well-known ones (`all`) and
    those each project defines with its CRS list (`project_sets`)."""

    def __init__(self) -> None:
        self.all = _sets()
        self._by_id = {s.id: s for s in self.all}
        self._of_projects: dict[tuple[str, ...], tuple[TileMatrixSet, ...]] = {}

    def get(self, identifier: str, project: Project | None = None) -> TileMatrixSet | None:
        """The set named `identifier` (among the project's too, if given), or None."""
        found = self._by_id.get(identifier)
        if found is None and project is not None:
            found = next((s for s in self.of(project) if s.id == identifier), None)
        return found

    def of(self, project: Project) -> tuple[TileMatrixSet, ...]:
        """Every set a project's layers are offered in: the well-known ones, then its own."""
        found = self._of_projects.get(project.crs)
        if found is None:
            from .project_sets import project_sets

            found = self._of_projects[project.crs] = self.all + project_sets(project.crs)
        return found

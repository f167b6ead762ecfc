"""Where tiles are cached: a space per tile, holding one entry per access fingerprint.

space: `<project>/tile/<layer>/<matrix set>/<level>/<row>/<col>` — every caller's copy of one
tile, so that an edit drops them all at once (`drop`), and a layer or project its whole tree.
key:   a digest of the caller's access fingerprint (every plugin's cache_key() and every access
decision about the project, DESIGN §4), the project file's version, the style, the format and
the metatile settings. Never a plugin's key alone: two callers share a tile only if every
decision about the project is the same for both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ogcserve.projects.model import Project

    from .matrices import TileMatrixSet


@dataclass(frozen=True, slots=True)
class TileAddress:
    """One tile of one layer (a data layer, a group or the project) in one style and format."""

    layer: str
    style: str
    tms: TileMatrixSet
    level: int
    row: int
    col: int
    format: str

    def at(self, row: int, col: int) -> TileAddress:
        """The tile at (row, col) of the same level, layer, style and format."""
        return TileAddress(self.layer, self.style, self.tms, self.level, row, col, self.format)


def layer_space(project: str, layer: str) -> str:
    """Every cached tile of one layer of a project."""
    return f"{project}/tile/{layer}"


def level_space(project: str, layer: str, tms: str, level: int) -> str:
    """Every cached tile of one level of one layer."""
    return f"{layer_space(project, layer)}/{tms}/{level}"


def tile_space(project: str, address: TileAddress) -> str:
    """Every caller's copy of one tile."""
    level = level_space(project, address.layer, address.tms.id, address.level)
    return f"{level}/{address.row}/{address.col}"


def tile_key(
    fingerprint: str, project: Project, address: TileAddress, drawing: tuple[int, int]
) -> str:
    """The caller's key inside a tile's space (see the module docstring); `fingerprint` is the
    caller's access fingerprint (`AccessLayer.fingerprint`)."""
    parts = (fingerprint, project.mtime, address.style, address.format, drawing)
    return hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()

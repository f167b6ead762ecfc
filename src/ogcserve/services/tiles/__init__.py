"""Map tiles for every tile service (WMTS 1.0.0, OGC API - Tiles, XYZ): matrix sets, metatile
rendering into the cache backend, invalidation on edits.

`setup` registers WMTS, the OGC API - Tiles routes under /ogcapi/<project> and the XYZ template
/tiles/<project>/<layer>/{z}/{x}/{y}.png through the plugin API, as a plugin would, and
subscribes the tile invalidation to the access layer's edit events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .invalidate import TileInvalidator
from .matrices import TileMatrixSets
from .render import TileRenderer

if TYPE_CHECKING:
    from ogcserve.plugins.interface import ServerInterface


@dataclass
class TileService:
    """What every tile endpoint shares: the matrix sets and the renderer."""

    sets: TileMatrixSets = field(default_factory=TileMatrixSets)
    renderer: TileRenderer = field(default_factory=TileRenderer)


def setup(server: ServerInterface) -> None:
    """Register WMTS, OGC API - Tiles and XYZ, and drop edited tiles from the cache."""
    from ogcserve.services import wmts
    from ogcserve.services.ogcapi import tiles as ogcapi_tiles

    tiles = TileService()
    core = server.server
    core.access.edited.subscribe(TileInvalidator(core.cache_backend, tiles.sets))
    wmts.setup(server, tiles)
    ogcapi_tiles.setup(server, tiles)


__all__ = ["TileService", "setup"]

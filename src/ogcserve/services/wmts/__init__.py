"""WMTS 1.0.0: KVP at /ows (SERVICE=WMTS) and RESTful under /wmts/<project>."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rest import setup_routes
from .service import WMTSService

if TYPE_CHECKING:
    from ogcserve.plugins.interface import ServerInterface
    from ogcserve.services.tiles import TileService

__all__ = ["WMTSService", "setup"]


def setup(server: ServerInterface, tiles: TileService) -> None:
    """Register the KVP service and the RESTful routes."""
    service = WMTSService(tiles)
    server.register_service(service)
    setup_routes(server, service)

"""The built-in OWS services, registered through the plugin API exactly as a plugin would.

Each version is its own registration (as QGIS registers WMS 1.3.0 and 1.1.1); the first one
registered for a name is the default that answers when VERSION is missing or unknown.
"""

from __future__ import annotations

from ogcserve import viewer
from ogcserve.plugins.interface import ServerInterface
from ogcserve.services import ogcapi, tiles, wcs, wfs, wms


def setup(server: ServerInterface) -> None:
    """Register WMS, WFS, WCS, OGC API - Features, tiles (WMTS, OGC API - Tiles, XYZ) and the
    web viewer."""
    wms.setup(server)
    wfs.setup(server)
    wcs.setup(server)
    ogcapi.setup(server)
    tiles.setup(server)
    viewer.setup(server)  # `/` and `/viewer/<project>`, beside OGC API's routes

"""The built-in OWS services, registered through the plugin API exactly as a plugin would.

Each version is its own registration (as QGIS registers WMS 1.3.0 and 1.1.1); the first one
registered for a name is the default that answers when VERSION is missing or unknown.
"""

from __future__ import annotations

from ogcserve import viewer
from ogcserve.plugins.interface import ServerInterface
from ogcserve.services import ogcapi, tiles, wfs, wms
from ogcserve.services.ows.service import Operation, OWSService

# WCS is not built yet: it is registered so that its requests get its own exception format
# (WCS 1.0.0 §7: the OGC 1.2.0 ServiceExceptionReport) and OperationNotSupported.
_SERVICES: tuple[tuple[str, str, tuple[str, str]], ...] = (("WCS", "1.0.0", ("sxr", "1.2.0")),)


def setup(server: ServerInterface) -> None:
    """Register WMS and WFS, OGC API - Features, tiles (WMTS, OGC API - Tiles, XYZ), the web
    viewer, and WCS without operations yet."""
    wms.setup(server)
    wfs.setup(server)
    ogcapi.setup(server)
    tiles.setup(server)
    viewer.setup(server)  # `/` and `/viewer/<project>`, beside OGC API's routes
    for name, version, exception_format in _SERVICES:
        versions = tuple(v for n, v, _ in _SERVICES if n == name)
        operations: dict[str, Operation] = {}
        server.register_service(OWSService(name, version, versions, operations, exception_format))

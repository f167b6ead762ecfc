"""WMS 1.3.0 and 1.1.1, registered through the plugin API as any plugin would register them."""

from __future__ import annotations

from ogcserve.plugins.interface import ServerInterface
from ogcserve.services.wms.params import VERSIONS
from ogcserve.services.wms.service import WMSService

__all__ = ["WMSService", "setup"]


def setup(server: ServerInterface) -> None:
    """Register WMS 1.3.0 (the default version, registered first) and 1.1.1."""
    for version in VERSIONS:
        server.register_service(WMSService(version))

"""The built-in OWS services, registered through the plugin API exactly as a plugin would.

Each version is its own registration (as QGIS registers WMS 1.3.0 and 1.1.1); the first one
registered for a name is the default that answers when VERSION is missing or unknown.
"""

from __future__ import annotations

from ogcserve.plugins.interface import ServerInterface
from ogcserve.services import wms
from ogcserve.services.ows.service import Operation, OWSService

# (name, version, exception format): WFS 1.0.0 and WCS 1.0.0 use the OGC 1.2.0
# ServiceExceptionReport; WFS 1.1.0 OWS 1.0, WFS 2.0.0 OWS 1.1. (WMS registers itself.)
_SERVICES: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("WFS", "2.0.0", ("ows", "1.1.0")),
    ("WFS", "1.1.0", ("ows", "1.0.0")),
    ("WFS", "1.0.0", ("sxr", "1.2.0")),
    ("WCS", "1.0.0", ("sxr", "1.2.0")),
)


def setup(server: ServerInterface) -> None:
    """Register WMS, WFS and WCS with the operations implemented so far."""
    wms.setup(server)
    for name, version, exception_format in _SERVICES:
        versions = tuple(v for n, v, _ in _SERVICES if n == name)
        operations: dict[str, Operation] = {}
        server.register_service(OWSService(name, version, versions, operations, exception_format))

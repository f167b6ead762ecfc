"""WCS 2.0.1, 1.1.1 and 1.0.0 on the raster layers, through the access layer."""

from __future__ import annotations

from ogcserve.plugins.interface import ServerInterface

from .service import VERSIONS, WCSService


def setup(server: ServerInterface) -> None:
    """Register one WCS service per version; the first (2.0.1) is the default."""
    for version in VERSIONS:
        server.register_service(WCSService(version))

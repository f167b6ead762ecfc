"""WFS 2.0.0, 1.1.0 and 1.0.0: one `WFSService` per version, registered like any plugin.

    server = make_server(plugins=[wfs.setup])

Operations live one per module (get_capabilities, describe_feature_type, get_feature,
get_property_value, stored_queries, transaction); every data access goes through
`ctx.server.access`, so the caller's rights apply to every read and write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .params import VERSIONS
from .service import WFSService

if TYPE_CHECKING:
    from ogcserve.plugins.interface import ServerInterface

__all__ = ["WFSService", "setup"]


def setup(server_iface: ServerInterface) -> None:
    """Register WFS 2.0.0 (the default), 1.1.0 and 1.0.0."""
    for version in VERSIONS:
        server_iface.register_service(WFSService(version))

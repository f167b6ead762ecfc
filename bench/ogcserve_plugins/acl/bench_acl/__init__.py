"""ogcserve access control of bench/wms_compare.py: `parcels` is hidden unless X-Role: admin.

The same rule as bench/qgis_plugins/bench_acl (QGIS Server), in ogcserve's Pythonic API.
"""

from __future__ import annotations

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer

HIDDEN = "parcels"


class BenchAccessControl(AccessControlFilter):
    """Hides one layer from every role but admin; the role is the cache key."""

    def __init__(self, server_iface: ServerInterface) -> None:
        self.server_iface = server_iface

    def role(self) -> str:
        return self.server_iface.env("HTTP_X_ROLE") or "anonymous"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        visible = self.role() == "admin" or layer.name != HIDDEN
        return LayerPermissions(
            can_read=visible, can_insert=False, can_update=False, can_delete=False
        )

    def cache_key(self) -> str:
        return self.role()


def serverClassFactory(server_iface: ServerInterface) -> BenchAccessControl:  # noqa: N802
    control = BenchAccessControl(server_iface)
    server_iface.register_access_control(control, priority=100)
    return control

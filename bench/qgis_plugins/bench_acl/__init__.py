"""QGIS Server access control of bench/wms_compare.py: `parcels` is hidden unless X-Role: admin.

With BENCH_ACL_ROWS=1 in the environment (bench/postgis_compare.py) it filters rows instead:
every role but admin reads `parcels` without the rows of category 9 and without the attribute
`value`; no layer is hidden.

The same rule as bench/ogcserve_plugins/acl/bench_acl (ogcserve's Pythonic plugin API).
`cacheKey` returns the role, so QGIS Server keeps caching capabilities per role; with
WMS_BENCH_ACL_NO_CACHE_KEY=1 in the environment it returns "" and QGIS Server caches no
capabilities document while the plugin is loaded.
"""

# ruff: noqa: N802
from __future__ import annotations

import os
from typing import Any

from qgis.server import QgsAccessControlFilter  # type: ignore[import-not-found]

HIDDEN = "parcels"


class BenchAccessControl(QgsAccessControlFilter):  # type: ignore[misc]
    def __init__(self, server_iface: Any) -> None:
        super().__init__(server_iface)
        self.server_iface = server_iface
        self.with_cache_key = os.environ.get("WMS_BENCH_ACL_NO_CACHE_KEY", "") != "1"
        self.rows = os.environ.get("BENCH_ACL_ROWS", "") == "1"

    def role(self) -> str:
        handler = self.server_iface.requestHandler()
        role = handler.requestHeader("X-Role") if handler is not None else ""
        return role or "anonymous"

    def layerPermissions(self, layer: Any) -> Any:
        rights = QgsAccessControlFilter.LayerPermissions()
        visible = self.rows or self.role() == "admin" or layer.name() != HIDDEN
        rights.canRead = visible
        rights.canInsert = rights.canUpdate = rights.canDelete = False
        return rights

    def restricted(self, layer: Any) -> bool:
        return self.rows and layer.name() == HIDDEN and self.role() != "admin"

    def layerFilterExpression(self, layer: Any) -> str:
        return '"category" <> 9' if self.restricted(layer) else ""

    def layerFilterSubsetString(self, layer: Any) -> str:
        return ""

    def authorizedLayerAttributes(self, layer: Any, attributes: list[str]) -> list[str]:
        if self.restricted(layer):
            return [a for a in attributes if a != "value"]
        return attributes

    def allowToEdit(self, layer: Any, feature: Any) -> bool:
        return False

    def cacheKey(self) -> str:
        return self.role() if self.with_cache_key else ""


def serverClassFactory(server_iface: Any) -> BenchAccessControl:
    control = BenchAccessControl(server_iface)
    server_iface.registerAccessControl(control, 100)
    return control

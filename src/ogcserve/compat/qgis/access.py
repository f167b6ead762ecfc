"""`QgsAccessControlFilter`: an `AccessControlFilter` whose snake_case methods call the QGIS ones.

The QGIS defaults live one class up, in `QgsAccessControlFilterBase`: the cookbook calls them as
`super(QgsAccessControlFilter, self).layerFilterExpression(layer)`, which skips
`QgsAccessControlFilter` itself and would otherwise find nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ogcserve.compat.qgis.core import QgsFeature, QgsMapLayer, QgsVectorLayer
from ogcserve.plugins import access as core

if TYPE_CHECKING:
    from ogcserve.access.rules import RequestAccess
    from ogcserve.compat.qgis.interface import QgsServerInterface
    from ogcserve.features import Feature
    from ogcserve.plugins.interface import ServerInterface
    from ogcserve.projects.model import Layer


class LayerPermissions:
    """`QgsAccessControlFilter.LayerPermissions`: all False when made from Python, as in QGIS."""

    def __init__(
        self,
        canRead: bool = False,
        canInsert: bool = False,
        canUpdate: bool = False,
        canDelete: bool = False,
    ) -> None:
        self.canRead = canRead
        self.canInsert = canInsert
        self.canUpdate = canUpdate
        self.canDelete = canDelete

    def permissions(self) -> core.LayerPermissions:
        """Core: the core's `LayerPermissions`."""
        return core.LayerPermissions(self.canRead, self.canInsert, self.canUpdate, self.canDelete)


class QgsAccessControlFilterBase(core.AccessControlFilter):
    """QGIS's default answers (full access) and the bridge to the core methods."""

    def __init__(self, serverIface: QgsServerInterface | None = None) -> None:
        self._server_iface = serverIface

    def serverInterface(self) -> QgsServerInterface | None:
        """The interface given to the constructor."""
        return self._server_iface

    def layerFilterExpression(self, layer: QgsVectorLayer) -> str:
        """A QGIS expression restricting the rows of `layer`; default: none ('')."""
        return ""

    def layerFilterSubsetString(self, layer: QgsVectorLayer) -> str:
        """A SQL WHERE fragment for the layer's database; default: none ('')."""
        return ""

    def layerPermissions(self, layer: QgsMapLayer) -> LayerPermissions:
        """Read/insert/update/delete rights on `layer`; default: all True."""
        return LayerPermissions(True, True, True, True)

    def authorizedLayerAttributes(self, layer: QgsVectorLayer, attributes: list[str]) -> list[str]:
        """The attributes the caller may see; default: all of `attributes`."""
        return attributes

    def allowToEdit(self, layer: QgsVectorLayer, feature: QgsFeature) -> bool:
        """Whether the caller may write `feature`; default: True."""
        return True

    def cacheKey(self) -> str:
        """A key for the caller's rights; default: ''."""
        return ""

    # The bridge to the core: the only place the two vocabularies meet.
    def layer_permissions(self, layer: Layer) -> core.LayerPermissions:
        """Core method: `layerPermissions()`."""
        return self.layerPermissions(QgsVectorLayer(layer)).permissions()

    def layer_filter_expression(self, layer: Layer) -> str | None:
        """Core method: `layerFilterExpression()` ('' means none)."""
        return self.layerFilterExpression(QgsVectorLayer(layer)) or None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        """Core method: `layerFilterSubsetString()` ('' means none)."""
        return self.layerFilterSubsetString(QgsVectorLayer(layer)) or None

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        """Core method: `authorizedLayerAttributes()`."""
        return list(self.authorizedLayerAttributes(QgsVectorLayer(layer), attributes))

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        """Core method: `allowToEdit()`."""
        return bool(self.allowToEdit(QgsVectorLayer(layer), QgsFeature(feature)))

    def cache_key(self) -> str:
        """Core method: `cacheKey()` (None, which the cookbook suggests, counts as '')."""
        return str(self.cacheKey() or "")


class QgsAccessControlFilter(QgsAccessControlFilterBase):
    """QGIS Server access-control filter: override layerPermissions and friends."""

    LayerPermissions = LayerPermissions


class QgsAccessControl:
    """What `accessControls()` returns: every access-control filter's answers, combined."""

    def __init__(self, server_iface: QgsServerInterface) -> None:
        self._server_iface = server_iface

    def layerReadPermission(self, layer: QgsMapLayer) -> bool:
        """AND of every filter's canRead."""
        return _request_access(self._server_iface).permissions(layer.layer).can_read

    def layerInsertPermission(self, layer: QgsMapLayer) -> bool:
        """AND of every filter's canInsert."""
        return _request_access(self._server_iface).permissions(layer.layer).can_insert

    def layerUpdatePermission(self, layer: QgsMapLayer) -> bool:
        """AND of every filter's canUpdate."""
        return _request_access(self._server_iface).permissions(layer.layer).can_update

    def layerDeletePermission(self, layer: QgsMapLayer) -> bool:
        """AND of every filter's canDelete."""
        return _request_access(self._server_iface).permissions(layer.layer).can_delete

    def layerAttributes(self, layer: QgsMapLayer, attributes: list[str]) -> list[str]:
        """The attributes left after every filter, in turn."""
        return list(_request_access(self._server_iface).attributes(layer.layer, attributes))

    def allowToEdit(self, layer: QgsMapLayer, feature: QgsFeature) -> bool:
        """AND of every filter's allowToEdit."""
        return _request_access(self._server_iface).allow_to_edit(layer.layer, feature.feature)

    def extraSubsetString(self, layer: QgsMapLayer) -> str:
        """Every filter's subset string, ANDed."""
        return _and_all(_request_access(self._server_iface).subset_strings(layer.layer))

    def registerAccessControl(
        self, accessControl: QgsAccessControlFilterBase, priority: int = 0
    ) -> None:
        """Register another access-control filter."""
        self._server_iface.register_access_control(accessControl, priority)


def _request_access(server_iface: ServerInterface) -> RequestAccess:
    """The combined access answers of the current request (a fresh set outside one)."""
    ctx = server_iface.request_handler()
    return ctx.access if ctx is not None else server_iface.server.access_controls.for_request()


def _and_all(parts: Iterable[str]) -> str:
    """`((a) AND (b))`, as QGIS combines subset strings; '' for none."""
    items = [f"({p})" for p in parts]
    return f"({' AND '.join(items)})" if items else ""

"""An access plugin for the viewer tests: the role `guest` (header X-Role) may not read the
layer `counties` nor see the attribute `secret` of `countries`; anyone else sees everything."""

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer


class ViewerRoles(AccessControlFilter):
    def __init__(self, server_iface: ServerInterface) -> None:
        self.server_iface = server_iface

    def _guest(self) -> bool:
        ctx = self.server_iface.request_handler()
        return ctx is not None and ctx.request.headers.get("X-Role", "") == "guest"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        if self._guest() and layer.name == "counties":
            return LayerPermissions(False, False, False, False)
        return LayerPermissions()

    def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
        if self._guest() and layer.name == "countries":
            return [a for a in attributes if a != "secret"]
        return attributes

    def cache_key(self) -> str:
        return "guest" if self._guest() else ""


def serverClassFactory(server_iface: ServerInterface) -> ViewerRoles:
    access = ViewerRoles(server_iface)
    server_iface.register_access_control(access, priority=100)
    return access

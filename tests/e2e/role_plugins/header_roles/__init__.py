"""An access plugin that trusts the X-Role header, as a proxy sets it: `nc_counties` is
readable only for the role `admin`. The request parameter VIA names how the role is read
(`env`: the CGI variable HTTP_X_ROLE; `headers`: the request's headers); for any other VIA
this plugin grants everything (the QGIS plugin beside it reads the role then)."""

from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface
from ogcserve.projects import Layer


class HeaderRoles(AccessControlFilter):
    def __init__(self, server_iface: ServerInterface) -> None:
        self.server_iface = server_iface

    def _role(self) -> str | None:
        ctx = self.server_iface.request_handler()
        if ctx is None:
            return None
        via = ctx.parameter("VIA")
        if via == "env":
            return self.server_iface.env("HTTP_X_ROLE")
        if via == "headers":
            return ctx.request.headers.get("X-Role", "")
        return None

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        role = self._role()
        if role is None or role == "admin" or layer.name != "nc_counties":
            return LayerPermissions()
        return LayerPermissions(
            can_read=False, can_insert=False, can_update=False, can_delete=False
        )

    def cache_key(self) -> str:
        return repr(self._role())


def serverClassFactory(server_iface: ServerInterface) -> HeaderRoles:
    access = HeaderRoles(server_iface)
    server_iface.register_access_control(access, priority=100)
    return access

"""The QGIS-API twin of ../header_roles: `nc_counties` is readable only for the role `admin`,
read from X-Role as VIA says: `getenv` (serverInterface().getEnv("HTTP_X_ROLE")),
`requestheader` (requestHandler().requestHeader), `requestheaders` (requestHandler()
.requestHeaders(), looked up without regard to case). Any other VIA: full access."""

from qgis.server import QgsAccessControlFilter


class HeaderRolesQgis(QgsAccessControlFilter):
    def __init__(self, server_iface):
        super().__init__(server_iface)
        self.iface = server_iface
        server_iface.registerAccessControl(self, 100)

    def role(self):
        handler = self.iface.requestHandler()
        via = handler.parameter("VIA")
        if via == "getenv":
            return self.iface.getEnv("HTTP_X_ROLE")
        if via == "requestheader":
            return handler.requestHeader("X-Role")
        if via == "requestheaders":
            headers = {k.lower(): v for k, v in handler.requestHeaders().items()}
            return headers.get("x-role", "")
        return None

    def layerPermissions(self, layer):
        rights = QgsAccessControlFilter.LayerPermissions()
        role = self.role()
        hidden = role is not None and role != "admin" and layer.name() == "nc_counties"
        rights.canRead = rights.canInsert = rights.canUpdate = rights.canDelete = not hidden
        return rights

    def cacheKey(self):
        return repr(self.role())


def serverClassFactory(server_iface):
    return HeaderRolesQgis(server_iface)

"""A QGIS Server access-control plugin, run through ogcserve's facade: for X-Team other than
`ops`, `countries` shows Asian rows only (an expression) of small GDP (a subset string) and
hides `gdp_md_est`; `nyc_boroughs` cannot be edited."""

from qgis.server import QgsAccessControlFilter


class RowsByHeader(QgsAccessControlFilter):
    def __init__(self, server_iface):
        super().__init__(server_iface)
        self.iface = server_iface

    def team(self):
        return self.iface.requestHandler().requestHeader("X-Team")

    def layerFilterExpression(self, layer):
        if layer.name() == "countries" and self.team() != "ops":
            return "\"continent\" = 'Asia'"
        return ""

    def layerFilterSubsetString(self, layer):
        if layer.name() == "countries" and self.team() != "ops":
            return "gdp_md_est < 100000"
        return ""

    def authorizedLayerAttributes(self, layer, attributes):
        if self.team() == "ops":
            return attributes
        return [a for a in attributes if a != "gdp_md_est"]

    def layerPermissions(self, layer):
        rights = QgsAccessControlFilter.LayerPermissions()
        rights.canRead = True
        rights.canInsert = rights.canUpdate = rights.canDelete = layer.name() != "nyc_boroughs"
        return rights

    def cacheKey(self):
        return self.team()


def serverClassFactory(server_iface):
    control = RowsByHeader(server_iface)
    server_iface.registerAccessControl(control, 50)
    return control

# Added for ogcserve: the cookbook shows the class without its imports.
from qgis.server import *
from qgis.core import *


class AccessControl(QgsAccessControlFilter):
    def __init__(self, server_iface):
        super(QgsAccessControlFilter, self).__init__(server_iface)
        # Added for ogcserve: the cookbook's constructor never registers the filter, so it would
        # never be asked anything (in QGIS either); the current cookbook registers it at 100.
        server_iface.registerAccessControl(self, 100)

    def layerFilterExpression(self, layer):
        """Return an additional expression filter"""
        return super(QgsAccessControlFilter, self).layerFilterExpression(layer)

    def layerFilterSubsetString(self, layer):
        """Return an additional subset string (typically SQL) filter"""
        return super(QgsAccessControlFilter, self).layerFilterSubsetString(layer)

    def layerPermissions(self, layer):
        """Return the layer rights"""
        return super(QgsAccessControlFilter, self).layerPermissions(layer)

    def authorizedLayerAttributes(self, layer, attributes):
        """Return the authorised layer attributes"""
        return super(QgsAccessControlFilter, self).authorizedLayerAttributes(layer, attributes)

    def allowToEdit(self, layer, feature):
        """Are we authorise to modify the following geometry"""
        return super(QgsAccessControlFilter, self).allowToEdit(layer, feature)

    def cacheKey(self):
        return super(QgsAccessControlFilter, self).cacheKey()

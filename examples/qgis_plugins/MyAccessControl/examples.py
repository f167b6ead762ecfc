# The cookbook's method examples, each verbatim in a subclass of the full-access AccessControl
# (the cookbook shows them as methods to paste into it). Constructing one registers it.
from MyAccessControl.AccessControl import AccessControl
from qgis.server import *


class RoleExpression(AccessControl):
    def layerFilterExpression(self, layer):
        return "$role = 'user'"


class RoleSubsetString(AccessControl):
    def layerFilterSubsetString(self, layer):
        return "role = 'user'"


class ReadOnly(AccessControl):
    def layerPermissions(self, layer):
        rights = QgsAccessControlFilter.LayerPermissions()
        rights.canRead = True
        rights.canRead = rights.canInsert = rights.canUpdate = rights.canDelete = False
        return rights


class HideRole(AccessControl):
    def authorizedLayerAttributes(self, layer, attributes):
        return [a for a in attributes if a != "role"]


class EditUsersOnly(AccessControl):
    def allowToEdit(self, layer, feature):
        return feature.attribute("role") == "user"


class NoCache(AccessControl):
    def cacheKey(self):
        return None

"""A QGIS server plugin that misbehaves on request (QBREAK=<misdeed>, see ../misdeeds.py),
written against QGIS's API only: it runs through ogcserve's facade."""

from qgis.core import Qgis, QgsMessageLog
from qgis.PyQt.QtCore import QRegularExpression
from qgis.server import (
    QgsAccessControlFilter,
    QgsServerCacheFilter,
    QgsServerFilter,
    QgsServerOgcApi,
    QgsServerOgcApiHandler,
    QgsService,
)

from misdeeds import BODIES, HEADERS, STATUSES, misbehave  # the plugin path is on sys.path


def _asked(server_iface):
    handler = server_iface.requestHandler()
    return handler.parameter("QBREAK") if handler is not None else ""


class UnrulyFilter(QgsServerFilter):
    def onRequestReady(self):
        misbehave(_asked(self.serverInterface()), "request_ready")
        return True

    def onProjectReady(self):
        misbehave(_asked(self.serverInterface()), "project_ready")
        return True

    def onSendResponse(self):
        misbehave(_asked(self.serverInterface()), "send_response")
        return True

    def onResponseComplete(self):
        handler = self.serverInterface().requestHandler()
        what = handler.parameter("QBREAK")
        misbehave(what, "response_complete")
        if what in STATUSES:
            handler.setStatusCode(STATUSES[what])
        if what in HEADERS:
            handler.setResponseHeader(*HEADERS[what])
        if what in BODIES:
            handler.clearBody()
            handler.appendBody(BODIES[what])
        if what == "log":
            QgsMessageLog.logMessage("unruly says info", "unruly", Qgis.Info)
            QgsMessageLog.logMessage("unruly says warning", "unruly", Qgis.Warning)
            QgsMessageLog.logMessage("unruly says critical", "unruly", Qgis.Critical)
            QgsMessageLog.logMessage("unruly says success", "unruly", Qgis.Success)
        return True


class OldStyleFilter(QgsServerFilter):
    """The QGIS 2 / deprecated void hooks most published plugins still use."""

    def requestReady(self):
        misbehave(_asked(self.serverInterface()), "old_request_ready")

    def sendResponse(self):
        misbehave(_asked(self.serverInterface()), "old_send_response")

    def responseComplete(self):
        misbehave(_asked(self.serverInterface()), "old_response_complete")


class UnrulyAccess(QgsAccessControlFilter):
    def layerPermissions(self, layer):
        misbehave(_asked(self.serverInterface()), "layer_permissions")
        return super().layerPermissions(layer)

    def layerFilterExpression(self, layer):
        misbehave(_asked(self.serverInterface()), "layer_filter_expression")
        return super().layerFilterExpression(layer)

    def layerFilterSubsetString(self, layer):
        misbehave(_asked(self.serverInterface()), "layer_filter_subset_string")
        return super().layerFilterSubsetString(layer)

    def allowToEdit(self, layer, feature):
        misbehave(_asked(self.serverInterface()), "allow_to_edit")
        return super().allowToEdit(layer, feature)

    def authorizedLayerAttributes(self, layer, attributes):
        misbehave(_asked(self.serverInterface()), "authorized_layer_attributes")
        return super().authorizedLayerAttributes(layer, attributes)

    def cacheKey(self):
        misbehave(_asked(self.serverInterface()), "cache_key")
        return super().cacheKey()


class UnrulyCache(QgsServerCacheFilter):
    def getCachedDocument(self, project, request, key):
        misbehave(_asked(self.serverInterface()), "cache_get")
        return super().getCachedDocument(project, request, key)

    def setCachedDocument(self, doc, project, request, key):
        misbehave(_asked(self.serverInterface()), "cache_set")
        return super().setCachedDocument(doc, project, request, key)


class UnrulyService(QgsService):
    """SERVICE=QUNRULY: writes three lines, or the misdeed's body, status or header."""

    def __init__(self, server_iface):
        super().__init__()
        self.server_iface = server_iface

    def name(self):
        return "QUNRULY"

    def version(self):
        return "1.0.0"

    def executeRequest(self, request, response, project):
        what = request.parameter("QBREAK")
        misbehave(what, "service")
        response.setHeader("Content-Type", "text/plain")
        if what in STATUSES:
            response.setStatusCode(STATUSES[what])
        if what in HEADERS:
            response.setHeader(*HEADERS[what])
        if what in BODIES:
            response.write(BODIES[what])
        for part in ("one\n", "two\n", "three\n"):
            response.write(part)
            if request.parameter("REQUEST") == "Stream":
                response.flush()


class UnrulyHandler(QgsServerOgcApiHandler):
    """GET /qunruly-api/route: an OGC API handler (QBREAK=raise:route raises)."""

    def __init__(self, server_iface):
        super().__init__()
        self.server_iface = server_iface

    def path(self):
        return QRegularExpression(r"^/route$")

    def operationId(self):
        return "route"

    def handleRequest(self, context):
        misbehave(_asked(self.server_iface), "route")
        self.write({"route": True}, context)


class UnrulyServer:
    def __init__(self, server_iface):
        server_iface.registerFilter(UnrulyFilter(server_iface), 60)
        server_iface.registerFilter(OldStyleFilter(server_iface), 70)
        server_iface.registerAccessControl(UnrulyAccess(server_iface), 60)
        server_iface.registerServerCache(UnrulyCache(server_iface), 60)
        server_iface.serviceRegistry().registerService(UnrulyService(server_iface))
        api = QgsServerOgcApi(server_iface, "/qunruly-api", "unruly", "", "1.0")
        api.registerHandler(UnrulyHandler(server_iface))
        server_iface.serviceRegistry().registerApi(api)


def serverClassFactory(serverIface):
    return UnrulyServer(serverIface)

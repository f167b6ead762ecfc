from qgis.server import *
from qgis.core import *


class ParamsFilter(QgsServerFilter):
    def __init__(self, serverIface):
        super(ParamsFilter, self).__init__(serverIface)

    def requestReady(self):
        request = self.serverInterface().requestHandler()
        params = request.parameterMap()
        request.setParameter("TEST_NEW_PARAM", "ParamsFilter")

    def responseComplete(self):
        request = self.serverInterface().requestHandler()
        params = request.parameterMap()
        if params.get("TEST_NEW_PARAM") == "ParamsFilter":
            QgsMessageLog.logMessage(
                "SUCCESS - ParamsFilter.responseComplete", "plugin", QgsMessageLog.INFO
            )
        else:
            QgsMessageLog.logMessage(
                "FAIL - ParamsFilter.responseComplete", "plugin", QgsMessageLog.CRITICAL
            )

from qgis.server import *
from qgis.core import *


class HelloFilter(QgsServerFilter):
    def __init__(self, serverIface):
        super(HelloFilter, self).__init__(serverIface)

    def responseComplete(self):
        request = self.serverInterface().requestHandler()
        params = request.parameterMap()
        if params.get("SERVICE", "").upper() == "HELLO":
            request.clearHeaders()
            request.setHeader("Content-type", "text/plain")
            request.clearBody()
            request.appendBody("HelloServer!")


class HelloServerServer:
    def __init__(self, serverIface):
        # Save reference to the QGIS server interface
        self.serverIface = serverIface
        serverIface.registerFilter(HelloFilter, 100)
        # Added for ogcserve: the cookbook shows ParamsFilter and WatermarkFilter as separate
        # snippets; the HelloServer plugin registers every filter, at 100, 200, 300, ...
        from HelloServer.ParamsFilter import ParamsFilter
        from HelloServer.WatermarkFilter import WatermarkFilter

        serverIface.registerFilter(ParamsFilter(serverIface), 200)
        serverIface.registerFilter(WatermarkFilter(serverIface), 300)

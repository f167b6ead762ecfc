import os

from qgis.server import *
from qgis.core import *
from PyQt4.QtCore import *
from PyQt4.QtGui import *


class WatermarkFilter(QgsServerFilter):
    def __init__(self, serverIface):
        super(WatermarkFilter, self).__init__(serverIface)

    def responseComplete(self):
        request = self.serverInterface().requestHandler()
        params = request.parameterMap()
        # Do some checks
        if (
            request.parameter("SERVICE").upper() == "WMS"
            and request.parameter("REQUEST").upper() == "GETMAP"
            and not request.exceptionRaised()
        ):
            QgsMessageLog.logMessage(
                "WatermarkFilter.responseComplete: image ready %s" % request.infoFormat(),
                "plugin",
                QgsMessageLog.INFO,
            )
            # Get the image
            img = QImage()
            img.loadFromData(request.body())
            # Adds the watermark
            watermark = QImage(os.path.join(os.path.dirname(__file__), "media/watermark.png"))
            p = QPainter(img)
            p.drawImage(QRect(20, 20, 40, 40), watermark)
            p.end()
            ba = QByteArray()
            buffer = QBuffer(ba)
            buffer.open(QIODevice.WriteOnly)
            img.save(buffer, "PNG")
            # Set the body
            request.clearBody()
            request.appendBody(ba)

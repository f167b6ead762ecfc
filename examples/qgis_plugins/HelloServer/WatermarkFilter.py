# The cookbook's watermark filter with Pillow in place of QImage/QPainter/QBuffer (PyQt4 is
# not available; the facade's Qt subset has only what crosses the server API). Everything else
# is the cookbook's code: the same checks, log line, rectangle and body replacement.
import io
import os

from PIL import Image

from qgis.server import *
from qgis.core import *
from qgis.PyQt.QtCore import QByteArray


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
            img = Image.open(io.BytesIO(request.body().data())).convert("RGBA")
            # Adds the watermark
            watermark = Image.open(os.path.join(os.path.dirname(__file__), "media/watermark.png"))
            # p.drawImage(QRect( 20, 20, 40, 40), watermark)
            img.alpha_composite(watermark.convert("RGBA").resize((40, 40)), (20, 20))
            buffer = io.BytesIO()
            img.save(buffer, "PNG")
            ba = QByteArray(buffer.getvalue())
            # Set the body
            request.clearBody()
            request.appendBody(ba)

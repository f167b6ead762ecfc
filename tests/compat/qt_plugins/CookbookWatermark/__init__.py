# Not the cookbook's: the wiring it leaves to the reader (its HelloServer plugin registers its
# filters the same way). WatermarkFilter.py is the cookbook's watermark example as printed.


def serverClassFactory(serverIface):
    from CookbookWatermark.WatermarkFilter import WatermarkFilter

    serverIface.registerFilter(WatermarkFilter(serverIface), 100)
    return serverIface

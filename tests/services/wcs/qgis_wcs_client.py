"""QGIS desktop's WCS provider against an ogcserve URL; run by Debian's /usr/bin/python3.

    qgis_wcs_client.py URL COVERAGE [VERSION]

Prints one JSON object: whether the layer is valid, its CRS, extent and size as the provider
describes them, and the values of band 1 read over the whole extent at the native size.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    from qgis.core import QgsApplication, QgsDataSourceUri, QgsRasterLayer

    url, coverage = sys.argv[1], sys.argv[2]
    version = sys.argv[3] if len(sys.argv) > 3 else ""
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    uri = QgsDataSourceUri()
    uri.setParam("url", url)
    uri.setParam("identifier", coverage)
    uri.setParam("cache", "AlwaysNetwork")
    if version:
        uri.setParam("version", version)
    layer = QgsRasterLayer(str(uri.encodedUri(), "utf-8"), coverage, "wcs")
    report: dict[str, object] = {"valid": layer.isValid()}
    if layer.isValid():
        provider = layer.dataProvider()
        extent = provider.extent()
        width, height = provider.xSize(), provider.ySize()
        block = provider.block(1, extent, width, height)
        report |= {
            "crs": layer.crs().authid(),
            "extent": [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
            "size": [width, height],
            "values": [[block.value(row, col) for col in range(width)] for row in range(height)],
            "nodata": [
                block.isNoData(row, col) for row in range(height) for col in range(width)
            ].count(True),
        }
    else:
        report["error"] = layer.error().summary()
    print(json.dumps(report))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

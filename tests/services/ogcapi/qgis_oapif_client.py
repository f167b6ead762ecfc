"""QGIS desktop's OAPIF provider against an ogcserve OGC API; run by Debian's /usr/bin/python3.

    qgis_oapif_client.py URL COLLECTION PAGE_SIZE

Prints one JSON object: whether the layer is valid, its feature count, CRS, extent, the `fid`
of every feature read (to check each comes exactly once), the features a rectangle request
returns, and the attribute names.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    url, collection, page_size = sys.argv[1], sys.argv[2], sys.argv[3]
    from qgis.core import QgsApplication, QgsFeatureRequest, QgsRectangle, QgsVectorLayer

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    layer = QgsVectorLayer(
        f"url='{url}' typename='{collection}' pageSize='{page_size}'", "x", "OAPIF"
    )
    report: dict[str, object] = {"valid": layer.isValid()}
    if layer.isValid():
        extent = layer.extent()
        ids = [f["fid"] for f in layer.getFeatures()]
        box = QgsFeatureRequest().setFilterRect(QgsRectangle(-10, 40, -9.5, 40.25))
        report.update(
            count=layer.featureCount(),
            crs=layer.crs().authid(),
            extent=[extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
            fields=[f.name() for f in layer.fields()],
            ids=ids,
            in_box=sorted(f["fid"] for f in layer.getFeatures(box)),
        )
    print(json.dumps(report))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

"""Write the QGIS Server project of bench/wcs_compare.py with PyQGIS (run by the system Python).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 bench/_qgs_project_wcs.py RASTER NAME OUT.qgs

One raster layer, named NAME, published in WCS (`WCSLayers`) and WMS, in the raster's CRS.
"""

from __future__ import annotations

import sys

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsProject,
    QgsRasterLayer,
)


def main() -> None:
    raster, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        project = QgsProject.instance()
        project.setTitle("WCS comparison (bench/wcs_compare.py)")
        layer = QgsRasterLayer(raster, name, "gdal")
        if not layer.isValid():
            raise SystemExit(f"invalid raster {raster}")
        layer.setShortName(name)
        project.setCrs(layer.crs())
        project.addMapLayer(layer)
        project.writeEntry("WCSLayers", "/", [layer.id()])
        project.writeEntry("WCSUrl", "/", "")
        project.writeEntry("WMSServiceCapabilities", "/", True)
        project.writeEntry("WMSCrsList", "/", [layer.crs().authid(), "EPSG:3857", "EPSG:4326"])
        if not project.write(out):
            raise SystemExit(f"could not write {out}")
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()

"""Write the QGIS Server project of bench/wfs_compare.py with PyQGIS (run by the system Python).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 bench/_qgs_project_wfs.py SPEC.json OUT.qgs

The project of bench/_qgs_project.py (same SPEC.json), with every layer also published in WFS:
`WFSLayers` (layer ids), `WFSLayersPrecision` (SPEC's "wfs_precision", default 8 decimals) and
no WFS-T.
"""

from __future__ import annotations

import json
import sys

from _qgs_project import build
from qgis.core import QgsApplication, QgsProject  # type: ignore[import-not-found]


def main() -> None:
    spec_path, out = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    app = QgsApplication([], False)
    app.initQgis()
    try:
        build(spec, out)
        project = QgsProject.instance()
        ids = list(project.mapLayers())
        project.writeEntry("WFSLayers", "/", ids)
        precision = int(spec.get("wfs_precision", 8))
        for layer_id in ids:
            project.writeEntry("WFSLayersPrecision", "/" + layer_id, precision)
        project.writeEntry("WFSUrl", "/", "")
        for op in ("WFSTLayers/Update", "WFSTLayers/Insert", "WFSTLayers/Delete"):
            project.writeEntry(op.split("/")[0], "/" + op.split("/")[1], [])
        if not project.write(out):
            raise SystemExit(f"could not write {out}")
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()

"""QGIS desktop's WFS provider against an ogcserve URL; run by Debian's /usr/bin/python3.

    qgis_wfs_client.py URL TYPENAME VERSION [insert X Y NAME]

Every request QGIS sends goes through a small recording proxy, so the report shows the exact
GET queries and POST bodies (e.g. the Transaction QGIS writes). Prints one JSON object: whether
the layer is valid, the provider's editing capabilities, featureCount, the features' geometries
as WKT, and after an optional edit session inserting a point, the commit result and the
geometries read back by a fresh layer.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _proxy(target: str) -> tuple[ThreadingHTTPServer, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _forward(self, body: bytes | None) -> None:
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "body": (body or b"").decode("utf-8", "replace"),
                }
            )
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("content-length", "connection")
            }
            request = urllib.request.Request(
                target + self.path, data=body, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    status, payload, answer_headers = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as error:
                status, payload, answer_headers = error.code, error.read(), error.headers
            self.send_response(status)
            for key, value in answer_headers.items():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._forward(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._forward(self.rfile.read(length))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _layer(url: str, typename: str, version: str, extra: str = ""):  # type: ignore[no-untyped-def]
    from qgis.core import QgsVectorLayer

    uri = (
        f"url='{url}/ows' typename='{typename}' version='{version}' "
        f"srsname='EPSG:4326' restrictToRequestBBOX='0'{extra}"
    )
    return QgsVectorLayer(uri, "x", "WFS")


def main() -> None:
    url, typename, version = sys.argv[1:4]
    insert = [float(v) for v in sys.argv[5:7]] if sys.argv[4:5] == ["insert"] else None
    name = sys.argv[7] if len(sys.argv) > 7 else "Paris"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import (
        QgsApplication,
        QgsFeature,
        QgsFeatureRequest,
        QgsGeometry,
        QgsPointXY,
        QgsRectangle,
        QgsVectorDataProvider,
    )

    app = QgsApplication([], False)
    app.initQgis()
    messages: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda message, tag, level: messages.append(f"{tag}: {message}")
    )
    proxy, seen = _proxy(url)
    base = f"http://127.0.0.1:{proxy.server_address[1]}"
    report: dict[str, object] = {"typename": typename, "version": version}
    layer = _layer(base, typename, version)
    report["valid"] = layer.isValid()
    if layer.isValid():
        caps = layer.dataProvider().capabilities()
        report["can_add"] = bool(caps & QgsVectorDataProvider.AddFeatures)
        report["can_change"] = bool(caps & QgsVectorDataProvider.ChangeGeometries)
        report["can_delete"] = bool(caps & QgsVectorDataProvider.DeleteFeatures)
        report["feature_count"] = layer.featureCount()
        report["wkt"] = [f.geometry().asWkt(6) for f in layer.getFeatures()]
        report["fields"] = [f.name() for f in layer.fields()]
        if insert is not None:
            layer.startEditing()
            feature = QgsFeature(layer.fields())
            for field in layer.fields():
                if field.name() == "name":
                    feature.setAttribute("name", name)
                elif field.name() == "role":
                    feature.setAttribute("role", "a")
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*insert)))
            report["added"] = layer.addFeature(feature)
            report["committed"] = layer.commitChanges()
            report["commit_errors"] = layer.commitErrors()
            # Then move the feature named "parcel 2" to the same point, 0.01 degree north
            # (QGIS posts an Update of the geometry, by feature id).
            layer.startEditing()
            moved = next(f for f in layer.getFeatures() if f["name"] == "parcel 2")
            target = QgsGeometry.fromPointXY(QgsPointXY(insert[0], insert[1] + 0.01))
            report["moved"] = layer.changeGeometry(moved.id(), target)
            report["moved_committed"] = layer.commitChanges()
            # Layers of one URI share a cache: another URI reads the server afresh.
            again = _layer(base, typename, version, " maxNumFeatures='100000'")
            report["wkt_after"] = [f.geometry().asWkt(6) for f in again.getFeatures()]
            # A spatial request around the point: QGIS sends it as BBOX in its srsname.
            boxed = _layer(base, typename, version, " restrictToRequestBBOX='1'")
            near = QgsRectangle(
                insert[0] - 0.05, insert[1] - 0.05, insert[0] + 0.05, insert[1] + 0.05
            )
            request = QgsFeatureRequest().setFilterRect(near)
            report["wkt_in_bbox"] = [f.geometry().asWkt(6) for f in boxed.getFeatures(request)]
    report["messages"] = messages
    report["requests"] = seen
    proxy.shutdown()
    print(json.dumps(report), flush=True)
    os._exit(0)  # QGIS 3.22 may crash while tearing down its providers


if __name__ == "__main__":
    main()

"""`qgis.PyQt` under the `qt` extra: the cookbook's watermark plugin, as printed (QImage,
QPainter, QBuffer from PyQt4), runs under a real `ogcserve serve`; PyQt5 objects a plugin hands
back cross the facade; without PyQt5 the import error names the extra."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ogcserve.cli import demo_project
from ogcserve.compat.qgis import QgsServerFilter, QgsServerInterface, shim
from ogcserve.compat.qgis.qt import available
from ogcserve.testing import call, make_server, serve_process

PLUGINS = Path(__file__).resolve().parent / "qt_plugins"
needs_qt = pytest.mark.skipif(not available(), reason="the qt extra (PyQt5) is not installed")

# Mid-Pacific, where the demo's countries draw nothing: the map is the background colour.
GETMAP = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES="
    "&CRS=EPSG:4326&BBOX=-10,-170,10,-150&WIDTH=100&HEIGHT=100&FORMAT=image/png"
    "&BGCOLOR=0x0000FF&TRANSPARENT=FALSE"
)


@pytest.fixture
def qt_shim() -> Iterator[None]:
    shim.uninstall()
    assert shim.install(with_qt=True)
    yield
    shim.uninstall()


@needs_qt
@pytest.mark.e2e
@pytest.mark.parametrize("imports", ["PyQt4", "qgis.PyQt"])
def test_cookbook_watermark_as_printed_stamps_getmap(tmp_path: Path, imports: str) -> None:
    # As printed (QGIS 2 cookbook) the plugin imports PyQt4; QGIS 3's edition imports qgis.PyQt.
    folder = shutil.copytree(PLUGINS / "CookbookWatermark", tmp_path / "CookbookWatermark")
    code = folder / "WatermarkFilter.py"
    code.write_text(code.read_text().replace("from PyQt4.", f"from {imports}."))
    # Headless: no display, and no QT_QPA_PLATFORM either (QImage and QPainter need neither).
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    with serve_process(demo_project(), "--plugins", tmp_path, workers=1, env=env) as url:
        plugins = httpx.get(f"{url}/-/plugins").json()["plugins"]
        response = httpx.get(url + GETMAP)
        error = httpx.get(url + GETMAP.replace("LAYERS=countries", "LAYERS=nowhere"))
    [record] = [p for p in plugins if p["name"] == "CookbookWatermark"]
    assert record["status"] == "loaded", record["error"]
    assert record["filters"][0]["class"] == "WatermarkFilter" and record["warnings"] == []
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert image.size == (100, 100)
    inside = {image.getpixel((x, y)) for x in range(20, 60) for y in range(20, 60)}
    assert inside == {(200, 0, 0)}  # the watermark, drawn into QRect(20, 20, 40, 40)
    outside = {
        image.getpixel((x, y))
        for x in range(100)
        for y in range(100)
        if not (20 <= x < 60 and 20 <= y < 60)
    }
    assert outside == {(0, 0, 255)}  # the map itself (BGCOLOR), untouched
    # An error document is left alone (exceptionRaised() is True).
    assert error.status_code == 400 and b"LayerNotDefined" in error.content


def test_without_pyqt5_the_import_error_names_the_extra() -> None:
    # PyQt5 hidden: `import PyQt5` fails and find_spec says it is not there.
    script = (
        "import sys, json\nsys.modules['PyQt5'] = None\n"
        "from ogcserve.cli import main\n"
        f"sys.exit(main(['plugins', '--plugins', {str(PLUGINS)!r}, '--json']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    [record] = [p for p in json.loads(result.stdout)["plugins"] if p["name"] == "CookbookWatermark"]
    assert record["status"] == "failed"
    last = record["error"].strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: No module named 'PyQt4': Qt is not installed for "
        "ogcserve's plugins (only QByteArray, QRegularExpression and QUrl are built "
        "in); pip install 'ogcserve[qt]'"
    )


def test_without_pyqt5_qtcore_is_the_subset_and_says_so() -> None:
    shim.uninstall()
    assert shim.install(with_qt=False)
    try:
        with pytest.raises(ImportError, match=r"QImage.*pip install 'ogcserve\[qt\]'"):
            exec("from qgis.PyQt.QtCore import QImage", {})
        with pytest.raises(ImportError, match=r"qgis.PyQt.QtGui.*pip install 'ogcserve\[qt\]'"):
            exec("from qgis.PyQt.QtGui import QImage", {})
        namespace: dict[str, Any] = {}
        exec("from qgis.PyQt.QtCore import QByteArray", namespace)
        assert namespace["QByteArray"].__module__ == "ogcserve.compat.qgis.qtcore"
    finally:
        shim.uninstall()


@needs_qt
def test_qgis_pyqt_is_pyqt5_and_the_shim_leaves_no_trace(qt_shim: None) -> None:
    import PyQt5.QtCore
    import PyQt5.QtGui
    import PyQt5.QtWidgets

    namespace: dict[str, Any] = {}
    exec(
        "from qgis.PyQt.QtCore import QByteArray, QBuffer, QIODevice, QRect\n"
        "from qgis.PyQt.QtGui import QImage, QPainter\n"
        "from qgis.PyQt.QtWidgets import QWidget\n"
        "from PyQt4.QtGui import QImage as QImage4, QWidget as QWidget4\n",
        namespace,
    )
    assert namespace["QByteArray"] is PyQt5.QtCore.QByteArray
    assert namespace["QImage"] is namespace["QImage4"] is PyQt5.QtGui.QImage
    assert namespace["QWidget4"] is PyQt5.QtWidgets.QWidget  # PyQt4's QtGui had the widgets
    assert sys.modules["qgis.PyQt.QtGui"] is PyQt5.QtGui
    assert PyQt5.QtGui.__name__ == "PyQt5.QtGui"  # registered under the alias, unchanged
    shim.uninstall()
    left = [m for m in sys.modules if m == "qgis" or m.startswith(("qgis.", "PyQt4"))]
    assert left == [] and sys.modules["PyQt5.QtGui"] is PyQt5.QtGui


def _server_with(setup: Callable[[QgsServerInterface], object]) -> Any:
    return make_server(
        plugins=[lambda iface: setup(QgsServerInterface(iface.server, iface.plugin))]
    )


@needs_qt
def test_pyqt5_objects_cross_the_facade(qt_shim: None) -> None:
    from PyQt5.QtCore import QByteArray

    seen: dict[str, Any] = {}

    class Replace(QgsServerFilter):
        def responseComplete(self) -> None:
            request = self.serverInterface().requestHandler()
            assert request is not None
            seen["body"] = request.body()
            if request.parameter("SERVICE") == "QT":
                request.clearBody()
                request.appendBody(QByteArray(b"from ") + QByteArray(b"PyQt5"))

    server = _server_with(lambda iface: iface.registerFilter(Replace(iface), 10))
    result = call(server, "/ows?SERVICE=QT")
    assert result.body == b"from PyQt5"
    # What the facade hands out is the plugin's Qt: one QByteArray type either way.
    assert isinstance(seen["body"], QByteArray)


@needs_qt
def test_a_pyqt5_regular_expression_routes_an_ogc_api_handler(qt_shim: None) -> None:
    from PyQt5.QtCore import QRegularExpression

    from ogcserve.compat.qgis import QgsServerOgcApi, QgsServerOgcApiHandler

    class Item(QgsServerOgcApiHandler):
        def path(self) -> QRegularExpression:  # type: ignore[override]
            return QRegularExpression(r"^/items/(?<itemId>\d+)$")

        def operationId(self) -> str:
            return "item"

        def handleRequest(self, context: Any) -> None:
            self.write({"id": self.values(context)["itemId"]}, context)

    def setup(iface: QgsServerInterface) -> None:
        api = QgsServerOgcApi(iface, "/qtapi", "Qt API", "", "1.0")
        api.registerHandler(Item())
        iface.serviceRegistry().registerApi(api)

    server = _server_with(setup)
    result = call(server, "/qtapi/items/42")
    assert result.status == 200 and json.loads(result.body) == {"id": "42"}


@needs_qt
def test_cached_bodies_are_handed_to_a_cache_plugin_as_pyqt5_byte_arrays(qt_shim: None) -> None:
    from PyQt5.QtCore import QByteArray

    from ogcserve.compat.qgis import QgsServerCacheFilter

    stored: list[Any] = []

    class Keep(QgsServerCacheFilter):
        def setCachedDocument(self, doc: Any, project: Any, request: Any, key: str) -> bool:
            stored.append(doc)
            return True

        def getCachedDocument(self, project: Any, request: Any, key: str) -> Any:
            return stored[-1] if stored else QByteArray()

    server = _server_with(lambda iface: iface.registerServerCache(Keep(iface), 10))
    first = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert first.status == 200 and stored and isinstance(stored[0], QByteArray)
    second = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert second.body == first.body and bytes(stored[0]) == first.body

"""The `qgis` import shim: `from qgis.server import *`, `from qgis.core import QgsMessageLog`,
`from qgis.PyQt.QtCore import QByteArray` give the facade's classes, and `qgis.PyQt.QtGui`
and the rest of Qt are real PyQt5 when the `qt` extra is installed (qt.py).

Installed by the loader's factory for folder plugins (`folder_interface`), and only when the
real QGIS bindings cannot be imported: with PyQGIS installed, plugins get the real thing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from ogcserve.compat.qgis import (
    access,
    cache,
    core,
    exceptions,
    filters,
    handler,
    interface,
    qt,
    qtcore,
    services,
)
from ogcserve.compat.qgis.interface import QgsServerInterface

if TYPE_CHECKING:
    from ogcserve.server import Server

MODULES = ("qgis", "qgis.server", "qgis.core", "qgis.PyQt", "qgis.PyQt.QtCore")
_STAND_IN = qt.STAND_IN

SERVER_NAMES = (
    "QgsAccessControl",
    "QgsAccessControlFilter",
    "QgsMapServiceException",
    "QgsOgcServiceException",
    "QgsRequestHandler",
    "QgsServerApi",
    "QgsServerApiBadRequestException",
    "QgsServerApiContext",
    "QgsServerApiInternalServerError",
    "QgsServerApiNotFoundError",
    "QgsServerApiPermissionDeniedException",
    "QgsServerCacheFilter",
    "QgsServerCacheManager",
    "QgsServerException",
    "QgsServerFilter",
    "QgsServerInterface",
    "QgsServerOgcApi",
    "QgsServerOgcApiHandler",
    "QgsServerQueryStringParameter",
    "QgsServerRequest",
    "QgsServerResponse",
    "QgsService",
    "QgsServiceRegistry",
)
"""What `from qgis.server import *` gives under the import shim."""


def folder_interface(server: Server, plugin: str) -> QgsServerInterface:
    """The loader's factory for folder plugins: installs the `qgis` import shim first."""
    install()
    return QgsServerInterface(server, plugin)


def install(with_qt: bool | None = None) -> bool:
    """Put the shim modules in `sys.modules`; False if `qgis` is importable already.

    `with_qt` says whether `qgis.PyQt` is PyQt5 (default: when PyQt5 can be imported).
    """
    if "qgis" in sys.modules or importlib.util.find_spec("qgis") is not None:
        return False
    with_qt = qt.available() if with_qt is None else with_qt
    contents = {
        "qgis": [],
        "qgis.server": list(SERVER_NAMES),
        "qgis.core": list(core.__all__),
        "qgis.PyQt": [],
        "qgis.PyQt.QtCore": list(qtcore.__all__),
    }
    sources = {
        "qgis.server": _server_classes(),
        "qgis.core": vars(core),
        "qgis.PyQt.QtCore": vars(qtcore),
    }
    # With Qt, `qgis.PyQt.QtCore` is left to the finder, which gives PyQt5's.
    for name in MODULES[:-1] if with_qt else MODULES:
        module = ModuleType(name, f"{_STAND_IN} for {name} (ogcserve.compat.qgis)")
        module.__path__ = []  # a package, so that submodules import
        vars(module)["__all__"] = contents[name]
        for attribute in contents[name]:
            setattr(module, attribute, sources[name][attribute])
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    if not with_qt:
        vars(sys.modules["qgis.PyQt.QtCore"])["__getattr__"] = qt.missing_name("qgis.PyQt.QtCore")
    # Before the path finders, but for PyQt4 only where no real PyQt4 exists.
    pyqt4 = "PyQt4" not in sys.modules and importlib.util.find_spec("PyQt4") is None
    sys.meta_path.insert(0, qt.QtFinder(with_qt, pyqt4))
    if with_qt:
        # Now rather than at a plugin's first Qt import: the facade's bodies and URLs are made
        # with whatever `qgis.PyQt.QtCore` is (qtcore.byte_array), from the first request on.
        importlib.import_module("qgis.PyQt.QtCore")
    return True


def uninstall() -> None:
    """Remove the shim modules, the Qt finder and the Qt modules it aliased (tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, qt.QtFinder)]
    for name, module in list(sys.modules.items()):
        if not (name in MODULES or name == "PyQt4" or name.startswith(("qgis.PyQt.", "PyQt4."))):
            continue
        # Ours: a stand-in, or a PyQt5 module registered under another name.
        if module.__name__ != name or (module.__doc__ or "").startswith(_STAND_IN):
            del sys.modules[name]


def _server_classes() -> dict[str, object]:
    """`SERVER_NAMES` -> the facade's classes, from the modules that define them."""
    modules = (access, cache, exceptions, filters, handler, interface, services)
    return {n: next(vars(m)[n] for m in modules if n in vars(m)) for n in SERVER_NAMES}

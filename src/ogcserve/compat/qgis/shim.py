"""The `qgis` import shim: `from qgis.server import *`, `from qgis.core import QgsMessageLog`,
`from qgis.PyQt.QtCore import QByteArray` give the facade's classes.

Installed by the loader's factory for folder plugins (`interface.folder_interface`), and only
when the real QGIS bindings cannot be imported: with PyQGIS installed, plugins get the real thing.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

MODULES = ("qgis", "qgis.server", "qgis.core", "qgis.PyQt", "qgis.PyQt.QtCore")


def install() -> bool:
    """Put the shim modules in `sys.modules`; False if `qgis` is importable already."""
    if "qgis" in sys.modules or importlib.util.find_spec("qgis") is not None:
        return False
    from ogcserve.compat import qgis as facade
    from ogcserve.compat.qgis import core, qtcore

    contents = {
        "qgis": [],
        "qgis.server": list(facade.SERVER_NAMES),
        "qgis.core": list(core.__all__),
        "qgis.PyQt": [],
        "qgis.PyQt.QtCore": list(qtcore.__all__),
    }
    sources = {"qgis.server": facade, "qgis.core": core, "qgis.PyQt.QtCore": qtcore}
    for name in MODULES:
        module = ModuleType(name, f"ogcserve's stand-in for {name} (ogcserve.compat.qgis)")
        module.__path__ = []  # a package, so that submodules import
        vars(module)["__all__"] = contents[name]
        for attribute in contents[name]:
            setattr(module, attribute, getattr(sources[name], attribute))
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    return True


def uninstall() -> None:
    """Remove the shim modules (tests)."""
    for name in MODULES:
        module = sys.modules.get(name)
        if module is not None and (module.__doc__ or "").startswith("ogcserve's stand-in"):
            del sys.modules[name]

"""Qt for plugins: `qgis.PyQt.*` is real PyQt5 under the `qt` extra (`pip install
'ogcserve[qt]'`), so plugins that draw with QImage and QPainter run unmodified.

The import shim (shim.py) puts a `QtFinder` on `sys.meta_path`. With PyQt5 installed it maps
every `qgis.PyQt.<module>` onto `PyQt5.<module>` (the module objects themselves, so a
`QByteArray` from `qgis.PyQt.QtCore` is PyQt5's), and the QGIS 2 cookbook's `PyQt4.QtCore` /
`PyQt4.QtGui` too (PyQt4's QtGui also held the widgets, so `PyQt4.QtGui` is PyQt5's QtGui and
QtWidgets together). Without PyQt5, `qgis.PyQt.QtCore` is the facade's subset (qtcore.py)
and importing any other Qt module, or a Qt class the subset lacks, raises an ImportError that
names the extra.

`body_bytes` and `named_captures` let the facade take the PyQt5 objects such plugins hand
back (a QByteArray body, a QRegularExpression path).

Nothing here creates a QApplication: QImage and QPainter need none (no display either). A
plugin that draws text needs a QGuiApplication, which it creates itself (headless:
QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

EXTRA = "pip install 'ogcserve[qt]'"
"""What a plugin's author is told to run when Qt is missing."""

STAND_IN = "ogcserve's stand-in"
"""How the docstring of every module the shim makes starts (so uninstall finds them)."""


def available() -> bool:
    """Whether PyQt5 can be imported (the `qt` extra is installed)."""
    return importlib.util.find_spec("PyQt5") is not None


class QtFinder(importlib.abc.MetaPathFinder):
    """Resolves `qgis.PyQt.<module>` (and `PyQt4.<module>`, unless a real PyQt4 exists)."""

    def __init__(self, qt: bool, pyqt4: bool) -> None:
        self.qt = qt
        self.pyqt4 = pyqt4

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        ours = fullname.startswith("qgis.PyQt.") or (
            self.pyqt4 and (fullname == "PyQt4" or fullname.startswith("PyQt4."))
        )
        if not ours:
            return None
        if not self.qt:
            raise ModuleNotFoundError(
                f"No module named '{fullname}': Qt is not installed for ogcserve's plugins "
                f"(only QByteArray, QRegularExpression and QUrl are built in); {EXTRA}",
                name=fullname,
            )
        return importlib.util.spec_from_loader(fullname, _Alias())


def missing_name(module: str) -> Callable[[str], object]:
    """A module `__getattr__` for the facade's QtCore: a Qt class it lacks names the extra."""

    def attribute(name: str) -> object:
        if name.startswith(("Q", "pyqt")):
            # An ImportError rather than AttributeError: `from qgis.PyQt.QtCore import QBuffer`
            # then shows this message instead of a bare "cannot import name".
            raise ImportError(
                f"cannot import name '{name}' from '{module}': ogcserve's built-in QtCore has "
                f"only QByteArray, QRegularExpression and QUrl; for the rest of Qt, {EXTRA}",
                name=module,
            )
        raise AttributeError(f"module '{module}' has no attribute '{name}'")

    return attribute


def body_bytes(data: Any) -> Any:
    """A body a plugin hands over: a Qt QByteArray (the facade's, PyQt5's) as bytes; text,
    bytes and anything else unchanged (the response judges what it cannot write)."""
    if isinstance(data, str | bytes | bytearray):
        return data
    try:
        return bytes(memoryview(data))  # PyQt5's QByteArray exposes its bytes as a buffer
    except TypeError:
        return data


def named_captures(regex: Any, found: Any) -> dict[str, str]:
    """The named groups of a match: the facade's `named()`, or Qt's (PyQt5 plugins' own
    QRegularExpression) from the pattern's group names."""
    named = getattr(found, "named", None)
    if callable(named):
        return dict(named())
    return {name: found.captured(name) for name in regex.namedCaptureGroups() if name}


class _Alias(importlib.abc.Loader):
    """Loads `qgis.PyQt.X` as `PyQt5.X`, `PyQt4` as an empty package and `PyQt4.X` as PyQt5's."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The import system keeps the attributes a module already has (__name__, __spec__),
        # so PyQt5's modules are registered under the alias without being changed.
        if spec.name.startswith("qgis.PyQt."):
            return importlib.import_module("PyQt5." + spec.name.removeprefix("qgis.PyQt."))
        return _package(spec.name) if spec.name == "PyQt4" else _pyqt4(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module is complete."""


def _package(name: str) -> ModuleType:
    module = ModuleType(name, f"{STAND_IN} for {name}: PyQt5 (ogcserve.compat.qgis.qt)")
    module.__path__ = []
    return module


def _pyqt4(fullname: str) -> ModuleType:
    name = fullname.removeprefix("PyQt4.")
    if name != "QtGui":
        return importlib.import_module(f"PyQt5.{name}")
    merged = ModuleType(fullname, f"{STAND_IN} for {fullname}: PyQt5's QtGui and QtWidgets")
    for part in ("QtGui", "QtWidgets"):
        source = importlib.import_module(f"PyQt5.{part}")
        vars(merged).update({k: v for k, v in vars(source).items() if not k.startswith("__")})
    return merged

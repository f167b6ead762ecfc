"""docs/qgis-compat.md is generated from the facade; every facade method is documented and is
a one-line delegation (aesthetics §3.5: logic that needs more lives in the core)."""

from __future__ import annotations

import ast
import inspect
import runpy
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "qgis_compat_doc.py"))


def test_compat_doc_is_up_to_date() -> None:
    expected = SCRIPT["render"]()
    assert (ROOT / "docs" / "qgis-compat.md").read_text(encoding="utf-8") == expected, (
        "run: python scripts/qgis_compat_doc.py"
    )


def _methods() -> list[tuple[str, str, Any]]:
    found = []
    for cls in SCRIPT["_facade_classes"]():
        for name, _ in SCRIPT["facade_methods"](cls):
            owner = next(k for k in cls.__mro__ if name in vars(k))
            function = inspect.unwrap(getattr(owner, name))
            found.append((cls.__name__, name, function))
    return found


@pytest.mark.parametrize(
    ("cls", "name", "function"), _methods(), ids=[f"{c}.{n}" for c, n, _ in _methods()]
)
def test_facade_method_is_documented_and_one_line(cls: str, name: str, function: Any) -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), (
        f"{cls}.{name} has no docstring"
    )
    assert len(body) <= 2, f"{cls}.{name} is more than a one-line delegation"


def test_the_doc_lists_the_main_classes_and_differences() -> None:
    text = (ROOT / "docs" / "qgis-compat.md").read_text(encoding="utf-8")
    for heading in (
        "### QgsServerInterface",
        "### QgsServerFilter",
        "### QgsRequestHandler",
        "### QgsAccessControlFilter",
        "### QgsService",
        "## Differences from QGIS",
    ):
        assert heading in text
    assert "| `registerFilter()` |" in text and "| `onSendResponse()` |" in text

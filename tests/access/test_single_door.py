"""No module outside the access layer opens a source or calls a backend (DESIGN §4)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ogcserve"
# Modules of ogcserve.sources that anyone may import: protocols, value types, specs, limits.
PUBLIC = {"ogcserve.sources.base", "ogcserve.sources.specs", "ogcserve.sources.limits"}
BACKEND_CLASSES = {"GeoPackageSource", "PostGISSource", "OGRSource", "RasterSource", "open_source"}


def _violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        if rel.parts[0] in ("access", "sources"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                names = {a.name for a in node.names}
                if module.startswith("ogcserve.sources") and module not in PUBLIC:
                    found.append(f"{rel}:{node.lineno} imports {module}")
                if module in PUBLIC and names & BACKEND_CLASSES:
                    found.append(f"{rel}:{node.lineno} imports {names & BACKEND_CLASSES}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("ogcserve.sources") and alias.name not in PUBLIC:
                        found.append(f"{rel}:{node.lineno} imports {alias.name}")
            elif isinstance(node, ast.Name) and node.id in BACKEND_CLASSES:
                found.append(f"{rel}:{node.lineno} uses {node.id}")
    return found


def test_only_the_access_layer_opens_sources() -> None:
    assert _violations() == []


def test_the_check_would_catch_a_violation(tmp_path: Path) -> None:
    """The same check over a copy of the package with one rogue module (src/ is never written)."""
    copy = tmp_path / "ogcserve"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.gpkg", "*.tif"))
    (copy / "services" / "_rogue_for_test.py").write_text(
        "from ogcserve.sources import open_source\n"
    )
    assert _violations(copy) == ["services/_rogue_for_test.py:1 imports ogcserve.sources"]

"""No module outside the access layer opens a source or calls a backend (DESIGN §4)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ogcserve"
# Modules of ogcserve.sources that anyone may import: protocols, value types, specs, limits.
PUBLIC = {"ogcserve.sources.base", "ogcserve.sources.specs", "ogcserve.sources.limits"}
BACKEND_CLASSES = {"GeoPackageSource", "PostGISSource", "OGRSource", "RasterSource", "open_source"}


def _violations() -> list[str]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
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


def test_the_check_would_catch_a_violation(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rogue = PACKAGE / "services" / "_rogue_for_test.py"
    rogue.write_text("from ogcserve.sources import open_source\n")
    try:
        assert any("_rogue_for_test" in v for v in _violations())
    finally:
        rogue.unlink()

"""What the viewer schema cannot see: that the modules named exist and export the custom
formatters, and that each search panel names a vector layer of the project."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ogcserve.projects.document import Document, Loc, ProjectIssue
from ogcserve.projects.model import LayerConfig
from ogcserve.projects.viewer import ViewerConfig
from ogcserve.sources.specs import RasterSpec

# `export function f`, `export async function f`, `export const f = ...`, `export { f, g as h }`.
_EXPORT = re.compile(
    r"\bexport\s+(?:async\s+)?(?:function\s*\*?|const|let|var)\s+([A-Za-z_$][\w$]*)"
)
_EXPORT_LIST = re.compile(r"\bexport\s*\{([^}]*)\}")


def viewer_issues(
    viewer: ViewerConfig,
    layers: Sequence[tuple[LayerConfig, Loc]],
    doc: Document,
    base_dir: Path,
) -> list[ProjectIssue]:
    """Missing modules, custom formatters no module exports, searches on unknown layers."""
    issues: list[ProjectIssue] = []
    exported: set[str] | None = set()  # None: a module is served by a route, not checked
    for i, module in enumerate(viewer.modules):
        if module.startswith("/"):
            exported = None
            continue
        target = base_dir / module
        if not target.is_file():
            issues.append(doc.issue(("viewer", "modules", i), f"viewer module not found: {target}"))
        elif exported is not None:
            exported |= exports(target.read_text(encoding="utf-8", errors="replace"))
    if exported is not None:
        issues += _custom_issues(layers, exported, doc)
    issues += _search_issues(viewer, layers, doc)
    return issues


def exports(text: str) -> set[str]:
    """The names an ES module exports (as far as a reader of its text can tell)."""
    names = set(_EXPORT.findall(text))
    for group in _EXPORT_LIST.findall(text):
        for item in group.split(","):
            words = item.split()
            if words:
                names.add(words[-1])
    return names


def _custom_issues(
    layers: Sequence[tuple[LayerConfig, Loc]], exported: set[str], doc: Document
) -> Iterator[ProjectIssue]:
    for layer, loc in layers:
        for field, formatters in layer.formatters.items():
            for j, formatter in enumerate(formatters):
                name = formatter.function
                if formatter.type == "custom" and name is not None and name not in exported:
                    where = (*loc, "formatters", field, j, "function")
                    yield doc.issue(where, f"no viewer module exports the formatter '{name}'")


def _search_issues(
    viewer: ViewerConfig, layers: Sequence[tuple[LayerConfig, Loc]], doc: Document
) -> Iterator[ProjectIssue]:
    by_name = {layer.name: layer for layer, _ in layers}
    for i, panel in enumerate(viewer.searches):
        layer = by_name.get(panel.layer)
        if layer is None or layer.source is None or isinstance(layer.source, RasterSpec):
            message = f"search '{panel.title}': '{panel.layer}' is not a vector layer here"
            yield doc.issue(("viewer", "searches", i, "layer"), message)

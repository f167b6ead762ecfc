"""What the viewer schema cannot see: that the modules named exist and export the custom
formatters, that each search panel names a vector layer of the project, and (once the sources
are open, stage 4) that formatters, search fields and columns name fields of the source."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ogcserve.projects.checks import LayerCheck
from ogcserve.projects.config import LayerConfig
from ogcserve.projects.document import Document, Loc, ProjectIssue
from ogcserve.projects.schema import suggestion
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


def viewer_field_issues(
    viewer: ViewerConfig, checks: Sequence[LayerCheck], doc: Document
) -> list[ProjectIssue]:
    """Formatters, search fields and columns that name no field of their layer's source."""
    fields = {c.config.name: c.schema.field_names() for c in checks if c.schema is not None}
    issues = []
    for check in checks:
        layer_fields = fields.get(check.config.name)
        if layer_fields is None:
            continue
        for name in check.config.formatters:
            if name not in layer_fields:
                message = _unknown(name, layer_fields)
                issues.append(doc.issue((*check.loc, "formatters", name), message))
    for i, panel in enumerate(viewer.searches):
        known = fields.get(panel.layer)
        if known is None:
            continue
        loc = ("viewer", "searches", i)
        named: list[tuple[Loc, str]] = [
            (("fields", j, "name"), f.name) for j, f in enumerate(panel.fields)
        ]
        named += [(("columns", j), c) for j, c in enumerate(panel.columns)]
        issues += [doc.issue((*loc, *at), _unknown(n, known)) for at, n in named if n not in known]
    return issues


def _unknown(name: str, fields: list[str]) -> str:
    return f"unknown field '{name}'{suggestion(name, fields)}"

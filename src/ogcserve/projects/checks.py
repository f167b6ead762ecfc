"""What the project schema cannot see: references, styles, and field names against the sources.

`layer_issues` (every load) checks unique layer names, CRSs, that filters parse, that files
exist and that each `style:` block is a valid style (the style model of
`ogcserve.rendering.styles`: an unknown key there is an error like anywhere else).
`source_issues` (when the caller can open sources) opens each layer's source and checks every
field name the layer uses against the source's schema: the layer `filter`, `fields`
include/exclude, `key`, and what the style reads (categorized/graduated fields, rule filters,
label fields and templates, marker rotation fields), and the style against the geometry type.
The source's key column counts as a field: it is published like any other attribute.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyproj
from pydantic import ValidationError

from ogcserve.coverages import CoverageInfo
from ogcserve.errors import FilterError
from ogcserve.expressions import Expression, parse
from ogcserve.features import FieldType, Schema
from ogcserve.projects.config import LayerConfig
from ogcserve.projects.document import Document, Loc, ProjectIssue
from ogcserve.projects.schema import schema_issues, suggestion
from ogcserve.rendering.styles import Marker, Style, Symbol, template_fields, validate_style
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, RasterSpec, SourceSpec

OpenSource = Callable[[SourceSpec, Path, str | None], object]
"""Opens a source spec (relative paths resolved against the given folder, keyed on the given
field or, with None, the source's primary key) and returns its
`Schema` (vector) or `CoverageInfo` (raster); raises on failure. Field names are checked only
against what it returns."""

_WMS_CRS_ALIASES = {"CRS:84": "OGC:CRS84", "CRS:83": "OGC:CRS83", "CRS:27": "OGC:CRS27"}
_DATA_OPTIONS = ("key", "filter", "fields")
_LISTED_FIELDS = 12
_TIME_TYPES = (FieldType.DATE, FieldType.DATETIME)


@dataclass(slots=True)
class LayerCheck:
    """One data layer as far as the checks got: its parsed filter and style, if valid."""

    config: LayerConfig
    loc: Loc
    filter: Expression | None = None
    style: Style | None = None
    style_complete: bool = True  # False: `style` is the valid part of a block with errors
    openable: bool = True  # False: why not is reported already (file missing, unset ${VAR})
    schema: Schema | None = None  # the source's, once opened (stage 4) and a vector


def layer_issues(
    layers: Sequence[tuple[LayerConfig, Loc]],
    crs: Sequence[tuple[Loc, str]],
    doc: Document,
    base_dir: Path,
    unresolved: set[Loc],
) -> tuple[list[ProjectIssue], list[LayerCheck]]:
    """Stage 3 issues, and the data layers with what was parsed of them for `source_issues`.

    Values holding an unset `${VAR}` (in `unresolved`) were reported already and are not
    checked again.
    """
    issues: list[ProjectIssue] = []
    first_use: dict[str, int | None] = {}
    for layer, loc in layers:
        name_loc = (*loc, "name")
        if layer.name in first_use:
            where = first_use[layer.name]
            first = f" (first used at line {where})" if where is not None else ""
            issues.append(doc.issue(name_loc, f"duplicate layer name '{layer.name}'{first}"))
        else:
            first_use[layer.name] = doc.locate(name_loc)[0]

    for loc, text in crs:
        if loc in unresolved:
            continue
        try:
            # WMS 1.3 spells OGC's CRS84 "CRS:84", which PROJ only knows as "OGC:CRS84".
            pyproj.CRS.from_user_input(_WMS_CRS_ALIASES.get(text.upper(), text))
        except pyproj.exceptions.CRSError as exc:
            issues.append(doc.issue(loc, f"unknown CRS '{text}': {exc}"))

    checks = []
    for layer, loc in layers:
        if layer.source is None:
            continue
        check = LayerCheck(layer, loc)
        checks.append(check)
        filter_loc = (*loc, "filter")
        if layer.filter is not None and filter_loc not in unresolved:
            try:
                check.filter = parse_rule(layer.filter)
            except FilterError as exc:
                issues.append(doc.issue(filter_loc, f"the filter does not parse: {exc}"))
        if layer.style:
            try:
                check.style = Style.model_validate(layer.style)
            except ValidationError as exc:
                issues += schema_issues(exc, doc, Style, (*loc, "style"))
                check.style, check.style_complete = _valid_part(layer.style, exc), False
        path_loc = (*loc, "source", "path")
        if any(part[: len(loc) + 1] == (*loc, "source") for part in unresolved):
            check.openable = False
        elif isinstance(layer.source, GeoPackageSpec | OGRSpec | RasterSpec):
            # Only the project author names files; the server never opens a path from a request.
            target = base_dir / layer.source.path
            if not target.exists():
                issues.append(doc.issue(path_loc, f"file not found: {target}"))
                check.openable = False
    return issues, checks


def source_issues(
    checks: Sequence[LayerCheck], opener: OpenSource, base_dir: Path, doc: Document
) -> list[ProjectIssue]:
    """Stage 4: each source opens, and the layer's field names are the source's."""
    issues: list[ProjectIssue] = []
    for check in checks:
        if not check.openable or check.config.source is None:
            continue
        try:
            opened = _open(opener, check, base_dir)
        except Exception as exc:  # any failure of a source is a finding, not a crash of the check
            detail = str(exc) or type(exc).__name__
            issues.append(doc.issue((*check.loc, "source"), f"the source does not open: {detail}"))
            continue
        if isinstance(opened, Schema):
            check.schema = opened
            issues += _vector_issues(check, opened, doc)
        elif isinstance(opened, CoverageInfo):
            issues += _raster_issues(check, doc)
    return issues


def _open(opener: OpenSource, check: LayerCheck, base_dir: Path) -> object:
    """Open the source as the server will, with the layer's `key`; when only the key is wrong,
    open it without one so that the key is reported as an unknown field, at its own line."""
    source, key = check.config.source, check.config.key
    assert source is not None
    try:
        return opener(source, base_dir, key)
    except Exception:
        if key is None:
            raise
        return opener(source, base_dir, None)


def parse_rule(text: str) -> Expression:
    """A layer filter as the access layer reads it: CQL2 text, else the QGIS subset.

    Raises the CQL2 parser's `FilterError` when neither parses.
    """
    try:
        return parse(text, "cql2-text")
    except FilterError as cql2_error:
        try:
            return parse(text, "qgis")
        except FilterError:
            raise cql2_error from None


def _vector_issues(check: LayerCheck, schema: Schema, doc: Document) -> Iterator[ProjectIssue]:
    yield from _data_option_issues(check, schema, doc)
    if check.style is None:
        return
    yield from _style_field_issues(check, check.style, schema.field_names(), doc)
    if not check.style_complete:
        return
    try:
        validate_style(check.config.style, schema.geometry_type)
    except ValueError as exc:
        yield doc.issue((*check.loc, "style"), str(exc))


def _unknown(name: str, fields: list[str], what: str = "field") -> str:
    hint = suggestion(name, fields)
    if not hint:
        listed = ", ".join(fields[:_LISTED_FIELDS]) + (", ..." if len(fields) > 12 else "")
        hint = f" (the source has: {listed or 'no attributes'})"
    return f"unknown {what} '{name}'{hint}"


def _data_option_issues(check: LayerCheck, schema: Schema, doc: Document) -> Iterator[ProjectIssue]:
    """Unknown field names in the layer's `key`, `fields` include/exclude, `aliases` and
    `filter`."""
    layer, loc = check.config, check.loc
    # The key column is an attribute like any other (QGIS publishes a GeoPackage's fid too).
    fields = schema.field_names()
    if layer.key is not None and layer.key not in fields:
        yield doc.issue((*loc, "key"), _unknown(layer.key, fields))
    if layer.fields is not None:
        for part in ("include", "exclude", "exclude_wms", "exclude_wfs"):
            for i, name in enumerate(getattr(layer.fields, part) or ()):
                if name not in fields:
                    yield doc.issue((*loc, "fields", part, i), _unknown(name, fields))
    for name in layer.aliases:
        if name not in fields:
            yield doc.issue((*loc, "aliases"), _unknown(name, fields))
    yield from _time_issues(check, schema, doc)
    if check.filter is not None:
        # Spatial predicates name the geometry column, which is not an attribute.
        known = {*fields, "$id", *([schema.geometry_field] if schema.geometry_field else [])}
        for name in sorted(check.filter.properties() - known):
            yield doc.issue((*loc, "filter"), _unknown(name, fields, "field in the filter"))


def _style_field_issues(
    check: LayerCheck, style: Style, fields: list[str], doc: Document
) -> Iterator[ProjectIssue]:
    """Field names the style reads that the source lacks or that `fields` does not publish."""
    layer, loc = check.config, check.loc
    published = {name for name in fields if _publishes(layer, name)}
    for style_loc, name in _style_fields(style):
        if name == "$id":
            continue
        if name not in fields:
            yield doc.issue((*loc, "style", *style_loc), _unknown(name, fields))
        elif name not in published:
            message = f"the style reads '{name}', which 'fields' does not publish"
            yield doc.issue((*loc, "style", *style_loc), message)


def _time_issues(check: LayerCheck, schema: Schema, doc: Document) -> Iterator[ProjectIssue]:
    """`wfs.time` (OGC API Features' datetime) names a date or timestamp attribute."""
    time = check.config.wfs.time
    kinds = {f.name: f.type for f in schema.fields}
    loc = (*check.loc, "wfs", "time")
    if time is not None and time not in kinds:
        yield doc.issue(loc, _unknown(time, schema.field_names()))
    elif time is not None and kinds[time] not in _TIME_TYPES:
        yield doc.issue(loc, f"the time field '{time}' is not a date or timestamp")


def _valid_part(style: Mapping[str, Any], error: ValidationError) -> Style | None:
    """The style without the entries errors were found in, if the rest is valid: its field
    names are still checked, so that one wrong value hides no other mistake of the block.

    Each round drops, for each error, the innermost mapping entry its location reaches (a
    rule's `marker:`, not every rule), keeping list items so that locations stay right; an
    entry whose removal leaves its parent invalid makes the next round drop the parent.
    """
    part: Any = copy.deepcopy(dict(style))
    while True:
        paths = {_entry_path(part, e["loc"]) for e in error.errors()}
        # An error on a block that also holds an inner error is its consequence: inner first.
        inner = [p for p in paths if p and not any(q[: len(p)] == p != q for q in paths)]
        if not inner:
            return None
        for path in inner:
            node = part
            for step in path[:-1]:
                node = node[step]
            del node[path[-1]]
        try:
            return Style.model_validate(part)
        except ValidationError as exc:
            error = exc


def _entry_path(block: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The path of the innermost mapping entry of `block` that an error location reaches.

    Parts of the location that are not in the block are the model's own (a rule's entries are
    gathered under `symbol`, unions add tags) and are passed over."""
    path: list[int | str] = []
    found: tuple[int | str, ...] = ()
    node = block
    for step in loc:
        if isinstance(node, dict) and step in node:
            path.append(step)
            node = node[step]
            found = tuple(path)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            path.append(step)
            node = node[step]
    return found


def _raster_issues(check: LayerCheck, doc: Document) -> Iterator[ProjectIssue]:
    layer, loc = check.config, check.loc
    for option in _DATA_OPTIONS:
        if option in layer.model_fields_set:
            yield doc.issue((*loc, option), f"'{option}' does not apply to a raster layer")
    if check.style is not None and check.style_complete:
        try:
            validate_style(layer.style, "RASTER")
        except ValueError as exc:
            yield doc.issue((*loc, "style"), str(exc))


def _publishes(layer: LayerConfig, name: str) -> bool:
    fields = layer.fields
    if fields is None:
        return True
    if fields.include is not None and name not in fields.include:
        return False
    return name not in fields.exclude


def _style_fields(style: Style) -> Iterator[tuple[Loc, str]]:
    """Every field name a style reads, with where it is written inside the `style:` block."""
    if style.categorized is not None:
        yield ("categorized", "field"), style.categorized.field
        for i, category in enumerate(style.categorized.categories):
            yield from _symbol_fields(("categorized", "categories", i), category.symbol)
        if style.categorized.default is not None:
            yield from _symbol_fields(("categorized", "default"), style.categorized.default)
    if style.graduated is not None:
        yield ("graduated", "field"), style.graduated.field
        for i, graduated_class in enumerate(style.graduated.classes):
            yield from _symbol_fields(("graduated", "classes", i), graduated_class.symbol)
        if style.graduated.default is not None:
            yield from _symbol_fields(("graduated", "default"), style.graduated.default)
    for i, rule in enumerate(style.rules or ()):
        expression = rule.expression()
        for name in sorted(expression.properties() if expression is not None else ()):
            yield ("rules", i, "filter"), name
        yield from _symbol_fields(("rules", i), rule.symbol)
    if style.symbol is not None:
        yield from _symbol_fields((), style.symbol)
    label = style.label
    if label is not None:
        if label.field is not None:
            yield ("label", "field"), label.field
        else:
            for name in sorted(template_fields(label.expression or "")):
                yield ("label", "expression"), name
        if label.priority_field is not None:
            yield ("label", "priority_field"), label.priority_field


def _symbol_fields(loc: Loc, symbol: Symbol) -> Iterator[tuple[Loc, str]]:
    marker: Marker | None = symbol.marker
    if marker is not None and marker.rotation_field:
        # Written as `marker: {rotation_field: ...}`, in the entry or under its `symbol:`.
        yield (*loc, "symbol", "marker", "rotation_field"), marker.rotation_field

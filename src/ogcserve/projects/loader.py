"""Reading project files: every problem of a file found in one run, each tied to a line and key.

Stages:

1. YAML syntax (plus duplicate keys, which PyYAML would silently collapse); a file that does
   not parse stops here, as nothing else can be read from it;
2. schema (the pydantic models in `ogcserve.projects.model`; unknown keys are errors);
3. references and semantics: unique layer names, CRS strings, filters parse, files exist,
   `${VAR}`s are set, `style:` blocks are valid styles (`ogcserve.projects.checks`);
4. when an `opener` is given: every source opens, and every field name a layer uses is one of
   its source's (the `check` command and the server both pass one, so both refuse the same
   files).

Stages 3 and 4 also run when the schema failed, on every layer that is valid on its own or
once its unknown keys are left out, so that a typo in one key hides no missing field in the
same layer or another. A project is built only when no stage found anything.

Line numbers come from the composed YAML node tree (`ogcserve.projects.document`).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ogcserve.projects.checks import OpenSource, layer_issues, source_issues
from ogcserve.projects.config import FieldsConfig, LayerConfig, ProjectConfig
from ogcserve.projects.document import Document, Loc, ProjectError, ProjectIssue, line_of
from ogcserve.projects.model import Layer, Project, freeze
from ogcserve.projects.qgis import is_qgis_project, log_issues, read_qgis_project
from ogcserve.projects.schema import schema_issues
from ogcserve.projects.viewer_checks import viewer_field_issues, viewer_issues

__all__ = ["OpenSource", "ProjectError", "ProjectIssue", "check_project", "load_project"]

# `${NAME}` is replaced by the environment variable; `$${...}` is a literal `${...}` for the rare
# value (a filter, a title) that needs one.
_ENV_REF = re.compile(r"\$(\$?)\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STR_TAG = "tag:yaml.org,2002:str"


def load_project(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    opener: OpenSource | None = None,
) -> Project:
    """Read and validate a project file; raise `ProjectError` listing every problem.

    `env` is where `${VAR}` references are looked up (default: `os.environ`). With `opener`
    (see `OpenSource`), every source is opened and the field names are checked (stage 4).
    A QGIS project (`.qgs`, `.qgz`) loads without the layers it cannot serve (see
    `ogcserve.projects.qgis`); it fails only when nothing of it can be served.
    """
    if is_qgis_project(Path(path)):
        qgis = read_qgis_project(Path(path), opener)
        if qgis.project is None:
            raise ProjectError(qgis.issues)
        log_issues(qgis)
        return qgis.project
    loaded = _load(Path(path), os.environ if env is None else env, opener)
    if loaded.project is None:
        raise ProjectError(loaded.issues)
    return loaded.project


def check_project(
    path: str | os.PathLike[str],
    opener: OpenSource,
    *,
    env: Mapping[str, str] | None = None,
) -> list[ProjectIssue]:
    """Every problem of a project file, stage 4 included; an empty list for a good project.

    `opener(spec, base_dir)` is supplied by the server so sources are opened the way it opens
    them (through its access layer). An exception it raises becomes an issue on the layer's
    `source` key; the `Schema` it returns is what field names are checked against.
    For a QGIS project the list also holds the layers refused and the settings approximated
    (`ProjectIssue.severity`).
    """
    if is_qgis_project(Path(path)):
        return read_qgis_project(Path(path), opener).issues
    return _load(Path(path), os.environ if env is None else env, opener).issues


@dataclass(slots=True)
class _Loaded:
    """What `_load` found: a project (None when anything was wrong) or the issues."""

    doc: Document
    project: Project | None = None
    issues: list[ProjectIssue] = field(default_factory=list)


def _load(path: Path, env: Mapping[str, str], opener: OpenSource | None) -> _Loaded:
    doc = Document(str(path))
    loaded = _Loaded(doc)
    try:
        # Stat before reading: if the file changes in between, the recorded mtime is the older
        # one and the next reload check reads it again, rather than missing the change.
        mtime = path.stat().st_mtime
        raw = path.read_bytes()
    except OSError as exc:
        loaded.issues.append(ProjectIssue(doc.file, None, "", f"cannot read the file: {exc}"))
        return loaded

    # Stage 1: YAML syntax.
    data = _parse(raw, doc, loaded.issues)
    if loaded.issues:
        return loaded

    # `${VAR}`s are expanded before the schema so constraints (name patterns...) see the real
    # value; undefined ones stay as written and are reported with stage 3.
    issues: list[ProjectIssue] = []
    unresolved: set[Loc] = set()
    if doc.root is not None:
        _check_env(doc.root, (), env, doc, issues, unresolved)
    data = _expand(data, env)

    # Stage 2: schema. When it fails, stages 3 and 4 see the layers that are valid on their own.
    config: ProjectConfig | None = None
    try:
        config = ProjectConfig.model_validate(data)
        layers = list(_walk_config(config.layers, ("layers",)))
        crs = [(("crs", i), text) for i, text in enumerate(config.crs)]
    except ValidationError as exc:
        issues += schema_issues(exc, doc, ProjectConfig)
        mapping = data if isinstance(data, dict) else {}
        layers = list(_valid_layers(mapping.get("layers"), ("layers",)))
        listed = mapping.get("crs")
        crs = [
            (("crs", i), text)
            for i, text in enumerate(listed if isinstance(listed, list) else ())
            if isinstance(text, str)
        ]

    # Stages 3 and 4.
    base_dir = path.absolute().parent
    found, checks = layer_issues(layers, crs, doc, base_dir, unresolved)
    issues += found
    if config is not None:
        issues += viewer_issues(config.viewer, layers, doc, base_dir)
    if opener is not None:
        issues += source_issues(checks, opener, base_dir, doc)
        if config is not None:
            issues += viewer_field_issues(config.viewer, checks, doc)

    if issues:
        # In line order, each once (a style's shared symbol keys are checked in every entry).
        loaded.issues = sorted(dict.fromkeys(issues), key=lambda issue: issue.line or 0)
    elif config is not None:
        loaded.project = _build_project(config, path, mtime)
    return loaded


def _valid_layers(items: Any, loc: Loc) -> Iterator[tuple[LayerConfig, Loc]]:
    """The layers of a list that are valid on their own (and the valid members of invalid
    groups), depth first, with their locs."""
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        try:
            layer = LayerConfig.model_validate(item)
        except ValidationError as exc:
            # A layer whose only faults are unknown keys (reported by stage 2) is checked
            # without them: a typo in `wfs:` must not hide a missing field in its `style:`.
            pruned = _without_unknown_keys(item, exc)
            try:
                layer = LayerConfig.model_validate(pruned)
            except ValidationError:
                if isinstance(item, dict):
                    yield from _valid_layers(item.get("layers"), (*loc, i, "layers"))
                continue
        yield layer, (*loc, i)
        if layer.layers is not None:
            yield from _walk_config(layer.layers, (*loc, i, "layers"))


def _parse(raw: bytes, doc: Document, issues: list[ProjectIssue]) -> Any:
    """Stage 1: the YAML node tree (kept on `doc` for line numbers) and the plain data."""
    # SafeLoader only: a project file is data, and must not be able to build Python objects.
    loader = yaml.SafeLoader(raw)
    try:
        root = loader.get_single_node()
        if root is None:
            issues.append(ProjectIssue(doc.file, None, "", "the file is empty"))
            return None
        doc.root = root
        # Before constructing: PyYAML's merge-key handling (`<<: *base`) rewrites the node tree,
        # after which overridden merged keys would look like duplicates.
        _check_structure(root, (), doc, issues, set())
        if issues:
            return None
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        issues.append(ProjectIssue(doc.file, line, "", message))
        return None
    finally:
        loader.dispose()


def _without_unknown_keys(item: Any, exc: ValidationError) -> Any:
    """A copy of `item` without the keys `exc` calls unknown; `item` if it has other faults."""
    errors = exc.errors()
    if not isinstance(item, dict) or any(e["type"] != "extra_forbidden" for e in errors):
        return item
    pruned: dict[str, Any] = copy.deepcopy(item)
    for error in errors:
        *parents, name = error["loc"]
        node: Any = pruned
        for part in parents:  # a union's tag (`geopackage`) is in the loc, not in the data
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                continue
        if isinstance(node, dict):
            node.pop(name, None)
    return pruned


def _check_structure(
    node: Node, loc: Loc, doc: Document, issues: list[ProjectIssue], active: set[int]
) -> None:
    """Duplicate keys and recursive aliases, neither of which a project file can mean."""
    if id(node) in active:
        # `&a [*a]` composes into a cycle; every later walk of the data would loop forever.
        issues.append(doc.issue(loc, "a recursive alias is not allowed", line=line_of(node)))
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value != "<<":
                name = key_node.value
                if name in first_lines:
                    issues.append(
                        doc.issue(
                            (*loc, name),
                            f"duplicate key '{name}' (first at line {first_lines[name]})",
                            line=line_of(key_node),
                        )
                    )
                else:
                    first_lines[name] = line_of(key_node)
                _check_structure(value_node, (*loc, name), doc, issues, active)
            else:
                _check_structure(value_node, loc, doc, issues, active)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_structure(item, (*loc, i), doc, issues, active)
    active.discard(id(node))


def _check_env(
    node: Node,
    loc: Loc,
    env: Mapping[str, str],
    doc: Document,
    issues: list[ProjectIssue],
    unresolved: set[Loc],
) -> None:
    """Report `${VAR}` references to unset variables; remember where they are in `unresolved`."""
    if isinstance(node, ScalarNode):
        if node.tag != _STR_TAG:
            return
        for match in _ENV_REF.finditer(node.value):
            if match.group(1):
                continue
            name = match.group(2)
            if not _ENV_NAME.fullmatch(name):
                issues.append(doc.issue(loc, f"'${{{name}}}' is not a valid variable reference"))
                unresolved.add(loc)
            elif name not in env:
                issues.append(doc.issue(loc, f"environment variable '{name}' is not set"))
                unresolved.add(loc)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                _check_env(value_node, (*loc, key_node.value), env, doc, issues, unresolved)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_env(item, (*loc, i), env, doc, issues, unresolved)


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    """`value` with `${VAR}`s in its strings replaced (unset ones left as written)."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(1):
                return "${" + match.group(2) + "}"
            return env.get(match.group(2), match.group(0))

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    return value


def _walk_config(layers: Sequence[LayerConfig], loc: Loc) -> Iterator[tuple[LayerConfig, Loc]]:
    """Every layer config with its loc, depth first in file order."""
    for i, layer in enumerate(layers):
        layer_loc = (*loc, i)
        yield layer, layer_loc
        if layer.layers is not None:
            yield from _walk_config(layer.layers, (*layer_loc, "layers"))


def _build_project(config: ProjectConfig, path: Path, mtime: float) -> Project:
    absolute = path.absolute()
    name = config.name or path.stem
    return Project(
        name=name,
        path=absolute,
        base_dir=absolute.parent,
        title=config.title or name,
        abstract=config.abstract or "",
        keywords=config.keywords,
        crs=config.crs,
        contact=config.contact,
        wms=config.wms,
        layers=tuple(_build_layer(layer) for layer in config.layers),
        plugins=config.plugins,
        mtime=mtime,
        viewer=config.viewer,
    )


def _build_layer(config: LayerConfig) -> Layer:
    fields = config.fields or FieldsConfig()
    return Layer(
        name=config.name,
        title=config.title or config.name,
        abstract=config.abstract or "",
        keywords=config.keywords,
        source=config.source,
        key=config.key,
        filter=config.filter,
        fields_include=fields.include,
        fields_exclude=fields.exclude,
        fields_hidden=MappingProxyType({"WMS": fields.exclude_wms, "WFS": fields.exclude_wfs}),
        aliases=MappingProxyType(dict(config.aliases)),
        data_url=config.data_url,
        attribution=config.attribution,
        metadata_urls=config.metadata_urls,
        style=freeze(config.style),
        queryable=config.queryable,
        min_scale=config.min_scale,
        max_scale=config.max_scale,
        wms=config.wms,
        wfs=config.wfs,
        wcs=config.wcs,
        tiles=config.tiles,
        children=tuple(_build_layer(child) for child in config.layers or ()),
        formatters=MappingProxyType(dict(config.formatters)),
    )

"""Reading project files: staged validation with every problem tied to a line of the YAML file.

Stages, each run only when the previous one passed (so one mistake does not cascade into a page
of follow-up errors, yet all problems of the failing stage are listed at once):

1. YAML syntax (plus duplicate keys, which PyYAML would silently collapse),
2. schema (the pydantic models in `ogcserve.projects.model`),
3. references and semantics: unique layer names, CRS strings, filters, files, `${VAR}`s,
4. (`check_project` only) every source opens, through a callable the server provides.

Line numbers come from the composed YAML node tree: a pydantic error `loc` such as
`("layers", 0, "source", "geopackage", "table")` is walked through that tree to the offending key.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pyproj
import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ogcserve.projects.model import FieldsConfig, Layer, LayerConfig, Project, ProjectConfig, freeze
from ogcserve.sources.specs import GeoPackageSpec, OGRSpec, RasterSpec, SourceSpec

Loc = tuple[str | int, ...]
"""A path into the project file: mapping keys and sequence indexes, as pydantic reports them."""

OpenSource = Callable[[SourceSpec, Path], object]
"""Opens a source spec (relative paths resolved against the given folder); raises on failure."""

# `${NAME}` is replaced by the environment variable; `$${...}` is a literal `${...}` for the rare
# value (a filter, a title) that needs one.
_ENV_REF = re.compile(r"\$(\$?)\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STR_TAG = "tag:yaml.org,2002:str"
_WMS_CRS_ALIASES = {"CRS:84": "OGC:CRS84", "CRS:83": "OGC:CRS83", "CRS:27": "OGC:CRS27"}


@dataclass(frozen=True, slots=True)
class ProjectIssue:
    """One problem in a project file: where it is (file, 1-based line, dotted key) and what."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ProjectError(Exception):
    """A project file failed to load; `issues` lists every problem of the stage that failed."""

    def __init__(self, issues: Sequence[ProjectIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def load_project(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Project:
    """Read and validate a project file (stages 1-3); raise `ProjectError` listing the problems.

    `env` is where `${VAR}` references are looked up (default: `os.environ`).
    """
    loaded = _load(Path(path), os.environ if env is None else env)
    if loaded.project is None:
        raise ProjectError(loaded.issues)
    return loaded.project


def check_project(
    path: str | os.PathLike[str],
    opener: OpenSource,
    *,
    env: Mapping[str, str] | None = None,
) -> list[ProjectIssue]:
    """Every problem of a project file, including (stage 4) sources that fail to open.

    `opener(spec, base_dir)` is supplied by the server so sources are opened the way it opens
    them (through its access layer); whatever it returns is left to it. An exception it raises
    becomes an issue on the layer's `source` key. Returns an empty list for a good project.
    """
    loaded = _load(Path(path), os.environ if env is None else env)
    if loaded.project is None:
        return loaded.issues
    issues: list[ProjectIssue] = []
    for layer in loaded.project.data_layers():
        if layer.source is None:  # pragma: no cover - data_layers() only yields layers with one
            continue
        try:
            opener(layer.source, loaded.project.base_dir)
        except Exception as exc:  # any failure of a source is a finding, not a crash of the check
            detail = str(exc) or type(exc).__name__
            loc = (*loaded.layer_locs[layer.name], "source")
            issues.append(loaded.doc.issue(loc, f"the source does not open: {detail}"))
    return issues


@dataclass(slots=True)
class _Document:
    """The file name and YAML node tree, to turn a `Loc` into a line and a dotted key."""

    file: str
    root: Node | None = None

    def issue(self, loc: Loc, message: str, *, line: int | None = None) -> ProjectIssue:
        found_line, key = self.locate(loc)
        return ProjectIssue(self.file, found_line if line is None else line, key, message)

    def locate(self, loc: Loc) -> tuple[int | None, str]:
        """The line of the key `loc` names and the dotted form of `loc`.

        Elements that are not in the YAML (pydantic adds the discriminator tag of a union, e.g.
        "geopackage" in `layers.0.source.geopackage.table`) are dropped from the key. A missing
        final key (a required field) keeps the line of the mapping that lacks it, which is the
        line of the key holding that mapping (`source:`), or of the list item.
        """
        node = self.root
        if node is None:
            return None, _dotted(loc)
        line: int | None = node.start_mark.line + 1
        parts: list[str | int] = []
        for i, part in enumerate(loc):
            if isinstance(node, MappingNode) and isinstance(part, str):
                pair = _lookup(node, part)
                if pair is not None:
                    key_node, node = pair
                    line = key_node.start_mark.line + 1
                    parts.append(part)
                    continue
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
                parts.append(part)
                continue
            if i == len(loc) - 1:
                parts.append(part)
        return line, _dotted(parts)


@dataclass(slots=True)
class _Loaded:
    """What `_load` found: a project (None when a stage failed) or the issues, plus locations."""

    doc: _Document
    project: Project | None = None
    issues: list[ProjectIssue] = field(default_factory=list)
    layer_locs: dict[str, Loc] = field(default_factory=dict)


def _load(path: Path, env: Mapping[str, str]) -> _Loaded:
    doc = _Document(str(path))
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
    # value; undefined ones stay as written and are reported in stage 3.
    env_issues: list[ProjectIssue] = []
    unresolved: set[Loc] = set()
    if doc.root is not None:
        _check_env(doc.root, (), env, doc, env_issues, unresolved)
    data = _expand(data, env)

    # Stage 2: schema.
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        loaded.issues.extend(_schema_issues(exc, doc))
        return loaded

    # Stage 3: references and semantics.
    layer_locs = dict((layer.name, loc) for layer, loc in _walk_config(config.layers, ("layers",)))
    loaded.issues.extend(env_issues)
    loaded.issues.extend(_semantic_issues(config, doc, path.absolute().parent, unresolved))
    if loaded.issues:
        loaded.issues.sort(key=lambda issue: issue.line or 0)
        return loaded

    loaded.layer_locs = layer_locs
    loaded.project = _build_project(config, path, mtime)
    return loaded


def _parse(raw: bytes, doc: _Document, issues: list[ProjectIssue]) -> Any:
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


def _check_structure(
    node: Node, loc: Loc, doc: _Document, issues: list[ProjectIssue], active: set[int]
) -> None:
    """Duplicate keys and recursive aliases, neither of which a project file can mean."""
    if id(node) in active:
        # `&a [*a]` composes into a cycle; every later walk of the data would loop forever.
        issues.append(doc.issue(loc, "a recursive alias is not allowed", line=_line(node)))
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
                            line=_line(key_node),
                        )
                    )
                else:
                    first_lines[name] = _line(key_node)
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
    doc: _Document,
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


def _schema_issues(exc: ValidationError, doc: _Document) -> list[ProjectIssue]:
    """Stage 2 issues from a pydantic error, each located at the key it is about."""
    issues = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        message = error["msg"]
        if "field" in ctx:
            # Our model validators name the key a cross-field problem is best shown at.
            loc = (*loc, str(ctx["field"]))
        elif error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            discriminator = str(ctx.get("discriminator", "type")).strip("'")
            loc = (*loc, discriminator)
            if error["type"] == "union_tag_not_found" and loc[-2:-1] == ("source",):
                message = f"Field required (one of: {', '.join(_source_types())})"
        elif error["type"] == "extra_forbidden" and loc:
            message = f"unknown key '{loc[-1]}'"
        issues.append(doc.issue(loc, message))
    issues.sort(key=lambda issue: issue.line or 0)
    return issues


def _semantic_issues(
    config: ProjectConfig, doc: _Document, base_dir: Path, unresolved: set[Loc]
) -> list[ProjectIssue]:
    """Stage 3: what the schema cannot see. Values with an unset `${VAR}` are not checked again."""
    issues: list[ProjectIssue] = []

    first_use: dict[str, int | None] = {}
    for layer, loc in _walk_config(config.layers, ("layers",)):
        name_loc = (*loc, "name")
        line, _ = doc.locate(name_loc)
        if layer.name in first_use:
            where = first_use[layer.name]
            first = f" (first used at line {where})" if where is not None else ""
            issues.append(doc.issue(name_loc, f"duplicate layer name '{layer.name}'{first}"))
        else:
            first_use[layer.name] = line

    for i, text in enumerate(config.crs):
        if ("crs", i) in unresolved:
            continue
        try:
            # WMS 1.3 spells OGC's CRS84 "CRS:84", which PROJ only knows as "OGC:CRS84".
            pyproj.CRS.from_user_input(_WMS_CRS_ALIASES.get(text.upper(), text))
        except pyproj.exceptions.CRSError as exc:
            issues.append(doc.issue(("crs", i), f"unknown CRS '{text}': {exc}"))

    parse_filter = _filter_parser()
    for layer, loc in _walk_config(config.layers, ("layers",)):
        filter_loc = (*loc, "filter")
        if parse_filter is not None and layer.filter is not None and filter_loc not in unresolved:
            try:
                parse_filter(layer.filter, "cql2-text")
            except Exception as exc:  # whatever the parser raises, it means "does not parse"
                detail = str(exc) or type(exc).__name__
                issues.append(doc.issue(filter_loc, f"the filter does not parse: {detail}"))

        source = layer.source
        path_loc = (*loc, "source", "path")
        if isinstance(source, GeoPackageSpec | OGRSpec | RasterSpec) and path_loc not in unresolved:
            # Only the project author names files; the server never opens a path from a request.
            target = base_dir / source.path
            if not target.exists():
                issues.append(doc.issue(path_loc, f"file not found: {target}"))
    return issues


def _filter_parser() -> Callable[[str, str], object] | None:
    """`ogcserve.expressions.parse`, or None while that module is not there to check with."""
    # Imported lazily and looked up by name so this module neither depends on nor type-checks
    # against the expressions package at import time.
    try:
        module = importlib.import_module("ogcserve.expressions")
    except ImportError:
        return None
    parse = getattr(module, "parse", None)
    return parse if callable(parse) else None


def _source_types() -> list[str]:
    """The `type` values a source may have, read off the `SourceSpec` union."""
    (union, *_) = get_args(SourceSpec)
    return [str(get_args(spec.model_fields["type"].annotation)[0]) for spec in get_args(union)]


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
        layers=tuple(_build_layer(layer) for layer in config.layers),
        plugins=config.plugins,
        mtime=mtime,
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
        style=freeze(config.style),
        queryable=config.queryable,
        min_scale=config.min_scale,
        max_scale=config.max_scale,
        wfs=config.wfs,
        wcs=config.wcs,
        children=tuple(_build_layer(child) for child in config.layers or ()),
    )


def _lookup(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    # The last occurrence wins, as it does when PyYAML constructs the mapping.
    found = None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = (key_node, value_node)
    return found


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _dotted(loc: Sequence[str | int]) -> str:
    """`("layers", 0, "source")` -> `layers[0].source`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text

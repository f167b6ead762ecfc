"""A QGIS project (`.qgs`/`.qgz`) as a `Project`: the layer tree QGIS Server publishes.

The tree is `<layer-tree-group>`'s, in its order (the first layer is the top one). Each layer
and group is published under its short name, else its name (or its id with the project's
"use layer ids" setting), as QGIS Server names it in WMS; names that our URLs and XML cannot
carry are changed (and the change reported). Groups and layers listed in the WMS restricted
layers are left out of WMS, with everything under them (`wms.publish` off); a layer there
that WFS or WCS publishes stays for them. A layer that cannot be served is refused and
the project loads without it (a group left empty is dropped too); the issues name each one,
on the line of its `<maplayer>`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyproj
from lxml import etree

from ogcserve.projects.config import WMSConfig
from ogcserve.projects.document import ProjectIssue, Severity
from ogcserve.projects.model import Layer, Project, QgisNames
from ogcserve.projects.qgis.files import ProjectFileError, read_project_xml
from ogcserve.projects.qgis.layers import (
    LayerContext,
    LayerRefusedError,
    OpenSource,
    data_layer,
    metadata_warnings,
)
from ogcserve.projects.qgis.publishing import read_publishing

log = logging.getLogger("ogcserve.projects")

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_.-]")
_WMS_CRS_ALIASES = {"CRS:84": "OGC:CRS84"}


@dataclass(slots=True)
class QgisLoaded:
    """A project (None when the file cannot be read at all) and every issue found."""

    project: Project | None
    issues: list[ProjectIssue] = field(default_factory=list)


@dataclass(slots=True)
class _Reader:
    file: str
    maplayers: dict[str, etree._Element]
    ctx: LayerContext
    issues: list[ProjectIssue] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def report(
        self, element: etree._Element | None, name: str, message: str, severity: Severity
    ) -> None:
        line = element.sourceline if element is not None else None
        line = line if isinstance(line, int) else None
        key = f"layer '{name}'" if name else ""
        self.issues.append(ProjectIssue(self.file, line, key, message, severity))

    def group(self, node: etree._Element, restricted: bool = False) -> tuple[Layer, ...]:
        """The published layers and groups under a `<layer-tree-group>`, in tree order;
        `restricted` when the group is a WMS restricted one."""
        found: list[Layer] = []
        for child in node:
            if child.tag == "layer-tree-layer":
                layer = self.tree_layer(child, restricted)
            elif child.tag == "layer-tree-group":
                layer = self.tree_group(child, restricted)
            else:
                continue
            if layer is not None:
                found.append(layer)
        return tuple(found)

    def tree_group(self, node: etree._Element, restricted: bool) -> Layer | None:
        label = node.get("name", "")
        # A group restricted from WMS keeps the layers other services publish.
        restricted = restricted or label in self.ctx.publishing.restricted
        props = _custom_properties(node)
        if node.get("embedded") == "1":
            self.report(node, label, "a group embedded from another project is not read", "refused")
            return None
        children = self.group(node, restricted)
        if not children:
            return None  # empty, or every layer in it refused (each reported)
        short_name = props.get("wmsShortName", "")
        name = self.publish_name(node, short_name or label)
        if name is None:
            return None
        return Layer(
            name=name,
            title=props.get("wmsTitle") or label or name,
            abstract=props.get("wmsAbstract", ""),
            children=children,
            qgis=QgisNames(label, "", short_name, short_name or label),
        )

    def tree_layer(self, node: etree._Element, restricted: bool) -> Layer | None:
        layer_id = node.get("id", "")
        maplayer = self.maplayers.get(layer_id)
        label = node.get("name", "") or layer_id
        if maplayer is None:
            self.report(node, label, "the layer tree names a layer the project lacks", "refused")
            return None
        label = _text(maplayer, "layername") or label
        publishing = self.ctx.publishing
        restricted = restricted or label in publishing.restricted
        if restricted and layer_id not in publishing.wfs_layers | publishing.wcs_layers:
            return None  # published by no service
        if maplayer.get("embedded") == "1":
            self.report(node, label, "a layer embedded from another project is not read", "refused")
            return None
        short_name = _text(maplayer, "shortname")
        wanted = (layer_id if self.ctx.publishing.use_layer_ids else None) or short_name or label
        name = self.publish_name(maplayer, wanted)
        if name is None:
            return None
        qgis = QgisNames(label, layer_id, short_name, wanted)
        warnings = metadata_warnings(maplayer)
        try:
            layer = replace(data_layer(maplayer, name, self.ctx, warnings), qgis=qgis)
            if restricted:
                layer = replace(layer, wms=WMSConfig(publish=False))
        except LayerRefusedError as refused:
            self.names.discard(name)
            self.report(maplayer, name, f"not served: {refused}", "refused")
            return None
        for warning in warnings:
            self.report(maplayer, name, warning, "warning")
        return layer

    def publish_name(self, element: etree._Element, wanted: str) -> str | None:
        """`wanted` as a name our URLs and XML carry; None (reported) if it is taken."""
        name = _NOT_IN_NAMES.sub("_", wanted.strip()) or "_"
        if not (name[0].isalpha() or name[0] == "_"):
            name = f"_{name}"
        if name in self.names:
            message = f"the name '{name}' is used by another layer or group"
            self.report(element, wanted, f"not served: {message}", "refused")
            return None
        if name != wanted:
            message = f"published as '{name}' (QGIS Server: '{wanted}', which requests may use too)"
            self.report(element, wanted, message, "warning")
        self.names.add(name)
        return name


def read_qgis_project(path: Path, opener: OpenSource | None) -> QgisLoaded:
    """Read a `.qgs`/`.qgz` file; its sources are opened with `opener` when one is given."""
    file = str(path)
    try:
        mtime = path.stat().st_mtime
        root, file_warnings = read_project_xml(path)
    except (OSError, ProjectFileError) as exc:
        return QgisLoaded(None, [ProjectIssue(file, None, "", str(exc))])
    crs = _text(root, "projectCrs/spatialrefsys/authid") or "CRS:84"
    publishing = read_publishing(root.find("properties"), crs)
    maplayers = {
        _text(element, "id"): element for element in root.iterfind("projectlayers/maplayer")
    }
    base_dir = path.absolute().parent
    reader = _Reader(file, maplayers, LayerContext(base_dir, publishing, opener))
    for warning in (*file_warnings, *(f"{text} is ignored" for text in publishing.ignored)):
        reader.report(None, "", warning, "warning")
    tree = root.find("layer-tree-group")
    layers = reader.group(tree) if tree is not None else ()
    if tree is not None and tree.find("custom-order[@enabled='1']") is not None:
        message = "the custom layer drawing order is ignored (the tree order is used)"
        reader.report(tree, "", message, "warning")
    if not layers:
        reader.report(tree, "", "the project has no layer that can be served", "error")
        return QgisLoaded(None, reader.issues)
    absolute = path.absolute()
    name = path.stem
    project = Project(
        name=name,
        path=absolute,
        base_dir=base_dir,
        title=publishing.title or _text(root, "title") or name,
        abstract=publishing.abstract or _text(root, "projectMetadata/abstract"),
        keywords=publishing.keywords,
        crs=_crs_list(publishing.crs, reader),
        contact=publishing.contact,
        wms=publishing.wms,
        layers=layers,
        mtime=mtime,
        top_first=True,
    )
    return QgisLoaded(project, reader.issues)


def _crs_list(listed: tuple[str, ...], reader: _Reader) -> tuple[str, ...]:
    """The WMS CRS list; with CRS:84, which QGIS Server always advertises besides it."""
    if listed and not any(text.upper() == "CRS:84" for text in listed):
        listed = (*listed, "CRS:84")
    kept = []
    for text in listed:
        try:
            pyproj.CRS.from_user_input(_WMS_CRS_ALIASES.get(text.upper(), text))
        except pyproj.exceptions.CRSError:
            reader.report(None, "", f"the WMS CRS '{text}' is unknown and left out", "warning")
            continue
        kept.append(text)
    return tuple(kept)


def _custom_properties(node: etree._Element) -> dict[str, str]:
    """A tree node's `<customproperties>` (QGIS 3.x writes `<Option>`s, older ones
    `<property key= value=>`)."""
    props = {
        option.get("name", ""): option.get("value", "")
        for option in node.iterfind("customproperties/Option/Option")
    }
    for prop in node.iterfind("customproperties/property"):
        props[prop.get("key", "")] = prop.get("value", "")
    return props


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path)
    return "" if found is None else (found.text or "").strip()


def log_issues(loaded: QgisLoaded) -> None:
    """Tell the operator of a serving process which layers are not served, and how many
    things were approximated (`ogcserve check` lists them)."""
    refused = [issue for issue in loaded.issues if issue.severity == "refused"]
    for issue in refused:
        log.warning("%s", issue)
    approximated = sum(issue.severity == "warning" for issue in loaded.issues)
    if approximated:
        log.info(
            "%s: %d settings approximated or ignored; `ogcserve check` lists them",
            loaded.issues[0].file,
            approximated,
        )

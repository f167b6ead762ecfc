"""Transaction (WFS 2.0.0 §15, 1.1.0 §12, 1.0.0 §12): Insert, Update, Delete and Replace (2.0).

Refusals come first, before anything is written: a type the caller may not read (403), a type
on which the caller may neither insert, update nor delete (403 Security for the whole request,
as QGIS does), an action the caller's permissions do not cover, malformed features and filters.
Then every action runs inside one `data.edit(ctx, layer)` per layer, i.e. one database
transaction per source: the Editor checks permissions and `allow_to_edit` on each feature as it
will be written (before and after an update), and any failure rolls every layer back.

Atomicity across layers: each layer's source has its own transaction, opened together and
committed one after the other once every action succeeded. A failure in any action rolls all of
them back. Only a failure of a later COMMIT itself (a lost connection) could leave an earlier
layer committed; the response says which action failed. Two tables of one GeoPackage file in
one request are refused, since SQLite allows a single writer per file.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree

from ogcserve.access import Read
from ogcserve.errors import (
    InvalidParameterValueError,
    MissingParameterValueError,
    OperationNotSupportedError,
    SecurityError,
    ServiceError,
)
from ogcserve.features import Feature
from ogcserve.sources.specs import GeoPackageSpec

from .crs import parse_srs, srs_for
from .filters import LayerTerms, ParsedFilter, parse_filter
from .gml_read import read_geometry
from .gml_write import escape
from .layers import feature_layer, require_project
from .params import type_name
from .xml_input import FES_NS, OGC_NS, WFS_NS, children, local, parse_body, text

if TYPE_CHECKING:
    from ogcserve.access import Editor
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer

_PERMISSION = {
    "Insert": "can_insert",
    "Update": "can_update",
    "Delete": "can_delete",
    "Replace": "can_update",
}
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


@dataclass
class Action:
    """One action of the transaction, parsed and checked."""

    kind: str  # Insert | Update | Delete | Replace
    layer: Layer
    handle: str
    features: list[Feature] = field(default_factory=list)  # Insert, Replace
    properties: dict[str, Any] = field(default_factory=dict)  # Update
    geometry: Any | None = None  # Update
    filter: ParsedFilter | None = None  # Update, Delete, Replace

    def label(self, index: int) -> str:
        """How errors name the action."""
        if self.handle:
            return f"{self.kind} {self.handle!r} on {self.layer.name}"
        return f"{self.kind} #{index + 1} on {self.layer.name}"


@dataclass
class Outcome:
    """What the transaction did."""

    inserted: list[tuple[str, str]] = field(default_factory=list)  # (handle, rid)
    replaced: list[tuple[str, str]] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0


def transaction(ctx: RequestContext) -> None:
    """Answer Transaction (XML POST only)."""
    body = ctx.request.params.get("REQUEST_BODY")
    if not body:
        raise OperationNotSupportedError(
            "Transaction is only accepted as XML POST", locator="REQUEST"
        )
    root = parse_body(body, ctx.request.xml_limits)
    version = (root.get("version") or ctx.request.parameter("VERSION")).strip() or "2.0.0"
    if version == "2.0.0" and etree.QName(root).namespace == WFS_NS["1.1.0"]:
        # GDAL's WFS driver writes version="2.0.0" on a Transaction in the WFS 1.x namespace
        # with 1.1.0 content, and reads the answer as 1.1.0 (ogc:FeatureId): the namespace wins.
        version = "1.1.0"
    actions = _parse(ctx, root, version)
    _check_rights(ctx, actions)
    outcome = _execute(ctx, actions)
    ctx.response.set_header("Content-Type", "text/xml; charset=utf-8")
    ctx.response.write(_response(version, outcome))


# --- parsing ------------------------------------------------------------------------------------


def _parse(ctx: RequestContext, root: etree._Element, version: str) -> list[Action]:
    project = require_project(ctx)
    default_srs = root.get("srsName")
    actions = []
    for element in children(root):
        kind = local(element)
        handle = element.get("handle", "")
        if kind == "Insert":
            srs = element.get("srsName") or default_srs
            by_layer: dict[str, Action] = {}
            for member in children(element):
                layer = feature_layer(ctx, project, local(member), "typeName")
                feature = _feature(ctx, layer, member, version, srs)
                action = by_layer.get(layer.name)
                if action is None:
                    action = by_layer[layer.name] = Action("Insert", layer, handle)
                    actions.append(action)
                action.features.append(feature)
            if not by_layer:
                raise MissingParameterValueError("Insert without features", locator="Insert")
        elif kind in ("Update", "Delete"):
            name = element.get("typeName") or element.get("typeNames") or ""
            layer = feature_layer(ctx, project, name, "typeName")
            action = Action(kind, layer, handle)
            for child in children(element):
                if local(child) == "Filter":
                    action.filter = _filter(
                        ctx, layer, child, version, element.get("srsName") or default_srs
                    )
                elif local(child) == "Property" and kind == "Update":
                    _property(ctx, action, child, version, element.get("srsName") or default_srs)
                else:
                    raise InvalidParameterValueError(
                        f"Unexpected {local(child)} in {kind}", locator=handle or kind
                    )
            if action.filter is None:
                # WFS 2.0 §15.2.5.2.1 / §15.2.7: the filter is mandatory (no "all rows" edits).
                raise MissingParameterValueError(f"{kind} needs a Filter", locator=handle or kind)
            actions.append(action)
        elif kind == "Replace" and version == "2.0.0":
            items = children(element)
            features = [c for c in items if local(c) != "Filter"]
            filters = [c for c in items if local(c) == "Filter"]
            if len(features) != 1 or len(filters) != 1:
                raise InvalidParameterValueError(
                    "Replace takes one feature and one Filter", locator=handle or "Replace"
                )
            layer = feature_layer(ctx, project, local(features[0]), "typeName")
            srs = element.get("srsName") or default_srs
            action = Action(
                "Replace",
                layer,
                handle,
                features=[_feature(ctx, layer, features[0], version, srs)],
                filter=_filter(ctx, layer, filters[0], version, srs),
            )
            actions.append(action)
        else:
            raise OperationNotSupportedError(
                f"Transaction action {kind!r} is not supported", locator=handle or kind
            )
    if not actions:
        raise MissingParameterValueError("The transaction has no action", locator="Transaction")
    return actions


def _terms(ctx: RequestContext, layer: Layer, version: str, srs: str | None) -> LayerTerms:
    schema = ctx.server.access.schema(ctx, layer)
    native = ctx.server.access.crs(ctx, layer)
    default = parse_srs(srs, version) if srs else srs_for(native, version)
    return LayerTerms(layer.name, schema, native, default, version)


def _filter(
    ctx: RequestContext, layer: Layer, element: etree._Element, version: str, srs: str | None
) -> ParsedFilter:
    return parse_filter(element, _terms(ctx, layer, version, srs))


def _feature(
    ctx: RequestContext, layer: Layer, element: etree._Element, version: str, srs: str | None
) -> Feature:
    terms = _terms(ctx, layer, version, srs)
    geometry_field = terms.schema.geometry_field
    visible = set(terms.schema.field_names())
    properties: dict[str, Any] = {}
    geometry = None
    for child in children(element):
        name = local(child)
        if name == geometry_field:
            shapes = children(child)
            if shapes:
                geometry = read_geometry(shapes[0], terms.default_srs, terms.crs, version)
        elif name in visible:
            properties[name] = None if child.get(XSI_NIL) == "true" else text(child)
        elif name in ("boundedBy", "name", "description"):
            continue  # gml:boundedBy and friends are not stored
        else:
            raise InvalidParameterValueError(
                f"Unknown property {name!r} of {layer.name!r}", locator=name
            )
    return Feature(None, geometry, properties)


def _property(
    ctx: RequestContext, action: Action, element: etree._Element, version: str, srs: str | None
) -> None:
    parts = {local(c): c for c in children(element)}
    name_el = parts.get("ValueReference") if version == "2.0.0" else parts.get("Name")
    name_el = name_el if name_el is not None else parts.get("Name", parts.get("ValueReference"))
    if name_el is None:
        raise MissingParameterValueError("Property without a name", locator="Property")
    name = type_name(text(name_el))
    terms = _terms(ctx, action.layer, version, srs)
    value_el = parts.get("Value")
    if name == terms.schema.geometry_field:
        shapes = children(value_el) if value_el is not None else []
        if not shapes:
            raise InvalidParameterValueError("The geometry cannot be removed", locator=name)
        action.geometry = read_geometry(shapes[0], terms.default_srs, terms.crs, version)
        return
    if name not in terms.schema.field_names():
        raise InvalidParameterValueError(
            f"Unknown property {name!r} of {action.layer.name!r}", locator=name
        )
    action.properties[name] = None if value_el is None else text(value_el)


# --- rights -------------------------------------------------------------------------------------


def _check_rights(ctx: RequestContext, actions: list[Action]) -> None:
    data = ctx.server.access
    for action in actions:
        permissions = data.permissions(ctx, action.layer)
        if not (permissions.can_insert or permissions.can_update or permissions.can_delete):
            raise SecurityError(
                f"No permission to change the layer {action.layer.name!r}",
                locator=action.layer.name,
            )
    for index, action in enumerate(actions):
        if not getattr(data.permissions(ctx, action.layer), _PERMISSION[action.kind]):
            raise SecurityError(
                f"{action.label(index)}: you may not {action.kind.lower()} features of "
                f"{action.layer.name!r}",
                locator=action.handle or action.kind,
            )
    files: dict[str, str] = {}
    for action in actions:
        spec = action.layer.source
        if isinstance(spec, GeoPackageSpec):
            other = files.setdefault(spec.path, action.layer.name)
            if other != action.layer.name:
                raise OperationNotSupportedError(
                    f"{other!r} and {action.layer.name!r} are tables of one GeoPackage file, "
                    "which takes a single writer: send them in separate transactions",
                    locator=action.layer.name,
                )


# --- execution ----------------------------------------------------------------------------------


def _execute(ctx: RequestContext, actions: list[Action]) -> Outcome:
    data = ctx.server.access
    outcome = Outcome()
    with ExitStack() as stack:
        editors: dict[str, Editor] = {}
        for action in actions:
            if action.layer.name not in editors:
                editors[action.layer.name] = stack.enter_context(data.edit(ctx, action.layer))
        for index, action in enumerate(actions):
            try:
                _apply(ctx, action, editors[action.layer.name], outcome)
            except ServiceError as error:
                # The whole transaction rolls back (ExitStack unwinds every edit); the report
                # names the action that failed.
                raise error.relabelled(
                    f"{action.label(index)} failed: {error.message}",
                    locator=action.handle or action.kind,
                ) from error
    return outcome


def _matching(ctx: RequestContext, action: Action) -> list[Any]:
    assert action.filter is not None
    read = Read(
        filter=action.filter.expression, ids=action.filter.ids, properties=(), with_geometry=False
    )
    return [
        fid for batch in ctx.server.access.features(ctx, action.layer, read) for fid in batch.ids
    ]


def _apply(ctx: RequestContext, action: Action, editor: Editor, outcome: Outcome) -> None:
    name = action.layer.name
    if action.kind == "Insert":
        ids = editor.insert(action.features)
        outcome.inserted.extend((action.handle, f"{name}.{fid}") for fid in ids)
    elif action.kind == "Update":
        fids = _matching(ctx, action)
        if fids:
            editor.update_many(fids, action.properties, action.geometry)
            outcome.updated += len(fids)
    elif action.kind == "Delete":
        fids = _matching(ctx, action)
        if fids:
            outcome.deleted += editor.delete(fids)
    elif action.kind == "Replace":
        feature = action.features[0]
        schema = ctx.server.access.schema(ctx, action.layer)
        # WFS 2.0 §15.2.6: the replacement is the whole feature; absent properties become null.
        properties = {f.name: feature.properties.get(f.name) for f in schema.fields}
        fids = _matching(ctx, action)
        if fids:
            editor.update_many(fids, properties, feature.geometry)
        outcome.replaced.extend((action.handle, f"{name}.{fid}") for fid in fids)


# --- response -----------------------------------------------------------------------------------


def _response(version: str, outcome: Outcome) -> bytes:
    wfs = WFS_NS[version]
    if version == "1.0.0":
        inserted = "".join(
            f'<wfs:InsertResult{_handle(h)}><ogc:FeatureId fid="{escape(r)}"/></wfs:InsertResult>'
            for h, r in outcome.inserted
        )
        body = (
            f'<wfs:WFS_TransactionResponse version="1.0.0" xmlns:wfs="{wfs}" '
            f'xmlns:ogc="{OGC_NS}">{inserted}<wfs:TransactionResult><wfs:Status>'
            "<wfs:SUCCESS/></wfs:Status></wfs:TransactionResult>"
            "</wfs:WFS_TransactionResponse>"
        )
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
    ids_ns, id_tag, id_attr = (
        (FES_NS, "fes:ResourceId", "rid")
        if version == "2.0.0"
        else (OGC_NS, "ogc:FeatureId", "fid")
    )
    prefix = "fes" if version == "2.0.0" else "ogc"
    summary = (
        f"<wfs:TransactionSummary><wfs:totalInserted>{len(outcome.inserted)}"
        f"</wfs:totalInserted><wfs:totalUpdated>{outcome.updated}</wfs:totalUpdated>"
    )
    if version == "2.0.0":
        summary += f"<wfs:totalReplaced>{len(outcome.replaced)}</wfs:totalReplaced>"
    summary += f"<wfs:totalDeleted>{outcome.deleted}</wfs:totalDeleted></wfs:TransactionSummary>"

    def results(tag: str, items: list[tuple[str, str]]) -> str:
        if not items:
            return ""
        members = "".join(
            f'<wfs:Feature{_handle(h)}><{id_tag} {id_attr}="{escape(r)}"/></wfs:Feature>'
            for h, r in items
        )
        return f"<wfs:{tag}>{members}</wfs:{tag}>"

    body = (
        f'<wfs:TransactionResponse version="{version}" xmlns:wfs="{wfs}" '
        f'xmlns:{prefix}="{ids_ns}">{summary}'
        f"{results('InsertResults', outcome.inserted)}"
        f"{results('ReplaceResults', outcome.replaced) if version == '2.0.0' else ''}"
        "</wfs:TransactionResponse>"
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


def _handle(handle: str) -> str:
    return f' handle="{escape(handle)}"' if handle else ""

"""What the viewer page is given about a project: the caller's view of it, nothing more.

The layer tree is `readable_layers` (unreadable layers and emptied groups are gone), formatters
and search fields name only attributes the caller may see, and a search panel on a layer the
caller may not read (or that is not published as a collection) is absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ogcserve.errors import LayerNotDefinedError, SecurityError
from ogcserve.features import FieldType
from ogcserve.geo import transform_bbox

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ogcserve.context import RequestContext
    from ogcserve.features import Schema
    from ogcserve.projects.model import Layer, Project
    from ogcserve.projects.viewer import SearchPanel

_NUMBERS = (FieldType.INTEGER, FieldType.REAL)


def document(ctx: RequestContext, project: Project, root: str) -> dict[str, Any]:
    """The viewer's configuration for this caller; `root` is the server's URL prefix."""
    access = ctx.server.access
    tree = access.readable_layers(ctx, project.for_wms())  # the map: what WMS publishes
    name = quote(project.name)
    ogcapi = ctx.server.services.match_route(f"/ogcapi/{name}/collections") is not None
    data = [layer for top in tree for layer in top.walk() if not layer.is_group]
    # Searches read OGC API - Features, which also serves the layers WMS leaves out.
    searchable = [
        layer
        for top in access.readable_layers(ctx, project)
        for layer in top.walk()
        if not layer.is_group
    ]
    return {
        "project": project.name,
        "title": project.viewer.title or project.title,
        "wms": f"{root}/ows/{name}",
        "ogcapi": f"{root}/ogcapi/{name}" if ogcapi else None,
        "layers": _nodes(ctx, tree, project.top_first),
        "formatters": {layer.name: _formatters(ctx, layer) for layer in data},
        "modules": [_module_url(root, name, i, m) for i, m in enumerate(project.viewer.modules)],
        "searches": _searches(ctx, project, searchable) if ogcapi else [],
    }


def _module_url(root: str, project: str, index: int, module: str) -> str:
    # A path on this server (a plugin's route) is used as it is; a file is served by index.
    if module.startswith("/"):
        return f"{root}{module}"
    return f"{root}/viewer/{project}/modules/{index}"


def _nodes(ctx: RequestContext, layers: Sequence[Layer], top_first: bool) -> list[dict[str, Any]]:
    """The layers in drawing order, the bottom one first, as the page expects them."""
    ordered = reversed(layers) if top_first else layers
    return [_node(ctx, layer, top_first) for layer in ordered]


def _node(ctx: RequestContext, layer: Layer, top_first: bool) -> dict[str, Any]:
    node: dict[str, Any] = {"name": layer.name, "title": layer.title}
    if layer.is_group:
        node["children"] = _nodes(ctx, layer.children, top_first)
        return node
    node["queryable"] = layer.queryable
    node["extent"] = _extent(ctx, layer)
    return node


def _extent(ctx: RequestContext, layer: Layer) -> list[float] | None:
    access = ctx.server.access
    try:
        box = access.extent(ctx, layer)
        if box is None:
            return None
        return list(transform_bbox(tuple(box), access.crs(ctx, layer), "CRS:84"))
    except (ValueError, OSError):
        return None


def _formatters(ctx: RequestContext, layer: Layer) -> dict[str, Any]:
    if not layer.formatters:
        return {}
    visible = set(ctx.server.access.visible_fields(ctx, layer)) if not layer.is_raster else None
    return {
        field: [f.model_dump(exclude_none=True) for f in chain]
        for field, chain in layer.formatters.items()
        if visible is None or field in visible
    }


def _searches(ctx: RequestContext, project: Project, data: list[Layer]) -> list[dict[str, Any]]:
    readable = {layer.name: layer for layer in data}
    out = []
    for index, panel in enumerate(project.viewer.searches):
        layer = readable.get(panel.layer)
        if layer is None or layer.is_raster or not layer.wfs.publish:
            continue
        try:
            schema = ctx.server.access.schema(ctx, layer)
        except (SecurityError, LayerNotDefinedError):
            continue
        found = _search(index, panel, schema)
        if found is not None:
            out.append(found)
    return out


def _search(index: int, panel: SearchPanel, schema: Schema) -> dict[str, Any] | None:
    """One panel with only the fields and columns the caller may see (None: no field left)."""
    types = {f.name: f.type for f in schema.fields}
    fields = [
        {
            "name": f.name,
            "label": f.label or f.name,
            "op": f.op,
            "type": "number" if types[f.name] in _NUMBERS else "text",
        }
        for f in panel.fields
        if f.name in types
    ]
    if not fields:
        return None
    columns = [c for c in panel.columns or [f["name"] for f in fields] if c in types]
    return {
        "id": index,
        "title": panel.title,
        "layer": panel.layer,
        "fields": fields,
        "columns": columns,
        "limit": panel.limit,
        "zoomScale": panel.zoom_scale,
    }

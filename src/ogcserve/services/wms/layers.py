"""LAYERS / STYLES / FILTER resolved against the project and the caller's rights.

Shared by GetMap, GetFeatureInfo, GetLegendGraphic, DescribeLayer and GetStyles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ogcserve.errors import LayerNotDefinedError, NotFoundError
from ogcserve.expressions import Expression, conjunction
from ogcserve.projects.model import Layer
from ogcserve.services.wms.exceptions import StyleNotDefinedError
from ogcserve.services.wms.params import DEFAULT_STYLE

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Project


@dataclass(frozen=True, slots=True)
class MapLayer:
    """A data layer to draw or query, with the request's own filter for it."""

    layer: Layer
    style: str
    filter: Expression | None


def project_of(ctx: RequestContext) -> Project:
    """The request's project as WMS publishes it (without the layers whose `wms.publish` is
    off); there is none when the server serves nothing."""
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project.for_wms()


def style_names(layer: Layer) -> tuple[str, ...]:
    """The styles a layer offers: a project layer has exactly its default style."""
    return (DEFAULT_STYLE,)


def check_style(layer: Layer, style: str, locator: str = "STYLES") -> str:
    """The style's name; "" and "default" both mean the default (WMS 1.3.0 §7.3.3.4)."""
    if not style or style.lower() == DEFAULT_STYLE:
        return DEFAULT_STYLE
    if style not in style_names(layer):
        raise StyleNotDefinedError(
            f"The layer {layer.name!r} has no style {style!r}", locator=locator
        )
    return style


def named_layers(ctx: RequestContext, names: Sequence[str]) -> list[Layer]:
    """Each named layer as the caller may see it (see `named_layer`)."""
    return [named_layer(ctx, name) for name in names]


def named_layer(ctx: RequestContext, name: str) -> Layer:
    """A layer, a group pruned to its readable members, or the project itself.

    As in QGIS Server, the project is a layer named after the project (the root layer of the
    capabilities) standing for every readable layer; a layer or group of the same name wins.
    LayerNotDefined for an unknown name and for a group (or project) of which the caller may
    read nothing, Security (403) for a layer the caller may not read (the access layer decides).
    """
    project, data = project_of(ctx), ctx.server.access
    if project.layer(name) is None and name == project.name:
        return project_layer(ctx, project)
    return data.readable_layer(ctx, project, name)


def project_layer(ctx: RequestContext, project: Project) -> Layer:
    """The project as a group of every layer the caller may read, in project order."""
    children = tuple(ctx.server.access.readable_layers(ctx, project))
    if not children:
        raise LayerNotDefinedError.named(project.name)
    return Layer(
        name=project.name,
        title=project.title,
        abstract=project.abstract,
        keywords=project.keywords,
        children=children,
    )


def root_name(ctx: RequestContext, project: Project) -> str | None:
    """The Name of the capabilities' root layer: the project's, unless a layer has taken it
    (that name means the layer) or the caller may read nothing (it would name nothing)."""
    if project.layer(project.name) is not None:
        return None
    return project.name if ctx.server.access.readable_layers(ctx, project) else None


def map_layers(
    ctx: RequestContext,
    names: Sequence[str],
    styles: Sequence[str],
    filters: Mapping[str, Expression],
) -> list[MapLayer]:
    """LAYERS in drawing order (first is bottom, WMS 1.3.0 §7.3.3.3); a group (or the project)
    stands for its readable data layers in drawing order (project order, or its reverse for a
    project that lists its top layer first, as a QGIS project does), with the one STYLES entry
    given for it. FILTER entries may name a layer, a group or the project."""
    for name in filters:
        named_layer(ctx, name)  # LayerNotDefined / Security, as for LAYERS
    top_first = project_of(ctx).top_first
    result = []
    for layer, style in zip(named_layers(ctx, names), styles, strict=True):
        style = check_style(layer, style)
        for member, ancestors in _members(layer, (), top_first):
            parts = [filters.get(n) for n in (*ancestors, member.name)]
            result.append(MapLayer(member, style, conjunction([p for p in parts if p])))
    return result


def _members(
    layer: Layer, ancestors: tuple[str, ...], top_first: bool
) -> list[tuple[Layer, tuple[str, ...]]]:
    """The data layers under `layer`, the bottom one first."""
    if not layer.is_group:
        return [(layer, ancestors)]
    children = reversed(layer.children) if top_first else layer.children
    path = (*ancestors, layer.name)
    return [m for child in children for m in _members(child, path, top_first)]

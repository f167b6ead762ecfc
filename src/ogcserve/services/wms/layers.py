"""LAYERS / STYLES / FILTER resolved against the project and the caller's rights.

Shared by GetMap, GetFeatureInfo, GetLegendGraphic, DescribeLayer and GetStyles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ogcserve.errors import NotFoundError
from ogcserve.expressions import Expression, conjunction
from ogcserve.services.wms.exceptions import StyleNotDefinedError
from ogcserve.services.wms.params import DEFAULT_STYLE

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project


@dataclass(frozen=True, slots=True)
class MapLayer:
    """A data layer to draw or query, with the request's own filter for it."""

    layer: Layer
    style: str
    filter: Expression | None


def project_of(ctx: RequestContext) -> Project:
    """The request's project (there is none when the server serves nothing)."""
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project


def style_names(layer: Layer) -> tuple[str, ...]:
    """The styles a layer offers: a project layer has exactly its default style."""
    return (DEFAULT_STYLE,)


def check_style(layer: Layer, style: str, locator: str = "STYLES") -> str:
    """The style's name; "" and "default" both mean the default (WMS 1.3.0 §7.3.3.4)."""
    if not style or style.lower() == DEFAULT_STYLE:
        return DEFAULT_STYLE
    if style not in style_names(layer):
        raise StyleNotDefinedError(f"The layer {layer.name!r} has no style {style!r}",
                                   locator=locator)
    return style


def named_layers(ctx: RequestContext, names: Sequence[str]) -> list[Layer]:
    """Each named layer as the caller may see it (groups pruned to their readable members).

    LayerNotDefined for an unknown name, Security (403) for a layer the caller may not read.
    """
    project, data = project_of(ctx), ctx.server.data
    readable = {layer.name: layer for root in data.readable_layers(ctx, project)
                for layer in root.walk()}
    found = []
    for name in names:
        layer = data.layer(ctx, project, name)
        # A readable group whose members are all hidden is absent from the pruned tree.
        found.append(readable.get(name) or replace(layer, children=()))
    return found


def map_layers(
    ctx: RequestContext,
    names: Sequence[str],
    styles: Sequence[str],
    filters: Mapping[str, Expression],
) -> list[MapLayer]:
    """LAYERS in drawing order (first is bottom, WMS 1.3.0 §7.3.3.3); a group stands for its
    readable data layers in project order. FILTER entries may name a layer or a group."""
    project, data = project_of(ctx), ctx.server.data
    for name in filters:
        data.layer(ctx, project, name)  # LayerNotDefined / Security, as for LAYERS
    result = []
    for layer, style in zip(named_layers(ctx, names), styles, strict=True):
        style = check_style(layer, style)
        for member, ancestors in _members(layer, ()):
            parts = [filters.get(n) for n in (*ancestors, member.name)]
            result.append(MapLayer(member, style, conjunction([p for p in parts if p])))
    return result


def _members(layer: Layer, ancestors: tuple[str, ...]) -> list[tuple[Layer, tuple[str, ...]]]:
    if not layer.is_group:
        return [(layer, ancestors)]
    return [m for child in layer.children for m in _members(child, (*ancestors, layer.name))]

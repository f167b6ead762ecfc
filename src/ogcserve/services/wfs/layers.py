"""The feature types of a request: the project, and the layers the caller may read as WFS types.

Shared by every operation; the access layer decides what the caller may read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ogcserve.errors import LayerNotDefinedError, NotFoundError

from .params import type_name

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer, Project


def feature_layer(ctx: RequestContext, project: Project, name: str, locator: str) -> Layer:
    """A feature type the caller may read: unknown, raster or unpublished types do not exist
    (LayerNotDefined), readable ones that the caller may not read are 403 (access layer)."""
    layer = project.layer(type_name(name))
    if layer is None or layer.is_group or layer.is_raster or not layer.wfs.publish:
        raise LayerNotDefinedError(f"Unknown feature type {name!r}", locator=locator)
    return ctx.server.access.layer(ctx, project, layer.name)


def published_layers(ctx: RequestContext, project: Project) -> list[Layer]:
    """The feature types the caller may read, in project order."""
    out: list[Layer] = []
    for top in ctx.server.access.readable_layers(ctx, project):
        out.extend(
            layer
            for layer in top.walk()
            if not layer.is_group and not layer.is_raster and layer.wfs.publish
        )
    return out


def require_project(ctx: RequestContext) -> Project:
    """The request's project (the pipeline resolved it before the service ran)."""
    if ctx.project is None:
        raise NotFoundError("No project is served here")
    return ctx.project

"""GetLegendGraphic (SLD 1.1 §10.2, the WMS vendor operation clients expect): a layer's legend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ogcserve.rendering import encode
from ogcserve.services.wms.layers import check_style, named_layer
from ogcserve.services.wms.params import GetLegendGraphicParams

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.projects.model import Layer
    from ogcserve.services.wms.service import WMSService


def get_legend_graphic(ctx: RequestContext, service: WMSService) -> None:
    """Write the legend of LAYER (a group or the project: its readable members' legends, one
    under another)."""
    params = GetLegendGraphicParams.parse(ctx.request.params)
    layer = named_layer(ctx, params.layer)
    check_style(layer, params.style, locator="STYLE")
    image = legend_image(ctx, service, layer, params.scale)
    body = encode(image, params.format, transparent=params.transparent)
    ctx.response.set_header("Content-Type", params.format)
    ctx.response.write(body)


def legend_image(
    ctx: RequestContext, service: WMSService, layer: Layer, scale: float | None
) -> npt.NDArray[np.uint8]:
    """The legend as RGBA pixels: title, then one entry per rule/category/class/ramp stop."""
    members = [m for m in layer.walk() if not m.is_group]  # a group has one at least
    images = []
    for member in members:
        geometry_type = (
            None if member.is_raster else ctx.server.access.schema(ctx, member).geometry_type
        )
        hidden = ctx.server.access.hidden_fields(ctx, member)
        images.append(
            service.renderer.legend(member.title, member.style, geometry_type, scale, hidden)
        )
    return _stack(images)


def _stack(images: list[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    if len(images) == 1:
        return images[0]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0))) for image in images]
    return np.concatenate(padded, axis=0)

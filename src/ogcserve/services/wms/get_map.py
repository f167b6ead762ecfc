"""GetMap (WMS 1.3.0 §7.3, 1.1.1 §7.2): parse -> authorize -> query -> render -> encode."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ogcserve.access import Read
from ogcserve.coverages import CoverageRequest
from ogcserve.features import FeatureBatch
from ogcserve.geo import in_scale_range, normalize_crs, pixel_size, proj_code, read_window
from ogcserve.geo.wkb import WKBColumn
from ogcserve.rendering import LayerData, MapView, RasterLayerData, VectorLayerData, encode
from ogcserve.services.wms.layers import MapLayer, map_layers
from ogcserve.services.wms.params import GetMapParams

# Rows whose rings are read at once as a drawing's batches come (a PostGIS drawing's batch:
# sources/postgis.DRAWING_FETCH); fewer cost more per row.
_RINGS_ROWS = 10_000

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.rendering import Renderer
    from ogcserve.services.wms.service import WMSService


def get_map(ctx: RequestContext, service: WMSService) -> None:
    """Draw the requested layers and write the encoded image."""
    params = GetMapParams.parse(ctx.request.params, service.version, service.max_size(ctx))
    layers = map_layers(ctx, params.layers, params.styles, params.filters)
    view = MapView(
        params.bbox, proj_code(params.crs), params.width, params.height, params.background
    )
    scale = view.scale_denominator
    visible = [m for m in layers if in_scale_range(scale, m.layer.min_scale, m.layer.max_scale)]
    data = [d for d in (layer_data(ctx, service.renderer, view, m) for m in visible) if d]
    image = service.renderer.render(view, data, ctx.deadline.check)
    ctx.deadline.check()  # before encoding, which takes a while for a large image
    body = encode(image, params.format, transparent=params.transparent, bgcolor=params.bgcolor)
    ctx.response.set_header("Content-Type", params.format)
    ctx.response.write(body)


def layer_data(
    ctx: RequestContext, renderer: Renderer, view: MapView, item: MapLayer
) -> LayerData | None:
    """One layer's data for the view, read through the access layer (None: nothing there)."""
    data, layer = ctx.server.access, item.layer
    if layer.is_raster:
        request = CoverageRequest(view.bbox, view.crs, view.width, view.height)
        array = data.coverage(ctx, layer, request)
        return RasterLayerData(layer.name, layer.title, layer.style, array)
    crs = data.crs(ctx, layer)
    try:
        # Features just outside the view are read as far as their symbols reach into it (wide
        # strokes, markers, labels), so that tiles meet seamlessly; the renderer culls the same.
        grown = view.grown(renderer.reach(layer.style))
        window = read_window(grown, normalize_crs(view.crs), crs)
    except ValueError:
        return None  # the view lies outside the area where the layer's CRS is defined
    # Only the attributes the style needs, and of those only the ones the caller may see (a
    # hidden attribute reads as NULL to the style: it cannot leak through the rendering).
    fields = sorted(renderer.style_fields(layer.style) & set(data.visible_fields(ctx, layer)))
    # The window is given in the layer's CRS: our transformers are cached, the access
    # layer's per-read transformation is not.
    # Drawing needs no exact test against the window (the renderer culls on envelopes), and
    # reads WKB itself where the source can hand it over undecoded.
    size = _pixel_size(renderer, view, item, crs)
    read = Read(
        bbox=window,
        bbox_crs=crs,
        filter=item.filter,
        properties=fields,
        exact=False,
        wkb=True,
        pixel_size=size,
        tiny_lines=renderer.tiny_lines(layer.style) if size > 0 else (0.0, 0.0),
    )
    batches, column = _collect(b for b in data.features(ctx, layer, read) if len(b))
    geometries = column if column is not None else _geometries(batches)
    columns = {
        n: list(chain.from_iterable(b.columns.get(n, [None] * len(b)) for b in batches))
        for n in fields
    }
    schema = data.schema(ctx, layer)
    return VectorLayerData(
        layer.name, layer.title, layer.style, crs, geometries, columns, schema.geometry_type
    )


def _pixel_size(renderer: Renderer, view: MapView, item: MapLayer, crs: str) -> float:
    """The smallest length a pixel of `view` spans in the layer's CRS `crs`, when the layer's
    style lets the source thin its lines and polygons to it (0.0: it does not)."""
    if not renderer.outlines_only(item.layer.style):
        return 0.0
    return pixel_size(view.bbox, normalize_crs(view.crs), view.width, view.height, crs)


def _collect(batches: Iterable[FeatureBatch]) -> tuple[list[FeatureBatch], WKBColumn | None]:
    """`batches`, and their geometries as one WKB column with its rings read when every batch
    came as WKB (None otherwise). The rings are read every `_RINGS_ROWS` rows as the batches
    come: a database source makes its next batch meanwhile (`PostGISSource._ahead`)."""
    out: list[FeatureBatch] = []
    read: list[WKBColumn] = []
    pending: list[WKBColumn] = []
    for batch in batches:
        out.append(batch)
        if batch.wkb is not None:
            pending.append(batch.wkb)
            if sum(len(c) for c in pending) >= _RINGS_ROWS:
                read.append(WKBColumn.concat(pending).with_rings())
                pending = []
    if pending:
        read.append(WKBColumn.concat(pending).with_rings())
    if not out or any(b.wkb is None for b in out):
        return out, None
    return out, WKBColumn.concat(read)


def _geometries(batches: list[FeatureBatch]) -> npt.NDArray[np.object_]:
    """The batches' geometries as shapely objects (when some did not come as WKB)."""
    parts = [
        b.geometries
        if b.geometries is not None
        else b.wkb.geometries()
        if b.wkb is not None
        else np.full(len(b), None, dtype=object)
        for b in batches
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)

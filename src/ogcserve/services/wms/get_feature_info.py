"""GetFeatureInfo (WMS 1.3.0 §7.4, 1.1.1 §7.3): the features under a clicked pixel.

The pixel becomes a small box in the map's CRS (a tolerance per geometry type, so that a point
or a thin line can be hit at all), read through the access layer; the features are then tested
exactly against it with shapely, nearest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

from ogcserve.access import Read
from ogcserve.coverages import CoverageRequest
from ogcserve.features import Feature
from ogcserve.geo import (
    BBox,
    in_scale_range,
    proj_code,
    read_window,
    scale_denominator,
    transformer,
)
from ogcserve.rendering.styles import geometry_family
from ogcserve.services.wms.exceptions import LayerNotQueryableError
from ogcserve.services.wms.info_formats import LayerResult, write_info
from ogcserve.services.wms.layers import MapLayer, map_layers, project_of
from ogcserve.services.wms.params import GetFeatureInfoParams, GetMapParams

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.services.wms.service import WMSService

# Search radius in pixels around the clicked pixel's centre, per geometry family.
TOLERANCE_PX = {"point": 8, "line": 4, "polygon": 1}
DEFAULT_TOLERANCE_PX = 4


def get_feature_info(ctx: RequestContext, service: WMSService) -> None:
    """Write the features of QUERY_LAYERS at pixel I,J (X,Y) in INFO_FORMAT."""
    params = GetFeatureInfoParams.parse(ctx.request.params, service.version, service.max_size(ctx))
    write_feature_info(ctx, params)


def write_feature_info(ctx: RequestContext, params: GetFeatureInfoParams) -> None:
    """Query the layers of parsed parameters and write the answer (WMTS GetFeatureInfo too)."""
    targets = query_layers(ctx, params)
    view = params.map
    scale = scale_denominator(view.bbox, view.crs, view.width)
    data = ctx.server.access
    precision = ctx.project.wms.feature_info_precision if ctx.project is not None else None
    results = [
        LayerResult(
            item.layer,
            data.visible_fields(ctx, item.layer),
            query(ctx, item, params)
            if in_scale_range(scale, item.layer.min_scale, item.layer.max_scale)
            else [],
            view.crs if item.layer.is_raster else data.crs(ctx, item.layer),
            precision,
        )
        for item in targets
    ]
    body, content_type = write_info(params.info_format, results, view.crs, params.with_geometry)
    ctx.response.set_header("Content-Type", content_type)
    ctx.response.write(body)


def query_layers(ctx: RequestContext, params: GetFeatureInfoParams) -> list[MapLayer]:
    """QUERY_LAYERS as readable data layers; LayerNotQueryable for a layer that is not.

    LAYERS (the map clicked on) is resolved too, as QGIS Server does: a layer there that does
    not exist is LayerNotDefined, one the caller may not read is Security, even when only
    readable layers are queried. A group's members are answered in project order (a QGIS
    project's top layer first, as QGIS Server answers), not in drawing order.
    """
    map_layers(ctx, params.map.layers, params.map.styles, params.map.filters)
    top_first = project_of(ctx).top_first
    result = []
    for name in params.query_layers:
        members = map_layers(ctx, [name], [""], params.map.filters)
        if top_first:
            members.reverse()
        if members and not any(m.layer.queryable for m in members):
            raise LayerNotQueryableError(f"The layer {name!r} is not queryable", locator=name)
        result += [m for m in members if m.layer.queryable]
    return result


def query(ctx: RequestContext, item: MapLayer, params: GetFeatureInfoParams) -> list[Feature]:
    """The features of one layer under the pixel, nearest first, at most FEATURE_COUNT."""
    view, data, layer = params.map, ctx.server.access, item.layer
    x, y, res_x, res_y = _pixel(view, params.i, params.j)
    if layer.is_raster:
        cell = (x - res_x / 2, y - res_y / 2, x + res_x / 2, y + res_y / 2)
        values = data.coverage(ctx, layer, CoverageRequest(cell, proj_code(view.crs), 1, 1))
        if np.ma.is_masked(values) and np.ma.getmaskarray(values).all():
            return []
        bands = {f"band_{n + 1}": _scalar(values[n, 0, 0]) for n in range(values.shape[0])}
        return [Feature(None, shapely.Point(x, y), bands)]
    family = geometry_family(data.schema(ctx, layer).geometry_type)
    radius = TOLERANCE_PX.get(family or "", DEFAULT_TOLERANCE_PX)
    box: BBox = (x - radius * res_x, y - radius * res_y, x + radius * res_x, y + radius * res_y)
    crs = data.crs(ctx, layer)
    try:
        window = read_window(box, view.crs, crs)
    except ValueError:
        return []
    # The index's envelope test is enough: the exact one follows, against the pixel's region.
    read = Read(bbox=window, bbox_crs=crs, filter=item.filter, exact=False)
    features = [f for batch in data.features(ctx, layer, read) for f in batch.rows()]
    if not features:
        return []
    # The exact test, in the layer's CRS: the box read above is only the index's answer.
    to_layer = transformer(view.crs, crs)
    region = shapely.transform(
        shapely.box(*box), lambda c: np.column_stack(to_layer.transform(c[:, 0], c[:, 1]))
    )
    centre = shapely.Point(*to_layer.transform(x, y))
    geometries = np.array([f.geometry for f in features], dtype=object)
    hit = np.flatnonzero(shapely.intersects(geometries, region))
    order = hit[np.argsort(shapely.distance(geometries[hit], centre), kind="stable")]
    return [features[i] for i in order[: params.feature_count]]


def _pixel(view: GetMapParams, i: int, j: int) -> tuple[float, float, float, float]:
    # The centre of pixel (i, j); j counts rows from the top (WMS 1.3.0 §7.4.3.7).
    minx, miny, maxx, maxy = view.bbox
    res_x, res_y = (maxx - minx) / view.width, (maxy - miny) / view.height
    return minx + (i + 0.5) * res_x, maxy - (j + 0.5) * res_y, res_x, res_y


def _scalar(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value

"""CRS, axis order, bounding boxes and scale: pure functions, shared by the services."""

from ogcserve.geo.bbox import (
    BBox,
    ValidArea,
    clip_to_valid,
    from_xy,
    parse_bbox,
    read_window,
    swaps_axes,
    to_xy,
    transform_bbox,
    union,
    valid_area,
)
from ogcserve.geo.crs import (
    UnknownCRSError,
    crs_object,
    is_north_first,
    metres_per_unit,
    normalize_crs,
    proj_code,
    transformer,
)
from ogcserve.geo.scale import (
    OGC_PIXEL_SIZE_M,
    in_scale_range,
    pixel_size,
    scale_denominator,
    scale_hint,
)

__all__ = [
    "OGC_PIXEL_SIZE_M",
    "BBox",
    "UnknownCRSError",
    "ValidArea",
    "clip_to_valid",
    "crs_object",
    "from_xy",
    "in_scale_range",
    "is_north_first",
    "metres_per_unit",
    "normalize_crs",
    "parse_bbox",
    "pixel_size",
    "proj_code",
    "read_window",
    "scale_denominator",
    "scale_hint",
    "swaps_axes",
    "to_xy",
    "transform_bbox",
    "transformer",
    "union",
    "valid_area",
]

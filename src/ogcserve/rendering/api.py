"""The seam between the WMS service and the map renderer (the contract both sides code to).

The service reads features through the access layer and hands them over as `VectorLayerData`
(shapely geometries in the layer's native CRS, columns for the style's fields) or
`RasterLayerData`; the renderer reprojects, styles, draws, labels and returns RGBA pixels.
Encoding is separate (`encode`), so that plugins can touch the image before it is encoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyproj

from ogcserve.geo.wkb import WKBColumn

BBox = tuple[float, float, float, float]
RGBA = tuple[int, int, int, int]

# OGC WMS 1.3.0 §7.2.4.6.9: the "standardized rendering pixel size" is 0.28 mm.
OGC_PIXEL_SIZE_M = 0.00028
# WMTS 1.0.0 §6.1.1 / SLD practice: a degree is this many metres (equatorial circumference / 360).
METRES_PER_DEGREE = 6378137 * 2 * np.pi / 360


@dataclass(frozen=True, slots=True)
class MapView:
    """What the map shows: an extent in a CRS, drawn at a pixel size.

    `bbox` is always (minx, miny, maxx, maxy) in the CRS's x/y (east/north) order: the service
    has already undone the WMS 1.3.0 axis order.
    """

    bbox: BBox
    crs: str
    width: int
    height: int
    background: RGBA = (255, 255, 255, 0)

    def __post_init__(self) -> None:
        minx, miny, maxx, maxy = self.bbox
        if not (maxx > minx and maxy > miny):
            raise ValueError(f"empty or inverted bbox {self.bbox}")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"image size {self.width}x{self.height} is empty")

    def grown(self, pixels: float) -> BBox:
        """The bbox grown by `pixels` on every side (what a symbol that far away may touch)."""
        minx, miny, maxx, maxy = self.bbox
        dx = (maxx - minx) / self.width * pixels
        dy = (maxy - miny) / self.height * pixels
        return minx - dx, miny - dy, maxx + dx, maxy + dy

    @property
    def scale_denominator(self) -> float:
        """The OGC scale denominator (0.28 mm pixels; degrees at the equator for geographic)."""
        width_m = (self.bbox[2] - self.bbox[0]) * metres_per_unit(self.crs)
        return float(width_m / self.width / OGC_PIXEL_SIZE_M)


@lru_cache(maxsize=256)
def metres_per_unit(crs: str) -> float:
    """Metres in one unit of the CRS's first axis (degrees: at the equator)."""
    parsed = pyproj.CRS.from_user_input(crs)
    if parsed.is_geographic:
        return float(METRES_PER_DEGREE)
    axes = parsed.axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


@dataclass(frozen=True, slots=True)
class VectorLayerData:
    """One vector layer's features for the view, in the layer's native CRS."""

    name: str
    title: str
    style: Mapping[str, Any]  # the layer's `style:` block of the project file
    crs: str
    # shapely geometries (None allowed), or the same as WKB, which the renderer reads itself
    geometries: npt.NDArray[np.object_] | WKBColumn
    columns: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # fields the style uses
    geometry_type: str | None = None  # POINT, MULTIPOLYGON, ... (schema's)


@dataclass(frozen=True, slots=True)
class RasterLayerData:
    """One raster layer already read for the view (reprojected to the view's grid)."""

    name: str
    title: str
    style: Mapping[str, Any]
    array: npt.NDArray[Any]  # masked array (bands, height, width) on the view grid


LayerData = VectorLayerData | RasterLayerData


class MapRenderer(Protocol):
    """Draws layers, bottom first, into an RGBA image of the view's size."""

    def style_fields(self, style: Mapping[str, Any]) -> set[str]:
        """The attribute names a style needs (categories, ranges, rules, labels, rotation)."""
        ...

    def render(self, view: MapView, layers: Sequence[LayerData]) -> npt.NDArray[np.uint8]:
        """(height, width, 4) uint8 RGBA, not premultiplied."""
        ...

    def legend(
        self,
        title: str,
        style: Mapping[str, Any],
        geometry_type: str | None,
        scale_denominator: float | None = None,
    ) -> npt.NDArray[np.uint8]:
        """A legend image: the title, then one entry per rule/category/class/ramp stop."""
        ...

"""The map renderer: symbols, labels, legends and image encoders (Skia, libvips, Pillow).

renderer = Renderer()                       # one per server
fields = renderer.style_fields(layer.style)  # what to read from the source
rgba = renderer.render(MapView(bbox, "EPSG:3857", 1024, 768), [VectorLayerData(...)])
body = encode(rgba, "image/png", transparent=True, bgcolor=(255, 255, 255))
"""

from .api import (
    OGC_PIXEL_SIZE_M,
    LayerData,
    MapRenderer,
    MapView,
    RasterLayerData,
    VectorLayerData,
)
from .encode import MIME_TYPES, encode, normalize_mime
from .renderer import Renderer
from .styles import Style, parse_style, validate_style

__all__ = [
    "MIME_TYPES",
    "OGC_PIXEL_SIZE_M",
    "LayerData",
    "MapRenderer",
    "MapView",
    "RasterLayerData",
    "Renderer",
    "Style",
    "VectorLayerData",
    "encode",
    "normalize_mime",
    "parse_style",
    "validate_style",
]

"""GeoTIFF written with tifffile: the pixels, then the GeoTIFF and GDAL tags a reader needs
(EPSG code, pixel scale and tie point, nodata, band descriptions). GDAL's GTiff driver writing
to memory costs 1.2-1.5 ms a 512 x 512 answer, most of it fixed, against 0.2-0.3 ms here
(docs/decisions/0007-wcs-nearest-sampler.md). Only CRSs that an EPSG code names are written
this way; anything else is left to GDAL (None)."""

from __future__ import annotations

import io
import math
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt
import tifffile
from affine import Affine
from rasterio.crs import CRS

# GeoTIFF keys (OGC GeoTIFF 1.1): model type, raster type, geographic and projected CRS codes.
_MODEL_TYPE, _RASTER_TYPE, _GEOGRAPHIC, _PROJECTED = 1024, 1025, 2048, 3072
_PIXEL_IS_AREA = 1
# TIFF tags: ModelPixelScale, ModelTiepoint, GeoKeyDirectory, GDAL_METADATA, GDAL_NODATA.
_SCALE, _TIEPOINT, _GEOKEYS, _GDAL_METADATA, _GDAL_NODATA = 33550, 33922, 34735, 42112, 42113


def _geokeys(crs: CRS) -> tuple[int, ...] | None:
    """The GeoKeyDirectory of a CRS named by an EPSG code, or None."""
    code = crs.to_epsg()
    if code is None or not (crs.is_projected or crs.is_geographic):
        return None
    model, key = (1, _PROJECTED) if crs.is_projected else (2, _GEOGRAPHIC)
    keys = ((_MODEL_TYPE, model), (_RASTER_TYPE, _PIXEL_IS_AREA), (key, code))
    return (1, 1, 0, len(keys), *(v for k, value in keys for v in (k, 0, 1, value)))


def _nodata_text(nodata: float) -> str:
    """GDAL's spelling: integers without a fraction, NaN as nan."""
    if math.isnan(nodata):
        return "nan"
    return str(int(nodata)) if float(nodata).is_integer() else repr(float(nodata))


def geotiff(
    data: npt.NDArray[Any],
    crs: CRS,
    transform: Affine,
    nodata: float | None,
    descriptions: list[str],
) -> bytes | None:
    """`data` (bands, rows, cols) as an uncompressed GeoTIFF, or None if `crs` or the data
    type is not one this writes (GDAL does it then)."""
    keys = _geokeys(crs)
    if keys is None or data.dtype.kind not in "iuf" or transform.b or transform.d:
        return None
    tags: list[tuple[int, str, int, Any, bool]] = [
        (_SCALE, "d", 3, (transform.a, -transform.e, 0.0), False),
        (_TIEPOINT, "d", 6, (0.0, 0.0, 0.0, transform.c, transform.f, 0.0), False),
        (_GEOKEYS, "H", len(keys), keys, False),
    ]
    if any(descriptions):
        # GDAL escapes item values twice (the value, then the XML document) and reads them so.
        items = "".join(
            f'<Item name="DESCRIPTION" sample="{i}" role="description">{escape(escape(name))}'
            "</Item>"
            for i, name in enumerate(descriptions)
            if name
        )
        tags.append((_GDAL_METADATA, "s", 0, f"<GDALMetadata>{items}</GDALMetadata>", False))
    if nodata is not None:
        tags.append((_GDAL_NODATA, "s", 0, _nodata_text(nodata), False))
    out = io.BytesIO()
    pixels = np.ascontiguousarray(data[0] if data.shape[0] == 1 else data)
    tifffile.imwrite(
        out,
        pixels,
        photometric="minisblack",
        planarconfig="separate" if data.shape[0] > 1 else None,
        extratags=tags,
        metadata=None,
        software=False,
    )
    return out.getvalue()

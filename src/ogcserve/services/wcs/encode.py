"""GetCoverage output: GeoTIFF (georeferenced, nodata and band descriptions kept) or PNG."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds

from ogcserve.coverages import CoverageInfo, CoverageRequest
from ogcserve.errors import InvalidFormatError
from ogcserve.services.wcs.geotiff import geotiff

GEOTIFF = "image/tiff"
PNG = "image/png"
# Names clients send for the two formats (WCS 1.0 lists names, 1.1 and 2.0 MIME types).
_FORMATS = {
    "image/tiff": GEOTIFF,
    "image/geotiff": GEOTIFF,
    "image/tiff;subtype=geotiff": GEOTIFF,
    "geotiff": GEOTIFF,
    "gtiff": GEOTIFF,
    "tiff": GEOTIFF,
    "image/png": PNG,
    "png": PNG,
}
# WCS 1.0.0 lists formats as xs:Name (no "/"): the GDAL-style names MapServer uses too.
FORMATS_1_0 = ("GeoTIFF", "PNG")
FORMATS = (GEOTIFF, PNG)
# PNG holds 8 or 16-bit unsigned integers; anything else is stretched to bytes.
_PNG_TYPES = ("uint8", "uint16")


def output_format(value: str, locator: str = "format") -> str:
    """The MIME type of a FORMAT value (GeoTIFF when empty); InvalidFormat if unknown."""
    if not value.strip():
        return GEOTIFF
    found = _FORMATS.get(value.strip().lower().replace(" ", "").replace('"', ""))
    if found is None:
        raise InvalidFormatError(f"Unknown output format {value!r}", locator=locator)
    return found


def encode(
    data: npt.NDArray[Any], request: CoverageRequest, info: CoverageInfo, mime: str
) -> bytes:
    """The masked (bands, rows, cols) array as a file of type `mime`."""
    if mime == PNG:
        return _png(data)
    bands = list(request.bands) if request.bands else list(range(1, info.band_count + 1))
    filled = np.ma.filled(data, info.nodata if info.nodata is not None else 0)
    crs = CRS.from_user_input(request.crs)
    transform = from_bounds(*request.bbox, request.width, request.height)
    names = [info.band_names[b - 1] if len(info.band_names) >= b else "" for b in bands]
    fast = geotiff(filled, crs, transform, info.nodata, names)
    if fast is not None:
        return fast
    profile = {
        "driver": "GTiff",
        "width": request.width,
        "height": request.height,
        "count": len(bands),
        "dtype": str(filled.dtype),
        "crs": crs,
        "transform": transform,
        "nodata": info.nodata,
    }
    if request.width >= 256 and request.height >= 256:
        profile |= {"tiled": True, "blockxsize": 256, "blockysize": 256}
    with MemoryFile() as memory:
        with memory.open(**profile) as out:
            out.write(filled)
            for index, name in enumerate(names, start=1):
                if name:
                    out.set_band_description(index, name)
        return bytes(memory.read())


def _png(data: npt.NDArray[Any]) -> bytes:
    """One band as grey, three or four as RGB(A); nodata transparent through an alpha band."""
    bands = data if data.shape[0] in (1, 3) else data[:1]
    if str(bands.dtype) not in _PNG_TYPES:
        bands = _stretch(bands)
    alpha_on = bool(np.ma.getmaskarray(bands).any())
    values = np.ma.filled(bands, 0)
    if alpha_on:
        top = 255 if values.dtype == np.uint8 else 65535
        alpha = np.where(np.ma.getmaskarray(bands).any(axis=0), 0, top).astype(values.dtype)
        values = np.concatenate([values, alpha[np.newaxis]])
    count, height, width = values.shape
    # The PNG holds no georeferencing, but a dataset opened without a transform makes
    # rasterio warn (NotGeoreferencedWarning, to the server's stderr on every answer). The
    # pixel grid itself, row 0 at the top, is a transform that is neither the identity nor
    # its flip (rasterio warns about those too) and changes no byte of the file.
    pixel_grid = Affine(1.0, 0.0, 0.0, 0.0, -1.0, float(height))
    with MemoryFile() as memory:
        with memory.open(
            driver="PNG",
            width=width,
            height=height,
            count=count,
            dtype=str(values.dtype),
            transform=pixel_grid,
        ) as out:
            out.write(values)
        return bytes(memory.read())


def _stretch(bands: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Values spread linearly from their minimum to their maximum over 0..255."""
    mask = np.ma.getmaskarray(bands)
    values = np.ma.filled(bands.astype("float64"), np.nan)
    if mask.all():
        return np.ma.MaskedArray(np.zeros(bands.shape, dtype="uint8"), mask=mask)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = (high - low) or 1.0
    scaled = np.clip(np.nan_to_num((values - low) * (255.0 / span)), 0, 255)
    return np.ma.MaskedArray(np.round(scaled).astype("uint8"), mask=mask)

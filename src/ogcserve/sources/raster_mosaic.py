"""A folder of GeoTIFFs as one raster: a VRT document placing each file on the common grid.

The files must share CRS, resolution, band count and data type, and lie on one pixel grid; GDAL
opens the document as it opens a file (`rasterio.open(xml)`), reading only the files under a
window."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import rasterio
from lxml import etree
from rasterio.errors import RasterioIOError

from ogcserve.sources.base import SourceUnavailableError

_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2")
_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


def mosaic_vrt(folder: Path) -> str:
    """The VRT document of the rasters in `folder`; SourceUnavailableError if they do not
    make one grid."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES)
    if not files:
        raise SourceUnavailableError(f"No raster in the folder {folder.name}")
    tiles = [_describe(path) for path in files]
    first = tiles[0]
    for tile in tiles[1:]:
        for key in ("crs", "res", "count", "dtype", "nodata"):
            if tile[key] != first[key]:
                raise SourceUnavailableError(
                    f"{tile['path'].name} and {first['path'].name} differ in {key}: "
                    "a folder mosaic needs one grid"
                )
    rx, ry = first["res"]
    left = min(t["bounds"][0] for t in tiles)
    top = max(t["bounds"][3] for t in tiles)
    width = round((max(t["bounds"][2] for t in tiles) - left) / rx)
    height = round((top - min(t["bounds"][1] for t in tiles)) / ry)
    root = etree.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    etree.SubElement(root, "SRS").text = first["crs"]
    etree.SubElement(root, "GeoTransform").text = f"{left!r}, {rx!r}, 0, {top!r}, 0, {-ry!r}"
    for band in range(1, first["count"] + 1):
        _band(root, band, first, tiles, (left, top))
    return str(etree.tostring(root, encoding="unicode"))


def _describe(path: Path) -> dict[str, Any]:
    try:
        with rasterio.open(path) as ds:
            transform = ds.transform
            if transform.b != 0 or transform.d != 0:
                raise SourceUnavailableError(f"{path.name} is rotated: no mosaic of it")
            return {
                "path": path,
                "crs": ds.crs.to_wkt() if ds.crs else "",
                "res": (float(ds.res[0]), float(ds.res[1])),
                "count": ds.count,
                "dtype": ds.dtypes[0],
                "nodata": ds.nodata,
                "bounds": tuple(ds.bounds),
                "size": (ds.width, ds.height),
                "names": ds.descriptions,
            }
    except RasterioIOError as exc:
        raise SourceUnavailableError(f"Cannot open raster {path.name}: {exc}") from None


def _band(
    root: etree._Element,
    band: int,
    first: dict[str, Any],
    tiles: list[dict[str, Any]],
    origin: tuple[float, float],
) -> None:
    element = etree.SubElement(
        root, "VRTRasterBand", dataType=_GDAL_TYPES.get(first["dtype"], "Float64"), band=str(band)
    )
    if first["names"][band - 1]:
        etree.SubElement(element, "Description").text = first["names"][band - 1]
    nodata = first["nodata"]
    if nodata is not None:
        etree.SubElement(element, "NoDataValue").text = repr(nodata)
    rx, ry = first["res"]
    for tile in tiles:
        source = etree.SubElement(
            element, "ComplexSource" if nodata is not None else "SimpleSource"
        )
        etree.SubElement(source, "SourceFilename", relativeToVRT="0").text = str(tile["path"])
        etree.SubElement(source, "SourceBand").text = str(band)
        width, height = tile["size"]
        col = (tile["bounds"][0] - origin[0]) / rx
        row = (origin[1] - tile["bounds"][3]) / ry
        if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
            raise SourceUnavailableError(f"{tile['path'].name} is off the mosaic's pixel grid")
        etree.SubElement(source, "SrcRect", xOff="0", yOff="0", xSize=str(width), ySize=str(height))
        etree.SubElement(
            source,
            "DstRect",
            xOff=str(round(col)),
            yOff=str(round(row)),
            xSize=str(width),
            ySize=str(height),
        )
        if nodata is not None and not math.isnan(nodata):
            etree.SubElement(source, "NODATA").text = repr(nodata)

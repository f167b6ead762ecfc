"""WMS format strings in one place: GetMap/GetLegendGraphic image formats, GetFeatureInfo
INFO_FORMATs and EXCEPTIONS modes, each with the aliases clients send and its parser."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from ogcserve.errors import InvalidFormatError, MissingParameterValueError

# Output formats of GetMap / GetLegendGraphic: the advertised MIME type -> what the encoder takes.
MAP_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "image/png": "image/png",
        "image/png; mode=8bit": "image/png; mode=8bit",
        "image/jpeg": "image/jpeg",
        "image/webp": "image/webp",
    }
)
_FORMAT_ALIASES = {
    "png": "image/png",
    "image/png24": "image/png",
    "image/png32": "image/png",
    "png8": "image/png; mode=8bit",
    "image/png8": "image/png; mode=8bit",
    "image/png;mode=8bit": "image/png; mode=8bit",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "webp": "image/webp",
}


class InfoFormat(StrEnum):
    """GetFeatureInfo output formats (INFO_FORMAT), in the order the capabilities list them.

    QGIS desktop identifies with the last format it reads as features, and reads a JSON answer
    only when its header is spelled `Content-Type`; uvicorn (httptools) sends header names in
    lower case, so JSON comes before the GML formats and QGIS asks for GML 3.
    """

    TEXT = "text/plain"
    HTML = "text/html"
    XML = "text/xml"
    GEOJSON = "application/json"
    GML2 = "application/vnd.ogc.gml"
    GML3 = "application/vnd.ogc.gml/3.1.1"


_INFO_ALIASES = {
    "application/geo+json": InfoFormat.GEOJSON,
    "application/geojson": InfoFormat.GEOJSON,
    "json": InfoFormat.GEOJSON,
    "gml": InfoFormat.GML2,
    "application/gml+xml": InfoFormat.GML3,
    "text/xml; subtype=gml/3.1.1": InfoFormat.GML3,
    "application/vnd.ogc.gml/2.1.2": InfoFormat.GML2,
}


class ExceptionMode(StrEnum):
    """How errors are reported (EXCEPTIONS)."""

    XML = "XML"
    INIMAGE = "INIMAGE"
    BLANK = "BLANK"


# WMS 1.3.0 §6.9 names XML/INIMAGE/BLANK; 1.1.1 §6.9 the MIME types. Both are accepted in
# either version (clients mix them up), each version advertises its own.
EXCEPTION_FORMATS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "1.3.0": ("XML", "INIMAGE", "BLANK"),
        "1.1.1": (
            "application/vnd.ogc.se_xml",
            "application/vnd.ogc.se_inimage",
            "application/vnd.ogc.se_blank",
        ),
    }
)
_EXCEPTION_MODES = {
    "XML": ExceptionMode.XML,
    "INIMAGE": ExceptionMode.INIMAGE,
    "BLANK": ExceptionMode.BLANK,
    "APPLICATION/VND.OGC.SE_XML": ExceptionMode.XML,
    "APPLICATION/VND.OGC.SE_INIMAGE": ExceptionMode.INIMAGE,
    "APPLICATION/VND.OGC.SE_BLANK": ExceptionMode.BLANK,
}


def exception_mode(params: Mapping[str, str]) -> ExceptionMode:
    """EXCEPTIONS; anything unknown is XML (the default of both versions)."""
    return _EXCEPTION_MODES.get(params.get("EXCEPTIONS", "").strip().upper(), ExceptionMode.XML)


def map_format(value: str, locator: str = "FORMAT") -> str:
    """The canonical MIME type of an image format, or InvalidFormat."""
    text = value.strip().lower()
    if not text:
        raise MissingParameterValueError(f"The {locator} parameter is missing", locator=locator)
    compact = text.replace(" ", "")
    canonical = _FORMAT_ALIASES.get(compact) or next(
        (f for f in MAP_FORMATS if f.replace(" ", "") == compact), None
    )
    if canonical is None:
        raise InvalidFormatError(f"The format {value!r} is not offered", locator=locator)
    return canonical


def info_format(value: str) -> InfoFormat:
    """INFO_FORMAT (default text/plain, as QGIS does), or InvalidFormat."""
    text = value.strip().lower()
    if not text:
        return InfoFormat.TEXT
    try:
        return InfoFormat(text)
    except ValueError:
        pass
    found = _INFO_ALIASES.get(text) or _INFO_ALIASES.get(text.replace(" ", ""))
    if found is None:
        raise InvalidFormatError(f"The info format {value!r} is not offered", locator="INFO_FORMAT")
    return found

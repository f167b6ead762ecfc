"""WMS request parameters: the OGC strings (versions, formats, exception modes) and the parsed,
validated `*Params` each operation works with.

Parsing raises the OGC error of the first bad parameter, in the order WMS 1.3.0 §7.3.2 lists
them; sizes are checked before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from ogcserve.errors import (
    FilterError,
    InvalidCRSError,
    InvalidFormatError,
    InvalidParameterValueError,
    MissingParameterValueError,
)
from ogcserve.expressions import Expression, conjunction, parse
from ogcserve.geo import (
    BBox,
    UnknownCRSError,
    crs_object,
    normalize_crs,
    parse_bbox,
    to_xy,
    transformer,
)
from ogcserve.services.wms.exceptions import InvalidPointError, StyleNotDefinedError

VERSIONS = ("1.3.0", "1.1.1")
DEFAULT_MAX_SIZE = 4096
DEFAULT_STYLE = "default"

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


def version_of(params: Mapping[str, str]) -> str:
    """VERSION (WMTVER for pre-1.1 clients), the newest when absent."""
    return (params.get("VERSION") or params.get("WMTVER") or VERSIONS[0]).strip()


@dataclass(frozen=True, slots=True)
class GetMapParams:
    """A map request: what to draw, where and how (also the map part of GetFeatureInfo)."""

    version: str
    layers: tuple[str, ...]
    styles: tuple[str, ...]  # one per layer, "" for the default
    crs: str  # normalized: EPSG:n or CRS:84
    bbox: BBox  # x/y order, whatever the version's wire order
    width: int
    height: int
    format: str
    transparent: bool = False
    bgcolor: tuple[int, int, int] = (255, 255, 255)
    filters: Mapping[str, Expression] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(
        cls, params: Mapping[str, str], version: str, max_size: int, *, needs_format: bool = True
    ) -> GetMapParams:
        """Validate the GetMap parameters (WMS 1.3.0 Table 8, 1.1.1 Table 5)."""
        layers = _names(_required(params, "LAYERS"))
        styles = _styles(params.get("STYLES", ""), len(layers))
        crs = _crs(params, version)
        bbox = _bbox(params, crs, version)
        width = cls.size(params, "WIDTH", max_size)
        height = cls.size(params, "HEIGHT", max_size)
        # GetFeatureInfo draws nothing: its FORMAT is not used, so not checked (as QGIS).
        image_format = map_format(params.get("FORMAT", "")) if needs_format else "image/png"
        return cls(
            version=version,
            layers=layers,
            styles=styles,
            crs=crs,
            bbox=bbox,
            width=width,
            height=height,
            format=image_format,
            transparent=params.get("TRANSPARENT", "").strip().upper() == "TRUE",
            bgcolor=_bgcolor(params.get("BGCOLOR", "")),
            filters=MappingProxyType(parse_filters(params.get("FILTER", ""))),
        )

    @property
    def background(self) -> tuple[int, int, int, int]:
        """BGCOLOR, fully transparent when TRANSPARENT=TRUE (WMS 1.3.0 §7.3.3.9)."""
        return (*self.bgcolor, 0 if self.transparent else 255)

    @staticmethod
    def size(params: Mapping[str, str], key: str, max_size: int) -> int:
        """WIDTH or HEIGHT: a positive integer up to `max_size` (refused before any allocation)."""
        value = _integer(_required(params, key), key)
        if not 0 < value <= max_size:
            raise InvalidParameterValueError(
                f"{key} must be between 1 and {max_size}, not {value}", locator=key
            )
        return value

    @staticmethod
    def background_of(params: Mapping[str, str]) -> tuple[int, int, int, int]:
        """The background of BGCOLOR and TRANSPARENT, without parsing the rest."""
        alpha = 0 if params.get("TRANSPARENT", "").strip().upper() == "TRUE" else 255
        return (*_bgcolor(params.get("BGCOLOR", "")), alpha)


@dataclass(frozen=True, slots=True)
class GetFeatureInfoParams:
    """A feature info request: the map it was clicked on, the pixel, the layers to query."""

    map: GetMapParams
    query_layers: tuple[str, ...]
    info_format: InfoFormat
    i: int  # column of the clicked pixel, from the left
    j: int  # row, from the top
    feature_count: int
    # Vendor parameter, as in QGIS Server: geometries are left out of the answer unless asked.
    with_geometry: bool = False

    @classmethod
    def parse(cls, params: Mapping[str, str], version: str, max_size: int) -> GetFeatureInfoParams:
        """Validate the GetFeatureInfo parameters (WMS 1.3.0 Table 9, 1.1.1 Table 7)."""
        # Many clients leave out the GetMap part they do not need; LAYERS defaults to the
        # queried layers and FORMAT is not used.
        query_layers = _names(_required(params, "QUERY_LAYERS"))
        merged = dict(params)
        merged.setdefault("LAYERS", ",".join(query_layers))
        map_params = GetMapParams.parse(merged, version, max_size, needs_format=False)
        # WMS 1.3.0 §7.4.3.7 names the pixel I/J; 1.1.1 §7.3.3.8 X/Y.
        i_key, j_key = ("I", "J") if version == "1.3.0" else ("X", "Y")
        i = _point(params, i_key, map_params.width)
        j = _point(params, j_key, map_params.height)
        count = _integer(params.get("FEATURE_COUNT", "1") or "1", "FEATURE_COUNT")
        if count < 1:
            raise InvalidParameterValueError(
                "FEATURE_COUNT must be at least 1", locator="FEATURE_COUNT"
            )
        with_geometry = params.get("WITH_GEOMETRY", "").strip().upper() in ("TRUE", "1", "YES")
        return cls(
            map_params,
            query_layers,
            info_format(params.get("INFO_FORMAT", "")),
            i,
            j,
            min(count, 1000),
            with_geometry,
        )


@dataclass(frozen=True, slots=True)
class GetLegendGraphicParams:
    """A legend request (SLD 1.1 §10.2): one layer, its style, an image format."""

    layer: str
    style: str
    format: str
    scale: float | None
    transparent: bool

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> GetLegendGraphicParams:
        """LAYER (or LAYERS, as QGIS accepts), STYLE, FORMAT, SCALE."""
        layer = params.get("LAYER", "").strip() or params.get("LAYERS", "").strip()
        if not layer:
            raise MissingParameterValueError("The LAYER parameter is missing", locator="LAYER")
        scale_text = params.get("SCALE", "").strip()
        scale = None
        if scale_text:
            try:
                scale = float(scale_text)
            except ValueError:
                raise InvalidParameterValueError("SCALE is a number", locator="SCALE") from None
            if not math.isfinite(scale):
                raise InvalidParameterValueError("SCALE is a finite number", locator="SCALE")
        return cls(
            layer=layer,
            style=params.get("STYLE", "").strip(),
            format=map_format(params.get("FORMAT", "") or "image/png"),
            scale=scale,
            transparent=params.get("TRANSPARENT", "TRUE").strip().upper() != "FALSE",
        )


def parse_filters(text: str) -> dict[str, Expression]:
    """The vendor parameter FILTER=layer:cql;layer2:cql (QGIS syntax, CQL2 text or QGIS
    expressions); filters for one layer are ANDed. Errors are InvalidParameterValue."""
    filters: dict[str, list[Expression]] = {}
    for part in _split_outside_quotes(text, ";"):
        if not part.strip():
            continue
        layer, colon, expression = part.partition(":")
        if not colon or not layer.strip() or not expression.strip():
            raise FilterError(
                f"FILTER parts are 'layer:expression', not {part!r}", locator="FILTER"
            )
        filters.setdefault(layer.strip(), []).append(_parse_expression(expression))
    return {name: _and(parts) for name, parts in filters.items()}


def _parse_expression(text: str) -> Expression:
    try:
        return parse(text, "cql2-text")
    except FilterError as cql_error:
        try:
            return parse(text, "qgis")
        except FilterError:
            raise FilterError(f"FILTER: {cql_error.message}", locator="FILTER") from None


def _and(parts: list[Expression]) -> Expression:
    combined = conjunction(parts)
    assert combined is not None
    return combined


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    # A ';' inside a string literal or a quoted identifier does not end a layer's filter.
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _required(params: Mapping[str, str], key: str) -> str:
    value = params.get(key, "").strip()
    if not value:
        raise MissingParameterValueError(f"The {key} parameter is missing", locator=key)
    return value


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(","))


def _styles(value: str, count: int) -> tuple[str, ...]:
    # WMS 1.3.0 §7.3.3.4: STYLES= (empty) asks for every layer's default style.
    if not value.strip():
        return ("",) * count
    styles = tuple(s.strip() for s in value.split(","))
    if len(styles) != count:
        raise StyleNotDefinedError(
            f"STYLES has {len(styles)} entries for {count} layers", locator="STYLES"
        )
    return styles


def _crs(params: Mapping[str, str], version: str) -> str:
    # WMS 1.3.0 calls it CRS, 1.1.1 SRS; each version reads its own name first.
    key = "CRS" if version == "1.3.0" else "SRS"
    other = "SRS" if key == "CRS" else "CRS"
    value = params.get(key, "").strip() or params.get(other, "").strip()
    if not value:
        raise MissingParameterValueError(f"The {key} parameter is missing", locator=key)
    try:
        code = normalize_crs(value)
        crs_object(code)
        # Every layer reaches WGS 84: a CRS that does not (EPSG:3173) can show none of them.
        transformer(code, "CRS:84")
    except UnknownCRSError:
        raise InvalidCRSError(f"The CRS {value!r} is not supported", locator=key) from None
    return code


def _bbox(params: Mapping[str, str], crs: str, version: str) -> BBox:
    try:
        return to_xy(parse_bbox(_required(params, "BBOX")), crs, version)
    except ValueError as error:
        raise InvalidParameterValueError(f"BBOX: {error}", locator="BBOX") from None


def _integer(text: str, key: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidParameterValueError(f"{key} must be an integer", locator=key) from None


def _point(params: Mapping[str, str], key: str, limit: int) -> int:
    value = _integer(_required(params, key), key)
    if not 0 <= value < limit:
        raise InvalidPointError(f"{key}={value} lies outside the map", locator=key)
    return value


def _bgcolor(value: str) -> tuple[int, int, int]:
    text = value.strip()
    if not text:
        return (255, 255, 255)
    digits = text[2:] if text[:2].lower() == "0x" else text.lstrip("#")
    if len(digits) != 6:
        raise InvalidParameterValueError("BGCOLOR is 0xRRGGBB", locator="BGCOLOR")
    try:
        rgb = int(digits, 16)
    except ValueError:
        raise InvalidParameterValueError("BGCOLOR is 0xRRGGBB", locator="BGCOLOR") from None
    return (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255

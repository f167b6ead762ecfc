"""WMS request parameters: versions, size limits, and the parsed, validated `*Params` each
operation works with (the format strings are in `formats.py`).

Parsing raises the OGC error of the first bad parameter, in the order WMS 1.3.0 §7.3.2 lists
them; sizes are checked before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ogcserve.errors import (
    FilterError,
    InvalidCRSError,
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
from ogcserve.services.wms.formats import InfoFormat, info_format, map_format

VERSIONS = ("1.3.0", "1.1.1")
DEFAULT_MAX_SIZE = 4096
DEFAULT_STYLE = "default"


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
        cls,
        params: Mapping[str, str],
        version: str,
        max_size: int | tuple[int, int],
        *,
        needs_format: bool = True,
    ) -> GetMapParams:
        """Validate the GetMap parameters (WMS 1.3.0 Table 8, 1.1.1 Table 5); `max_size` is
        the largest WIDTH and HEIGHT, or one for both."""
        layers = _names(_required(params, "LAYERS"))
        styles = _styles(params.get("STYLES", ""), len(layers))
        crs = _crs(params, version)
        bbox = _bbox(params, crs, version)
        max_width, max_height = (max_size, max_size) if isinstance(max_size, int) else max_size
        width = cls.size(params, "WIDTH", max_width)
        height = cls.size(params, "HEIGHT", max_height)
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
    def parse(
        cls, params: Mapping[str, str], version: str, max_size: int | tuple[int, int]
    ) -> GetFeatureInfoParams:
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

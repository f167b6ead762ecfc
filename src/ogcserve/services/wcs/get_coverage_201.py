"""WCS 2.0.1 GetCoverage by KVP (OGC 09-147r3) or XML POST (09-148r1), with the CRS, scaling,
range-subsetting and interpolation extensions. Both encodings become one `Raw` first."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from ogcserve.errors import InvalidParameterValueError, MissingParameterValueError, ServiceError
from ogcserve.http.xml_body import parse_xml

from .encode import output_format
from .grid import CoverageAsk, check_crs
from .layers import answer, coverage_layer
from .v201 import band_name

if TYPE_CHECKING:
    from ogcserve.context import RequestContext
    from ogcserve.coverages import CoverageInfo

_AXIS = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*\((.*)\)\s*$")
# Interpolation extension (OGC 12-049) names, and the short forms clients send.
_INTERPOLATIONS = {
    "nearest-neighbor": "nearest",
    "nearest": "nearest",
    "linear": "bilinear",
    "bilinear": "bilinear",
    "cubic": "cubic",
    "cubic-spline": "cubic_spline",
    "average": "average",
}
# Axis names clients use for the two axes, whatever the CRS's own labels.
_X_NAMES = ("long", "lon", "e", "x", "i", "easting")
_Y_NAMES = ("lat", "n", "y", "j", "northing")


class InvalidAxisLabelError(ServiceError):
    """WCS 2.0 Table 18: an axis the coverage does not have."""

    code = "InvalidAxisLabel"
    status = 404


class InvalidSubsettingError(ServiceError):
    """WCS 2.0 Table 18: a subset outside the coverage, or with its low above its high."""

    code = "InvalidSubsetting"
    status = 404


@dataclass
class Raw:
    """The GetCoverage as sent, before it is checked against the coverage."""

    coverage_id: str = ""
    subsets: list[tuple[str, str, str]] = field(default_factory=list)  # axis, low, high
    format: str = ""
    scale_factor: str = ""
    scale_axes: list[tuple[str, str]] = field(default_factory=list)
    scale_size: list[tuple[str, str]] = field(default_factory=list)
    scale_extent: list[tuple[str, str]] = field(default_factory=list)  # axis, "low,high"
    range_subset: list[str] = field(default_factory=list)
    subsetting_crs: str = ""
    output_crs: str = ""
    interpolation: str = ""


def get_coverage(ctx: RequestContext) -> None:
    """Answer a 2.0.1 GetCoverage."""
    body = ctx.request.params.get("REQUEST_BODY")
    raw = from_xml(body.encode("utf-8"), ctx) if body else from_kvp(ctx)
    if not raw.coverage_id:
        raise MissingParameterValueError("COVERAGEID is missing", locator="coverageId")
    layer = coverage_layer(ctx, raw.coverage_id, "2.0.1", "coverageId")
    info = ctx.server.access.coverage_info(ctx, layer)
    mime = output_format(raw.format)
    try:
        ask = to_ask(raw, info)
    except InvalidParameterValueError as error:
        if error.locator == "subset":
            raise InvalidSubsettingError(error.message, locator="subset") from None
        raise
    try:
        answer(ctx, layer, ask, mime)
    except InvalidParameterValueError as error:
        if error.locator == "subset":
            raise InvalidSubsettingError(error.message, locator="subset") from None
        raise


def from_kvp(ctx: RequestContext) -> Raw:
    """The KVP parameters (SUBSET and the scaling axes may repeat)."""
    params = ctx.request.params
    pairs = parse_qsl(urlsplit(ctx.request.url).query, keep_blank_values=True)
    raw = Raw(
        coverage_id=params.get("COVERAGEID", "").strip(),
        format=params.get("FORMAT", ""),
        scale_factor=params.get("SCALEFACTOR", "").strip(),
        subsetting_crs=params.get("SUBSETTINGCRS", "").strip(),
        output_crs=params.get("OUTPUTCRS", "").strip(),
        interpolation=params.get("INTERPOLATION", "").strip(),
    )
    subsets = [v for k, v in pairs if k.upper() == "SUBSET"] or _present(params.get("SUBSET"))
    for value in subsets:
        axis, bounds = _axis_call(value, "subset")
        low, _, high = bounds.partition(",")
        raw.subsets.append((axis, low.strip(), (high if high else low).strip()))
    scaling = (
        ("SCALEAXES", raw.scale_axes),
        ("SCALESIZE", raw.scale_size),
        ("SCALEEXTENT", raw.scale_extent),
    )
    for key, target in scaling:
        for item in _split_calls(params.get(key, "")):
            target.append(_axis_call(item, key.lower()))
    raw.range_subset = [b.strip() for b in params.get("RANGESUBSET", "").split(",") if b.strip()]
    return raw


def _present(value: str | None) -> list[str]:
    return [value] if value else []


def _split_calls(value: str) -> list[str]:
    """ "Lat(2),Long(3)" as ["Lat(2)", "Long(3)"]."""
    return [m.group(0).lstrip(", ") for m in re.finditer(r"[^,()]+\([^()]*\)", value)]


def _axis_call(value: str, locator: str) -> tuple[str, str]:
    match = _AXIS.match(value)
    if match is None:
        raise InvalidParameterValueError(f"Cannot read {value!r} as axis(value)", locator=locator)
    return match.group(1), match.group(2)


def from_xml(body: bytes, ctx: RequestContext) -> Raw:
    """A wcs:GetCoverage document (entities and DTDs are refused before parsing)."""
    root = parse_xml(body, ctx.request.xml_limits)
    raw = Raw()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        text = (element.text or "").strip()
        if name == "CoverageId":
            raw.coverage_id = text
        elif name in ("DimensionTrim", "DimensionSlice"):
            values = {etree.QName(c).localname: (c.text or "").strip() for c in element}
            point = values.get("SlicePoint", "")
            low, high = values.get("TrimLow", point), values.get("TrimHigh", point)
            raw.subsets.append((values.get("Dimension", ""), low or "*", high or "*"))
        else:
            _xml_extension(raw, name, element, text)
    return raw


def _xml_extension(raw: Raw, name: str, element: etree._Element, text: str) -> None:
    values = {etree.QName(c).localname: (c.text or "").strip() for c in element}
    if name == "format":
        raw.format = text
    elif name == "scaleFactor" and etree.QName(element.getparent()).localname == "ScaleByFactor":
        raw.scale_factor = text
    elif name == "ScaleAxis":
        raw.scale_axes.append((values.get("axis", ""), values.get("scaleFactor", "")))
    elif name == "TargetAxisSize":
        raw.scale_size.append((values.get("axis", ""), values.get("targetSize", "")))
    elif name == "TargetAxisExtent":
        extent = f"{values.get('low', '')},{values.get('high', '')}"
        raw.scale_extent.append((values.get("axis", ""), extent))
    elif name == "RangeComponent":
        raw.range_subset.append(text)
    elif name == "subsettingCrs":
        raw.subsetting_crs = text
    elif name == "outputCrs":
        raw.output_crs = text
    elif name == "globalInterpolation":
        raw.interpolation = text


def to_ask(raw: Raw, info: CoverageInfo) -> CoverageAsk:
    """The version-neutral request, in x/y order."""
    native = info.crs
    subsetting = _crs(raw.subsetting_crs, "subsettingCrs") if raw.subsetting_crs else native
    output = _crs(raw.output_crs, "outputCrs") if raw.output_crs else native
    bbox = _bbox(raw.subsets, info, subsetting) if raw.subsets else None
    size: tuple[int, int] | None = None
    if raw.scale_size:
        size = _per_axis(raw.scale_size, "scaleSize", int)  # type: ignore[assignment]
    elif raw.scale_extent:
        size = _extent_size(raw.scale_extent)
    scale: tuple[float, float] | None = None
    if raw.scale_factor:
        factor = _number(raw.scale_factor, "scaleFactor")
        scale = (1 / factor, 1 / factor) if factor > 0 else (0.0, 0.0)
    elif raw.scale_axes:
        fx, fy = _per_axis(raw.scale_axes, "scaleAxes", float)
        scale = (1 / fx if fx > 0 else 0.0, 1 / fy if fy > 0 else 0.0)
    return CoverageAsk(
        bbox=bbox,
        bbox_crs=subsetting,
        crs=output,
        size=size,
        scale=scale,
        bands=_bands(raw.range_subset, info),
        interpolation=_interpolation(raw.interpolation),
    )


def _crs(value: str, locator: str) -> str:
    match = re.search(r"/def/crs/EPSG/0/(\d+)$", value) or re.match(r"^EPSG:(\d+)$", value, re.I)
    if match is None:
        raise InvalidParameterValueError(f"Unknown CRS {value!r}", locator=locator)
    return check_crs(f"EPSG:{match.group(1)}", locator)


def _axis_index(axis: str, locator: str = "subset") -> int:
    """0 for the x axis (Long, E), 1 for y (Lat, N), whatever the CRS's axis order; an
    unknown axis is InvalidAxisLabel at `locator` (the parameter that named it)."""
    lowered = axis.strip().lower()
    if lowered in _X_NAMES:
        return 0
    if lowered in _Y_NAMES:
        return 1
    raise InvalidAxisLabelError(f"The coverage has no axis {axis!r}", locator=locator)


def _bbox(
    subsets: list[tuple[str, str, str]], info: CoverageInfo, crs: str
) -> tuple[float, float, float, float]:
    whole = list(info.extent) if crs == info.crs else [-1e300, -1e300, 1e300, 1e300]
    bounds = whole[:]
    for axis, low, high in subsets:
        i = _axis_index(axis)
        if low not in ("*", ""):
            bounds[i] = _number(low, "subset")
        if high not in ("*", ""):
            bounds[i + 2] = _number(high, "subset")
    if bounds[0] > bounds[2] or bounds[1] > bounds[3]:
        raise InvalidSubsettingError("A subset's low is above its high", locator="subset")
    if crs != info.crs and any(abs(b) == 1e300 for b in bounds):
        raise InvalidSubsettingError(
            "Open subsets are only allowed in the coverage's CRS", locator="subset"
        )
    return (bounds[0], bounds[1], bounds[2], bounds[3])


def _per_axis(items: list[tuple[str, str]], locator: str, kind: type) -> tuple[float, float]:
    values = [1.0, 1.0] if kind is float else [0, 0]
    seen = [False, False]
    for axis, value in items:
        i = _axis_index(axis, locator)
        values[i] = kind(_number(value, locator))
        seen[i] = True
    if kind is int and not all(seen):
        raise InvalidParameterValueError("SCALESIZE needs both axes", locator=locator)
    return values[0], values[1]


def _extent_size(items: list[tuple[str, str]]) -> tuple[int, int]:
    """The size of SCALEEXTENT=Long(0,99),Lat(0,49) (also "0:99"): the grid coordinates from
    low to high, both included (100 x 50), as OGC 12-039's ScaleToExtent counts them."""
    sizes, seen = [0, 0], [False, False]
    for axis, value in items:
        low, sep, high = value.replace(":", ",").partition(",")
        if not sep:
            raise InvalidParameterValueError(
                f"SCALEEXTENT wants axis(low,high), not {value!r}", locator="scaleExtent"
            )
        first, last = _number(low, "scaleExtent"), _number(high, "scaleExtent")
        if last < first:
            raise InvalidParameterValueError(
                f"The high of {axis}({value}) is below its low", locator="scaleExtent"
            )
        i = _axis_index(axis, "scaleExtent")
        sizes[i], seen[i] = int(last - first) + 1, True
    if not all(seen):
        raise InvalidParameterValueError("SCALEEXTENT needs both axes", locator="scaleExtent")
    return sizes[0], sizes[1]


def _number(value: str, locator: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidParameterValueError(f"{value!r} is not a number", locator=locator) from None
    if number != number or abs(number) == float("inf"):
        raise InvalidParameterValueError(f"{value!r} is not a number", locator=locator)
    return number


def _bands(names: list[str], info: CoverageInfo) -> tuple[int, ...] | None:
    if not names:
        return None
    lookup = {band_name(info, b).lower(): b for b in range(1, info.band_count + 1)}
    bands: list[int] = []
    for name in names:
        low, _, high = name.partition(":")
        first = _band(low, lookup)
        last = _band(high, lookup) if high else first
        if last < first:
            raise InvalidParameterValueError(f"Empty band interval {name!r}", locator="rangeSubset")
        bands.extend(range(first, last + 1))
    return tuple(bands)


def _band(name: str, lookup: dict[str, int]) -> int:
    found = lookup.get(name.strip().lower())
    if found is None:
        raise InvalidParameterValueError(f"No band {name!r}", locator="rangeSubset")
    return found


def _interpolation(value: str) -> str:
    if not value:
        return "nearest"
    found = _INTERPOLATIONS.get(value.rstrip("/").rsplit("/", 1)[-1].lower())
    if found is None:
        raise InterpolationMethodNotSupportedError(
            f"Unknown interpolation {value!r}", locator="interpolation"
        )
    return found


class InterpolationMethodNotSupportedError(ServiceError):
    """WCS 2.0 Interpolation extension: a method we do not offer."""

    code = "InterpolationMethodNotSupported"

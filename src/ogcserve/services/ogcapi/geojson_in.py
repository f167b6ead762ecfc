"""Request bodies of OGC API - Features Part 4: a GeoJSON feature (RFC 7946) for POST and PUT,
a JSON merge patch of one (RFC 7396) for PATCH. Geometries are read into shapely, in x/y of the
layer's native CRS; anything malformed is a 400, raised before a write begins.

Coordinates are CRS84 (longitude, latitude) unless the request's `Content-Crs` names another
CRS, whose axis order is then its authority's (OGC API - Features Part 2 §6.2: with
`http://www.opengis.net/def/crs/EPSG/0/4326`, latitude comes first).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import shapely.geometry
from shapely.errors import GEOSException

from ogcserve.errors import InvalidCRSError, InvalidParameterValueError, UnsupportedMediaTypeError
from ogcserve.geo import UnknownCRSError, is_north_first, normalize_crs, transformer

FEATURE_MEDIA_TYPES = ("application/geo+json", "application/json")
PATCH_MEDIA_TYPES = ("application/merge-patch+json", *FEATURE_MEDIA_TYPES)

# Depth of the coordinates array of each type: a Point's is one position.
_NESTING = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
# No feature nests deeper (a MultiPolygon position is at 6); deeper bodies are refused before
# a recursive merge could exhaust the stack.
_MAX_DEPTH = 32
# CRS84 and EPSG:4326 differ only in axis order, which `north_first` handles.
_WGS84 = frozenset({"CRS:84", "OGC:CRS84", "EPSG:4326"})
_DIMENSIONS = re.compile(r"\s*(ZM|Z|M)$")
_INT64 = 2**63

Transform = Callable[[Any, Any], tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class FeatureBody:
    """The members of a GeoJSON feature that a write uses (foreign members are ignored)."""

    id: Any  # None when absent
    geometry: Mapping[str, Any] | None
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContentCRS:
    """The CRS of a body's coordinates and whether they are written northing first."""

    code: str
    north_first: bool


def check_content_type(content_type: str | None, *, patch: bool = False) -> None:
    """415 unless the body is GeoJSON (for a PATCH also a JSON merge patch)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    accepted = PATCH_MEDIA_TYPES if patch else FEATURE_MEDIA_TYPES
    if kind not in accepted:
        raise UnsupportedMediaTypeError(
            f"The body must be {' or '.join(accepted)}", locator="Content-Type"
        )


def read_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object: 400 if it is not UTF-8 JSON or not an object."""
    try:
        value = json.loads(body.decode("utf-8-sig"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("The body is not valid JSON") from None
    if not isinstance(value, dict):
        raise _bad("The body must be a JSON object")
    _check_depth(value)
    return value


def read_feature(body: bytes) -> FeatureBody:
    """The body as a GeoJSON Feature."""
    document = read_object(body)
    if document.get("type") != "Feature":
        raise _bad('The body must be a GeoJSON Feature ("type": "Feature")')
    geometry = document.get("geometry")
    if geometry is not None and not isinstance(geometry, dict):
        raise _bad("The geometry must be a GeoJSON geometry object or null", "geometry")
    properties = document.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise _bad("The properties must be a JSON object or null", "properties")
    return FeatureBody(document.get("id"), geometry, properties or {})


def read_crs(text: str | None) -> ContentCRS:
    """The CRS named by a `Content-Crs` header (`<URI>`, brackets optional); CRS84 if none."""
    value = (text or "").strip().removeprefix("<").removesuffix(">").strip()
    if not value:
        return ContentCRS("CRS:84", False)
    try:
        code = normalize_crs(value)
        return ContentCRS(code, is_north_first(code))
    except UnknownCRSError:
        raise InvalidCRSError(f"Unknown CRS {value!r}", locator="Content-Crs") from None


def read_geometry(value: Any, crs: ContentCRS, native: str) -> Any:
    """A GeoJSON geometry object in `crs`, as a shapely geometry in x/y of `native`."""
    geometry = _shape(value, nested=False)
    if crs.north_first:
        geometry = _map_xy(geometry, lambda x, y: (y, x))
    if crs.code != native and not {crs.code, native} <= _WGS84:
        project = _transformer(crs.code, native).transform
        geometry = _map_xy(geometry, project)
    if not np.isfinite(shapely.get_coordinates(geometry)).all():
        raise _bad("The geometry lies outside the area where the layer's CRS is defined")
    return geometry


def write_geometry(geometry: Any, crs: ContentCRS, native: str) -> dict[str, Any]:
    """A shapely geometry in `native` as the GeoJSON object a body in `crs` would write."""
    if crs.code != native and not {crs.code, native} <= _WGS84:
        geometry = _map_xy(geometry, _transformer(native, crs.code).transform)
    if crs.north_first:
        geometry = _map_xy(geometry, lambda x, y: (y, x))
    # Through JSON: a mapping holds tuples, a body lists.
    written: dict[str, Any] = json.loads(json.dumps(shapely.geometry.mapping(geometry)))
    return written


def check_geometry_type(geometry: Any, layer_type: str | None, layer: str) -> None:
    """400 unless `geometry` fits a column of `layer_type` (None: any). A single geometry fits
    its multi type, as the sources promote it."""
    if layer_type is None:
        return
    wanted = _DIMENSIONS.sub("", layer_type.upper())
    given = str(geometry.geom_type).upper()
    if wanted not in ("GEOMETRY", given, f"MULTI{given}"):
        raise _bad(
            f"A {geometry.geom_type} cannot be written to {layer!r}, whose geometries are {wanted}",
            "geometry",
        )


def check_values(properties: Mapping[str, Any]) -> None:
    """400 unless every value is a string, a number the store can hold, a boolean or null."""
    for name, value in properties.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad(f"The value of {name!r} is not valid Unicode text", name) from None
        elif isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise _bad(f"The value of {name!r} is too large", name)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _bad(f"The value of {name!r} is not a finite number", name)
        elif value is not None and not isinstance(value, str | int | float):
            raise _bad(f"The value of {name!r} must be text, a number, a boolean or null", name)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 §2: `patch` applied to `target` (null removes a member, objects merge, any
    other value replaces)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def _shape(value: Any, *, nested: bool) -> Any:
    if not isinstance(value, dict):
        raise _bad("A geometry must be a GeoJSON geometry object", "geometry")
    kind = str(value.get("type"))
    if kind == "GeometryCollection":
        members = value.get("geometries")
        if nested:  # RFC 7946 §3.1.8 advises against them; no layer stores them
            raise _bad("A GeometryCollection may not hold another", "geometry")
        if not isinstance(members, list) or not members:
            raise _bad("A GeometryCollection needs a non-empty geometries array", "geometry")
        return shapely.GeometryCollection([_shape(m, nested=True) for m in members])
    depth = _NESTING.get(kind)
    if depth is None:
        raise _bad(f"{value.get('type')!r} is not a geometry type this server reads", "geometry")
    coordinates = value.get("coordinates")
    _check_coordinates(coordinates, depth, kind)
    try:
        geometry = shapely.geometry.shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, GEOSException) as error:
        raise _bad(f"Invalid {kind}: {error}", "geometry") from None
    if geometry.is_empty:
        raise _bad(f"The {kind} is empty", "geometry")
    return geometry


def _check_coordinates(value: Any, depth: int, kind: str) -> None:
    if not isinstance(value, list) or not value:
        raise _bad(f"The coordinates of a {kind} must be a non-empty array", "geometry")
    if depth > 0:
        for item in value:
            _check_coordinates(item, depth - 1, kind)
    elif not 2 <= len(value) <= 3 or not all(_is_number(v) for v in value):
        raise _bad(f"A position of a {kind} must be 2 or 3 finite numbers", "geometry")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _map_xy(geometry: Any, function: Transform) -> Any:
    """`geometry` with `function(x, y) -> (x, y)` applied to its coordinates, z kept."""

    def apply(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.array(coords, dtype=np.float64)
        out[:, 0], out[:, 1] = function(coords[:, 0], coords[:, 1])
        return out

    return shapely.transform(geometry, apply, include_z=None)


def _transformer(source: str, target: str) -> Any:
    try:
        return transformer(source, target)
    except UnknownCRSError:
        raise InvalidCRSError(
            f"Coordinates in {source} cannot be converted to the layer's CRS",
            locator="Content-Crs",
        ) from None


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise _bad("The body nests too deeply")
        members = item.values() if isinstance(item, dict) else item
        stack.extend((m, depth + 1) for m in members if isinstance(m, dict | list))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bad(message: str, locator: str = "body") -> InvalidParameterValueError:
    return InvalidParameterValueError(message, locator=locator)

"""GML geometries in requests (filters and Transaction), GML 2, 3.1.1 and 3.2, into shapely.

Only the simple-features subset clients send is read: Point, LineString, LinearRing, Polygon,
their Multi* forms (MultiCurve and MultiSurface included), Envelope and GML 2's Box; curves with
arcs and solids are refused.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
import shapely.errors
from lxml import etree

from ogcserve.errors import InvalidParameterValueError

from .crs import SrsName, parse_srs, to_xy
from .xml_input import GML_NAMESPACES, children, local, text


class GeometryError(InvalidParameterValueError):
    """A geometry in the request cannot be read."""


def read_geometry(
    element: etree._Element, default_srs: SrsName, target_crs: str, version: str
) -> Any:
    """A GML geometry element as a shapely geometry in x/y of `target_crs`.

    The srsName of the element (else `default_srs`) and the request's WFS `version` say how the
    coordinates are written (crs.py holds the rule).
    """
    if etree.QName(element).namespace not in GML_NAMESPACES:
        raise GeometryError(f"{local(element)} is not a GML geometry", locator="geometry")
    srs = element.get("srsName")
    given = parse_srs(srs, version, "srsName") if srs else default_srs
    geometry = _geometry(element)
    if geometry.is_empty:
        raise GeometryError("empty geometry", locator="geometry")
    return to_xy(geometry, given, target_crs)


def _coords(element: etree._Element) -> list[tuple[float, ...]]:
    """The coordinates inside a Point/LineString/LinearRing element, in document order."""
    out: list[tuple[float, ...]] = []
    dimension = int(element.get("srsDimension", "2") or 2)
    for child in children(element):
        name = local(child)
        try:
            if name == "pos":
                out.append(tuple(float(v) for v in text(child).split()[:2]))
            elif name == "posList":
                dim = int(child.get("srsDimension", str(dimension)) or 2)
                values = [float(v) for v in text(child).split()]
                if len(values) % dim:
                    raise GeometryError("posList has a partial coordinate", locator="posList")
                out.extend(tuple(values[i : i + 2]) for i in range(0, len(values), dim))
            elif name == "coordinates":
                cs, ts = child.get("cs", ","), child.get("ts", " ")
                for pair in text(child).split(ts if ts.strip() else None):
                    if pair:
                        out.append(tuple(float(v) for v in pair.split(cs)[:2]))
            elif name == "coord":
                parts = {local(c): float(text(c)) for c in children(child)}
                out.append((parts["X"], parts["Y"]))
            elif name == "pointProperty" or name == "pointRep":
                out.extend(_coords(children(child)[0]))
        except (ValueError, KeyError, IndexError):
            raise GeometryError(f"invalid coordinates in {name}", locator=name) from None
    if any(len(c) != 2 for c in out):
        raise GeometryError("coordinates need two values", locator="geometry")
    _require_finite([v for c in out for v in c])
    return out


def _require_finite(values: list[float]) -> None:
    # float() reads "nan" and "inf": no coordinate, BBOX or distance may be either.
    if not all(math.isfinite(v) for v in values):
        raise GeometryError("coordinates must be finite numbers", locator="geometry")


def _ring(boundary: etree._Element) -> list[tuple[float, ...]]:
    rings = [c for c in children(boundary) if local(c) == "LinearRing"]
    if len(rings) != 1:
        raise GeometryError("a polygon boundary holds one LinearRing", locator="Polygon")
    return _coords(rings[0])


def _members(element: etree._Element) -> list[etree._Element]:
    out = []
    for child in children(element):
        # pointMember, surfaceMembers, ...: the geometries are their children.
        out.extend(children(child))
    return out


def _geometry(element: etree._Element) -> Any:
    name = local(element)
    try:
        match name:
            case "Point":
                return shapely.Point(_coords(element)[0])
            case "LineString" | "LinearRing":
                return shapely.LineString(_coords(element))
            case "Polygon":
                return _polygon(element)
            case "MultiPoint":
                return shapely.MultiPoint([_geometry(m) for m in _members(element)])
            case "MultiLineString" | "MultiCurve":
                return shapely.MultiLineString([_geometry(m) for m in _members(element)])
            case "MultiPolygon" | "MultiSurface":
                return shapely.MultiPolygon([_geometry(m) for m in _members(element)])
            case "Envelope":
                corners = {local(c): [float(v) for v in text(c).split()] for c in children(element)}
                (x1, y1), (x2, y2) = corners["lowerCorner"][:2], corners["upperCorner"][:2]
                _require_finite([x1, y1, x2, y2])
                return _box(x1, y1, x2, y2)
            case "Box":
                (x1, y1), (x2, y2) = _coords(element)
                return _box(x1, y1, x2, y2)
    except GeometryError:
        raise
    except (KeyError, IndexError):
        raise GeometryError(
            f"invalid {name}: a coordinate or corner is missing", locator=name
        ) from None
    except ValueError:
        raise GeometryError(f"invalid {name}: coordinates are numbers", locator=name) from None
    except (TypeError, shapely.errors.GEOSException):
        # The library's own text is not the client's business: it names its internals.
        raise GeometryError(f"invalid {name}: the shape is malformed", locator=name) from None
    raise GeometryError(f"unsupported geometry {name}", locator=name)


def _polygon(element: etree._Element) -> Any:
    outer: list[tuple[float, ...]] = []
    holes = []
    for child in children(element):
        if local(child) in ("exterior", "outerBoundaryIs"):
            outer = _ring(child)
        elif local(child) in ("interior", "innerBoundaryIs"):
            holes.append(_ring(child))
    return shapely.Polygon(outer, holes)


def _box(x1: float, y1: float, x2: float, y2: float) -> Any:
    # Densified, so that a reprojected envelope bends as it should instead of cutting corners.
    box = shapely.box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    step = max(abs(x2 - x1), abs(y2 - y1)) / 16 or 1.0
    return shapely.segmentize(box, step)

"""FES 2.0 and OGC Filter 1.1 / 1.0 (XML) into the core's `Expression`.

pygeofilter 0.4 has FES readers (`pygeofilter.parsers.fes`), but they cannot serve here:
 - they import `pygml` at module level, which is not installed (nor a dependency of ours);
 - untyped `<Literal>`s stay strings (`pop > '100'` compares text), and an FES 2.0 Literal
   without a `type` attribute crashes (`node.get("type").rpartition`);
 - ResourceId / FeatureId / GmlObjectId, PropertyIsNil and matchCase on comparisons are not
   read; Filter 1.0's `escape` and 1.1's `<Distance units=>` raise KeyError;
 - geometries keep the coordinates as written, ignoring srsName and axis order.
So this module walks the XML itself (a small recursive reader) and builds pygeofilter AST nodes,
which `ogcserve.expressions.from_ast` checks and normalises like any other filter; the SQL
translation is the core's. Literals are typed from the layer's schema, geometries are moved to
the layer's CRS in x/y order.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.geometry
from lxml import etree
from pygeofilter import ast, values

from ogcserve.errors import FilterError
from ogcserve.expressions import ID, Expression, from_ast
from ogcserve.features import FieldType, Schema
from ogcserve.http.xml_body import XMLLimits

from .crs import SrsName, is_geographic
from .gml_read import GeometryError, read_geometry
from .xml_input import FES_NS, GML_NAMESPACES, OGC_NS, children, local, parse_body, text

_COMPARISONS: dict[str, type[ast.Comparison]] = {
    "PropertyIsEqualTo": ast.Equal,
    "PropertyIsNotEqualTo": ast.NotEqual,
    "PropertyIsLessThan": ast.LessThan,
    "PropertyIsGreaterThan": ast.GreaterThan,
    "PropertyIsLessThanOrEqualTo": ast.LessEqual,
    "PropertyIsGreaterThanOrEqualTo": ast.GreaterEqual,
}
_SPATIAL: dict[str, type[ast.SpatialComparisonPredicate]] = {
    "Equals": ast.GeometryEquals,
    "Disjoint": ast.GeometryDisjoint,
    "Touches": ast.GeometryTouches,
    "Within": ast.GeometryWithin,
    "Overlaps": ast.GeometryOverlaps,
    "Crosses": ast.GeometryCrosses,
    "Intersects": ast.GeometryIntersects,
    "Contains": ast.GeometryContains,
}
_ARITHMETIC: dict[str, type[ast.Arithmetic]] = {
    "Add": ast.Add,
    "Sub": ast.Sub,
    "Mul": ast.Mul,
    "Div": ast.Div,
}
_IDS = ("ResourceId", "FeatureId", "GmlObjectId")
_METRES = (
    "m",
    "meter",
    "meters",
    "metre",
    "metres",
    "urn:ogc:def:uom:EPSG::9001",
    "http://www.opengis.net/def/uom/EPSG/0/9001",
)
_KILOMETRES = ("km", "kilometer", "kilometers", "kilometre", "kilometres")
_METRES_PER_DEGREE = 111_320.0

# Filter Encoding 2.0 §7 (Table 1): the conformance classes we implement, for the capabilities.
COMPARISON_OPERATORS = (
    "PropertyIsEqualTo",
    "PropertyIsNotEqualTo",
    "PropertyIsLessThan",
    "PropertyIsGreaterThan",
    "PropertyIsLessThanOrEqualTo",
    "PropertyIsGreaterThanOrEqualTo",
    "PropertyIsLike",
    "PropertyIsNull",
    "PropertyIsNil",
    "PropertyIsBetween",
)
SPATIAL_OPERATORS = ("BBOX", *_SPATIAL, "DWithin", "Beyond")
ARITHMETIC_OPERATORS = tuple(_ARITHMETIC)


@dataclass(frozen=True, slots=True)
class LayerTerms:
    """What a filter may name on one layer: its schema, name and CRS, and how the request
    writes coordinates (its default srsName and WFS version, for the axis order)."""

    name: str
    schema: Schema
    crs: str
    default_srs: SrsName
    version: str


@dataclass(frozen=True, slots=True)
class ParsedFilter:
    """A filter for one layer: an expression, and/or the feature ids it selects."""

    expression: Expression | None
    ids: tuple[Any, ...] | None  # None: no id selection; () selects nothing


def parse_filter_text(body: str, terms: LayerTerms, limits: XMLLimits) -> ParsedFilter:
    """A FILTER parameter (KVP) for one layer."""
    return parse_filter(parse_body(body, limits), terms)


def parse_filter(element: etree._Element, terms: LayerTerms) -> ParsedFilter:
    """A `<Filter>` element (FES 2.0 or OGC 1.0/1.1) for one layer."""
    if local(element) != "Filter" or etree.QName(element).namespace not in (FES_NS, OGC_NS):
        raise FilterError("A filter must be an fes:Filter or ogc:Filter element", locator="FILTER")
    reader = _Reader(terms)
    items = children(element)
    if not items:
        raise FilterError("The filter is empty", locator="FILTER")
    if all(local(i) in _IDS for i in items):
        return ParsedFilter(None, tuple(reader.ids(items)))
    if len(items) != 1:
        raise FilterError(
            "A filter holds one predicate (combine them with And/Or)", locator="FILTER"
        )
    return ParsedFilter(from_ast(reader.condition(items[0])), None)


def feature_id(value: str, layer: str) -> str | None:
    """The id part of `layer.12`; None when it names another feature type."""
    prefix, dot, rest = value.rpartition(".")
    if not dot:
        return value
    return rest if prefix == layer else None


class _Reader:
    def __init__(self, terms: LayerTerms) -> None:
        self.terms = terms
        self.types = {f.name: f.type for f in terms.schema.fields}

    def fail(self, message: str, locator: str = "FILTER") -> FilterError:
        return FilterError(message, locator=locator)

    def ids(self, items: list[etree._Element]) -> list[Any]:
        out = []
        for item in items:
            if local(item) not in _IDS:
                raise self.fail("Resource ids cannot be mixed with other predicates")
            gml_ids = (item.get(f"{{{ns}}}id") for ns in GML_NAMESPACES)
            raw = item.get("rid") or item.get("fid") or next((i for i in gml_ids if i), None)
            if not raw:
                raise self.fail(f"{local(item)} without an id")
            fid = feature_id(raw, self.terms.name)
            if fid is not None:
                out.append(fid)
        return out

    def condition(self, element: etree._Element) -> Any:
        name = local(element)
        items = children(element)
        if name in ("And", "Or", "Not"):
            return self.logical(name, items)
        if name in _COMPARISONS:
            lhs, rhs = self.pair(items, name)
            if element.get("matchCase", "true").lower() == "false":
                lhs, rhs = ast.Function("lower", [lhs]), ast.Function("lower", [rhs])
            return _COMPARISONS[name](lhs, rhs)
        if name == "PropertyIsLike":
            return self.like(element, items)
        if name in ("PropertyIsNull", "PropertyIsNil"):
            if len(items) != 1:
                raise self.fail(f"{name} takes one property")
            return ast.IsNull(self.expression(items[0]), False)
        if name == "PropertyIsBetween":
            return self.between(items)
        if name == "BBOX":
            return self.bbox(items)
        if name in _SPATIAL:
            if len(items) != 2:
                raise self.fail(f"{name} takes a property and a geometry")
            return _SPATIAL[name](self.geometry_property(items[0]), self.geometry(items[1]))
        if name in ("DWithin", "Beyond"):
            return self.distance(name, items)
        if name in _IDS:
            # FES 2.0 §7.11: ResourceId may only appear alone; inside a logical operator we
            # still honour it as "$id IN (...)", which is what it means.
            ids = self.ids([element])
            return ast.In(ast.Attribute(ID), ids or ["\x00"], False)
        raise self.fail(f"Unsupported filter operator {name!r}")

    def logical(self, name: str, items: list[etree._Element]) -> Any:
        if name == "Not":
            if len(items) != 1:
                raise self.fail("Not takes one operand")
            return ast.Not(self.condition(items[0]))
        if len(items) < 2:
            raise self.fail(f"{name} needs at least two operands")
        kind = ast.And if name == "And" else ast.Or
        return kind.from_items(*(self.condition(i) for i in items))

    def between(self, items: list[etree._Element]) -> Any:
        bounds = {local(i): i for i in items[1:]}
        if len(items) != 3 or set(bounds) != {"LowerBoundary", "UpperBoundary"}:
            raise self.fail("PropertyIsBetween needs LowerBoundary and UpperBoundary")
        lhs = self.expression(items[0])
        low = self.typed(lhs, self.single(bounds["LowerBoundary"]))
        high = self.typed(lhs, self.single(bounds["UpperBoundary"]))
        return ast.Between(lhs, low, high, False)

    def single(self, element: etree._Element) -> Any:
        items = children(element)
        if len(items) != 1:
            raise self.fail(f"{local(element)} takes one expression")
        return self.expression(items[0])

    def pair(self, items: list[etree._Element], name: str) -> tuple[Any, Any]:
        if len(items) != 2:
            raise self.fail(f"{name} takes two expressions")
        lhs, rhs = self.expression(items[0]), self.expression(items[1])
        return self.typed(rhs, lhs), self.typed(lhs, rhs)

    def typed(self, other: Any, value: Any) -> Any:
        """A string literal compared with a property takes the property's type (XML has none)."""
        if isinstance(value, str) and isinstance(other, ast.Arithmetic):
            return _number(value)
        if not isinstance(value, str) or not isinstance(other, ast.Attribute):
            return value
        if other.name == ID:
            # Ids arrive as text; numeric ones are compared as numbers (integer keys).
            digits = value.strip()
            number = digits.removeprefix("-")
            return int(digits) if number.isascii() and number.isdigit() else value
        kind = self.types.get(other.name)
        try:
            match kind:
                case FieldType.INTEGER:
                    return int(value)
                case FieldType.REAL:
                    return float(value)
                case FieldType.BOOLEAN:
                    return value.strip().lower() in ("true", "1")
                case FieldType.DATE:
                    return dt.date.fromisoformat(value.strip())
                case FieldType.DATETIME:
                    return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(
                f"{value[:40]!r} is not a valid {kind} for {other.name!r}", other.name
            ) from None
        return value

    def expression(self, element: etree._Element) -> Any:
        name = local(element)
        if name in ("PropertyName", "ValueReference"):
            return self.property(element)
        if name == "Literal":
            items = children(element)
            if items:
                raise self.fail("Only text literals are accepted here (no geometry)")
            return text(element) if element.text is not None else ""
        if name in _ARITHMETIC:
            items = children(element)
            if len(items) != 2:
                raise self.fail(f"{name} takes two expressions")
            lhs, rhs = (_number(self.expression(i)) for i in items)
            return _ARITHMETIC[name](lhs, rhs)
        raise self.fail(f"Unsupported expression {name!r}")

    def property(self, element: etree._Element) -> ast.Attribute:
        raw = text(element)
        # A property may be written qualified (ogcserve:name, countries/name, @gml:id).
        name = raw.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        if name in ("id", "@id", "@gml:id") and raw.startswith("@"):
            return ast.Attribute(ID)
        if not name:
            raise self.fail("empty property name")
        return ast.Attribute(name)

    def geometry_property(self, element: etree._Element) -> ast.Attribute:
        if local(element) not in ("PropertyName", "ValueReference"):
            raise self.fail("a spatial operator starts with the geometry property")
        geometry = self.terms.schema.geometry_field
        name = self.property(element).name
        if geometry is None or name != geometry:
            raise self.fail(f"{name!r} is not the geometry property", name)
        return ast.Attribute(geometry)

    def geometry(self, element: etree._Element) -> values.Geometry:
        try:
            shape = read_geometry(
                element, self.terms.default_srs, self.terms.crs, self.terms.version
            )
        except GeometryError as error:
            raise self.fail(error.message, error.locator or "FILTER") from None
        return values.Geometry(shapely.geometry.mapping(shape))

    def bbox(self, items: list[etree._Element]) -> Any:
        geometry = self.terms.schema.geometry_field
        if len(items) == 1 and geometry is not None:
            lhs = ast.Attribute(geometry)  # FES 2.0 §7.8.3.2: the property may be omitted
        elif len(items) == 2:
            lhs = self.geometry_property(items[0])
        else:
            raise self.fail("BBOX takes a property and an envelope")
        box = items[-1]
        if local(box) not in ("Envelope", "Box"):
            raise self.fail("BBOX needs a gml:Envelope (or a GML 2 gml:Box)")
        try:
            shape = read_geometry(box, self.terms.default_srs, self.terms.crs, self.terms.version)
        except GeometryError as error:
            raise self.fail(error.message, error.locator or "FILTER") from None
        return ast.GeometryIntersects(lhs, values.Geometry(shapely.geometry.mapping(shape)))

    def distance(self, name: str, items: list[etree._Element]) -> Any:
        if len(items) != 3 or local(items[2]) != "Distance":
            raise self.fail(f"{name} takes a property, a geometry and a Distance")
        lhs, rhs = self.geometry_property(items[0]), self.geometry(items[1])
        try:
            value = float(text(items[2]))
        except ValueError:
            raise self.fail("Distance must be a number", "Distance") from None
        if not math.isfinite(value) or value < 0:
            raise self.fail("Distance must be a finite number, not negative", "Distance")
        units = (items[2].get("uom") or items[2].get("units") or "").strip()
        if units.lower() in _KILOMETRES:
            value, units = value * 1000, "m"
        if is_geographic(self.terms.crs) and units.lower() in _METRES:
            # A geographic layer measures in degrees: metres are converted at the equator's
            # scale (documented approximation; exact geodesic distances need a geography type).
            value = value / _METRES_PER_DEGREE
        kind = ast.DistanceWithin if name == "DWithin" else ast.DistanceBeyond
        return kind(lhs, rhs, value, "meters")

    def like(self, element: etree._Element, items: list[etree._Element]) -> Any:
        if len(items) != 2:
            raise self.fail("PropertyIsLike takes a property and a pattern")
        lhs, pattern = self.expression(items[0]), self.expression(items[1])
        if not isinstance(pattern, str):
            raise self.fail("the pattern of PropertyIsLike must be a literal")
        wild = element.get("wildCard", "*")
        single = element.get("singleChar", "?")
        escape = element.get("escapeChar", element.get("escape", "\\"))
        nocase = element.get("matchCase", "true").lower() == "false"
        return ast.Like(
            lhs, _like_pattern(pattern, wild, single, escape), nocase, "%", "_", "\\", False
        )


def _number(value: Any) -> Any:
    """A literal in arithmetic is a number when it reads as one (XML literals are untyped)."""
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _like_pattern(pattern: str, wild: str, single: str, escape: str) -> str:
    """An FES pattern (any wildcard characters) as a CQL2 one (`%`, `_`, `\\`)."""
    out = []
    chars = iter(pattern)
    for char in chars:
        if escape and char == escape:
            following = next(chars, "")
            out.append("\\" + following if following in "%_\\" else following)
        elif char == wild:
            out.append("%")
        elif char == single:
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)

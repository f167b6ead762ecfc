"""Filter_Capabilities of each WFS version: exactly the operators and operands `filters.py`
reads (FES 2.0 for WFS 2.0.0, Filter 1.1 for 1.1.0, Filter 1.0 for 1.0.0)."""

from __future__ import annotations

from lxml import etree

from .filters import COMPARISON_OPERATORS, SPATIAL_OPERATORS
from .xml_input import FES_NS, OGC_NS, sub_element

# FES 2.0 Table 1.
_FES_CONFORMANCE = (
    ("ImplementsQuery", True),
    ("ImplementsAdHocQuery", True),
    ("ImplementsFunctions", False),
    ("ImplementsResourceId", True),
    ("ImplementsMinStandardFilter", True),
    ("ImplementsStandardFilter", True),
    ("ImplementsMinSpatialFilter", True),
    ("ImplementsSpatialFilter", True),
    ("ImplementsMinTemporalFilter", False),
    ("ImplementsTemporalFilter", False),
    ("ImplementsVersionNav", False),
    ("ImplementsSorting", True),
    ("ImplementsExtendedOperators", False),
    ("ImplementsMinimumXPath", False),
    ("ImplementsSchemaElementFunc", False),
)
_GEOMETRY_OPERANDS = (
    "gml:Envelope",
    "gml:Point",
    "gml:LineString",
    "gml:Polygon",
    "gml:MultiPoint",
    "gml:MultiCurve",
    "gml:MultiSurface",
)
# Filter 1.1 names: EqualTo, LessThan, ..., Like, Between, NullCheck.
_COMPARISON_1_1 = (
    "EqualTo",
    "NotEqualTo",
    "LessThan",
    "GreaterThan",
    "LessThanEqualTo",
    "GreaterThanEqualTo",
    "Like",
    "Between",
    "NullCheck",
)
_SPATIAL_1_0 = (
    "BBOX",
    "Equals",
    "Disjoint",
    "Intersect",
    "Touches",
    "Crosses",
    "Within",
    "Contains",
    "Overlaps",
    "Beyond",
    "DWithin",
)


def fes_2_0(root: etree._Element, ows: str) -> None:
    """FES 2.0 Filter_Capabilities (WFS 2.0.0); `ows` is the OWS namespace of the document."""
    fes = FES_NS
    caps = sub_element(root, f"{{{fes}}}Filter_Capabilities")
    conformance = sub_element(caps, f"{{{fes}}}Conformance")
    for cname, on in _FES_CONFORMANCE:
        constraint = sub_element(conformance, f"{{{fes}}}Constraint", name=cname)
        sub_element(constraint, f"{{{ows}}}NoValues")
        sub_element(constraint, f"{{{ows}}}DefaultValue", "TRUE" if on else "FALSE")
    ids = sub_element(caps, f"{{{fes}}}Id_Capabilities")
    sub_element(ids, f"{{{fes}}}ResourceIdentifier", name="fes:ResourceId")
    scalar = sub_element(caps, f"{{{fes}}}Scalar_Capabilities")
    sub_element(scalar, f"{{{fes}}}LogicalOperators")
    comparison = sub_element(scalar, f"{{{fes}}}ComparisonOperators")
    for op in COMPARISON_OPERATORS:
        sub_element(comparison, f"{{{fes}}}ComparisonOperator", name=op)
    spatial = sub_element(caps, f"{{{fes}}}Spatial_Capabilities")
    operands = sub_element(spatial, f"{{{fes}}}GeometryOperands")
    for operand in _GEOMETRY_OPERANDS:
        sub_element(operands, f"{{{fes}}}GeometryOperand", name=operand)
    operators = sub_element(spatial, f"{{{fes}}}SpatialOperators")
    for op in SPATIAL_OPERATORS:
        sub_element(operators, f"{{{fes}}}SpatialOperator", name=op)


def filter_1_1(root: etree._Element) -> None:
    """Filter 1.1 Filter_Capabilities (WFS 1.1.0)."""
    ogc = OGC_NS
    caps = sub_element(root, f"{{{ogc}}}Filter_Capabilities")
    spatial = sub_element(caps, f"{{{ogc}}}Spatial_Capabilities")
    operands = sub_element(spatial, f"{{{ogc}}}GeometryOperands")
    # Filter 1.1 filterCapabilities.xsd enumerates the operands; Multi* are not among them
    # (they are still read).
    for operand in _GEOMETRY_OPERANDS[:4]:
        sub_element(operands, f"{{{ogc}}}GeometryOperand", operand)
    operators = sub_element(spatial, f"{{{ogc}}}SpatialOperators")
    for op in SPATIAL_OPERATORS:
        sub_element(operators, f"{{{ogc}}}SpatialOperator", name=op)
    scalar = sub_element(caps, f"{{{ogc}}}Scalar_Capabilities")
    sub_element(scalar, f"{{{ogc}}}LogicalOperators")
    comparison = sub_element(scalar, f"{{{ogc}}}ComparisonOperators")
    for op in _COMPARISON_1_1:
        sub_element(comparison, f"{{{ogc}}}ComparisonOperator", op)
    arithmetic = sub_element(scalar, f"{{{ogc}}}ArithmeticOperators")
    sub_element(arithmetic, f"{{{ogc}}}SimpleArithmetic")
    ids = sub_element(caps, f"{{{ogc}}}Id_Capabilities")
    sub_element(ids, f"{{{ogc}}}EID")
    sub_element(ids, f"{{{ogc}}}FID")


def filter_1_0(root: etree._Element) -> None:
    """Filter 1.0 Filter_Capabilities (WFS 1.0.0)."""
    ogc = OGC_NS
    caps = sub_element(root, f"{{{ogc}}}Filter_Capabilities")
    spatial = sub_element(
        sub_element(caps, f"{{{ogc}}}Spatial_Capabilities"), f"{{{ogc}}}Spatial_Operators"
    )
    for name in _SPATIAL_1_0:
        sub_element(spatial, f"{{{ogc}}}{name}")
    scalar = sub_element(caps, f"{{{ogc}}}Scalar_Capabilities")
    sub_element(scalar, f"{{{ogc}}}Logical_Operators")
    comparison = sub_element(scalar, f"{{{ogc}}}Comparison_Operators")
    for name in ("Simple_Comparisons", "Like", "Between", "NullCheck"):
        sub_element(comparison, f"{{{ogc}}}{name}")
    sub_element(
        sub_element(scalar, f"{{{ogc}}}Arithmetic_Operators"), f"{{{ogc}}}Simple_Arithmetic"
    )

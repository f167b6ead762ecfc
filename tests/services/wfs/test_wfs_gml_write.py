"""GML geometry writing: the batch templates write exactly what the general writer writes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from lxml import etree

from ogcserve.services.wfs.formats import OutputFormat
from ogcserve.services.wfs.gml_write import GML_URI, GeometryTexts, GeometryWriter

SHAPES = [
    shapely.Point(1.5, -2.25),
    shapely.LineString([(0, 0), (1, 1), (2, 0.5)]),
    shapely.box(0, 0, 10, 10),
    shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4)),  # a hole: general path
    shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),
    shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
    shapely.MultiPoint([(0, 0), (1, 1)]),
    shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
    shapely.Polygon(),
    None,
    shapely.GeometryCollection([shapely.Point(0, 0)]),
    shapely.Point(123456.789012345, 6543210.98765432),
]


@pytest.mark.parametrize("fmt", [OutputFormat.GML32, OutputFormat.GML31, OutputFormat.GML2])
def test_batch_writing_matches_one_by_one(fmt: OutputFormat) -> None:
    writer = GeometryWriter(fmt, "urn:ogc:def:crs:EPSG::3857")
    geometries = np.array(SHAPES, dtype=object)
    gids = [f"t.{i}.g" if fmt is OutputFormat.GML32 else "" for i in range(len(SHAPES))]
    many = writer.write_many(GeometryTexts.wkt(geometries), gids)
    one_by_one = [
        writer.write(None if g is None else shapely.to_wkt(g, rounding_precision=-1), gid)
        for g, gid in zip(SHAPES, gids, strict=True)
    ]
    assert many == one_by_one
    assert many[-4:-1] == ["", "", ""]  # empty, missing, collection
    for text in many:
        if text:  # each is one well-formed element of the GML namespace
            root = etree.fromstring(f'<r xmlns:gml="{GML_URI[fmt]}">{text}</r>')
            assert len(root) == 1 and root[0].tag.startswith(f"{{{GML_URI[fmt]}}}")
    if fmt is OutputFormat.GML32:
        assert many[2].startswith('<gml:Polygon gml:id="t.2.g" srsName=')
        assert "<gml:posList>10 0 10 10 0 10 0 0 10 0</gml:posList>" in many[2]
    if fmt is OutputFormat.GML2:
        assert "<gml:coordinates>1.5,-2.25</gml:coordinates>" in many[0]


def test_attribute_values_are_escaped_once_whatever_their_type() -> None:
    import datetime as dt

    from ogcserve.features import FieldType
    from ogcserve.services.wfs.gml_write import column_elements

    values = ["a & b", 3, None, True, 2.5, dt.date(2024, 1, 2), b"\x01", '<"x">', "nul\x00"]
    got = column_elements("p:v", values, FieldType.TEXT)
    assert got == [
        "<p:v>a &amp; b</p:v>",
        "<p:v>3</p:v>",
        "",
        "<p:v>true</p:v>",
        "<p:v>2.5</p:v>",
        "<p:v>2024-01-02</p:v>",
        "<p:v>01</p:v>",
        "<p:v>&lt;&quot;x&quot;&gt;</p:v>",
        "<p:v>nul\x00</p:v>",
    ]
    assert column_elements("p:n", [1, None, "7&"], FieldType.INTEGER) == [
        "<p:n>1</p:n>",
        "",
        "<p:n>7&amp;</p:n>",
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 22, -3], ["1", "22", "-3"]),
        ([2.5, 1e-09, float("nan"), 3.0], ["2.5", "1e-09", "nan", "3.0"]),
        (["a&b", "<c>", ""], ["a&amp;b", "&lt;c&gt;", ""]),
        (["nul\x00", "x"], ["nul\x00", "x"]),  # a NUL in the text: escaped one by one
    ],
)
def test_columns_of_one_type_are_written_as_any_column_of_their_kind(
    values: list[object], expected: list[str]
) -> None:
    from ogcserve.features import FieldType
    from ogcserve.services.wfs.gml_write import column_elements

    # Whatever type the schema declares (SQLite stores anything anywhere), a column of one
    # Python type without nulls takes the one-pass path and writes what the typed paths write.
    for kind in FieldType:
        assert column_elements("p:v", values, kind) == [f"<p:v>{e}</p:v>" for e in expected]

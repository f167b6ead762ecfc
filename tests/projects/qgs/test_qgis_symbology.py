"""The symbology of QGIS projects as QGIS desktop saves it (PyQGIS's QgsProject.write, one layer
per case by make_style_project.py), read into `style:` mappings by `layer_style`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from qgis_style_compare import qgis_available, write_project

from ogcserve.access import AccessLayer
from ogcserve.projects import check_project
from ogcserve.projects.qgis.style_labels import expression_template
from ogcserve.projects.qgis.symbology import layer_style
from ogcserve.rendering.styles import validate_style

MM = 1 / 0.28  # OGC pixels per millimetre
PT = 25.4 / 72 / 0.28  # per point
_GEOMETRY = {"Polygon": "polygon", "Line": "line", "Point": "point"}
_OGC_TYPE = {"polygon": "MULTIPOLYGON", "line": "MULTILINESTRING", "point": "POINT"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> etree._ElementTree:
    """The project PyQGIS wrote, one layer per case."""
    if not qgis_available():
        pytest.skip("/usr/bin/python3 cannot import qgis.core (Debian's python3-qgis)")
    return etree.parse(str(write_project(tmp_path_factory.mktemp("qgis-styles"))))


@pytest.fixture(scope="module")
def styles(project: etree._ElementTree) -> dict[str, Any]:
    """Each case's (style, warnings, geometry)."""
    found: dict[str, Any] = {}
    for maplayer in project.iter("maplayer"):
        geometry = _GEOMETRY.get(maplayer.get("geometry", ""))
        style, warnings = layer_style(maplayer, geometry=geometry)
        found[maplayer.findtext("layername") or ""] = (style, warnings, geometry)
    return found


def _case(styles: dict[str, Any], name: str) -> tuple[dict[str, Any], list[str]]:
    style, warnings, _ = styles[name]
    return style, warnings


def test_every_style_validates_for_its_geometry(styles: dict[str, Any]) -> None:
    assert len(styles) >= 20
    for name, (style, _, geometry) in styles.items():
        validate_style(style, _OGC_TYPE.get(geometry or "", "RASTER"))
        assert style or name.startswith("raster"), name


def test_single_fill_with_outline_in_millimetres(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_single")
    assert style == {
        "fill": "#78b45a",
        "stroke": "#143c14",
        "stroke_width": round(0.5 * MM, 3),
        "line_join": "miter",
    }
    assert warnings == []


def test_points_unit_and_symbol_opacity_scale_each_colour(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_units")
    assert style["stroke_width"] == pytest.approx(1.5 * PT, abs=1e-3)
    assert style["fill"] == "#e6782899"  # 60 % of 255 = 0x99
    assert style["stroke"] == "#501e0099"
    assert style["line_join"] == "round"
    assert "opacity" not in style and warnings == []


def test_fill_and_simple_line_layers_merge_into_one_symbol(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_layers")
    assert style["fill"] == "#c8dcfa"
    assert (style["stroke"], style["stroke_width"], style["dash"]) == ("#1e3ca0", 2.0, [4, 2])
    assert warnings == []


def test_hatched_fill_is_drawn_solid_and_named(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_hatch")
    assert style["fill"] == "#a000002e"  # 18 % of the colour: the hatch's ink
    assert warnings == ["fill pattern 'b_diagonal' is drawn solid at 0.18 of its opacity"]


def test_categorized_with_other_values_and_a_category_switched_off(
    styles: dict[str, Any],
) -> None:
    style, warnings = _case(styles, "poly_categorized")
    block = style["categorized"]
    assert block["field"] == "continent"
    values = {c["value"]: c for c in block["categories"]}
    assert values["Africa"]["fill"] == "#fdb462"
    assert values["Africa"]["stroke"] == "#ffffff"
    assert values["Africa"]["stroke_width"] == round(0.3 * MM, 3)
    assert (values["Oceania"]["fill"], values["Oceania"]["stroke"]) == ("none", "none")
    assert block["default"]["fill"] == "#d9d9d9"
    assert warnings == []


def test_graduated_ranges_keep_qgis_choice_at_the_breaks(styles: dict[str, Any]) -> None:
    style, _ = _case(styles, "poly_graduated")
    filters = [rule["filter"] for rule in style["rules"]]
    assert filters[0] == '"pop_est" >= 0.0 AND "pop_est" <= 5000000.0'
    assert filters[1] == '"pop_est" > 5000000.0 AND "pop_est" <= 30000000.0'
    assert [rule["fill"] for rule in style["rules"]] == [
        "#fee5d9",
        "#fcae91",
        "#fb6a4a",
        "#cb181d",
    ]
    assert style["rules"][0]["label"] == "0-5e+06"


def test_graduated_on_an_expression_is_translated(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_graduated_expression")
    assert style["rules"][1]["filter"] == (
        '("pop_est" / 1000000) > 50.0 AND ("pop_est" / 1000000) <= 2000.0'
    )
    assert warnings == []


def test_categories_on_an_expression_become_rules(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_expressions")
    assert [r["filter"] for r in style["rules"]] == [
        "upper(\"continent\") IN ('AFRICA')",
        "upper(\"continent\") IN ('ASIA')",
    ]
    assert len(warnings) == 1 and "0.05 map units" in warnings[0]


def test_rules_are_flattened_with_else_and_scales(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "poly_rules")
    rules = style["rules"]
    assert [r.get("label") for r in rules] == ["Big economies", "big", "small", "near", "other"]
    assert rules[0]["filter"] == '"gdp_md_est" > 1000000'
    assert rules[1]["filter"] == '"continent" = \'Africa\' AND "pop_est" > 20000000'
    # The group's ELSE: the group's filter and none of its siblings'.
    assert rules[2]["filter"] == '"continent" = \'Africa\' AND NOT ("pop_est" > 20000000)'
    assert rules[3]["max_scale"] == 1000000
    # QGIS 3.22 lets a rule out of its scale range keep the features it matches from ELSE: the
    # top-level ELSE is then what none of its siblings' filters match, at every scale.
    assert rules[4]["filter"] == (
        'NOT ("gdp_md_est" > 1000000 OR "continent" = \'Africa\' OR "continent" = \'Asia\')'
    )
    assert warnings == []


def test_lines_widths_caps_joins_and_dashes(styles: dict[str, Any]) -> None:
    style, _ = _case(styles, "line_single")
    assert style == {
        "stroke": "#c81e1e",
        "stroke_width": round(0.8 * MM, 3),
        "line_join": "round",
        "line_cap": "round",
    }
    lines = {c["value"]: c for c in _case(styles, "line_dashes")[0]["categorized"]["categories"]}
    assert lines["Africa"]["dash"] == [4, 2]  # Qt's dash line, in widths
    assert lines["Asia"]["stroke_width"] == 3.0  # pixels
    assert lines["Asia"]["dash"] == [round(3 * MM / 3, 4), round(1.5 * MM / 3, 4)]
    assert lines["Asia"]["line_cap"] == "butt"
    assert (lines["Europe"]["stroke_width"], lines["Europe"]["dash"]) == (1.0, [1, 2])


def test_symbols_of_several_lines_draw_one_rule_per_line(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "line_casing")
    assert [(r["stroke"], r["stroke_width"]) for r in style["rules"]] == [
        ("#3c3c3c", round(1.2 * MM, 3)),
        ("#fac850", round(0.5 * MM, 3)),
    ]
    assert all("filter" not in r for r in style["rules"]) and warnings == []
    style, warnings = _case(styles, "line_casing_categorized")
    assert [(r["filter"], r["stroke"]) for r in style["rules"]] == [
        ("\"continent\" IN ('Africa')", "#3c3c3c"),
        ("\"continent\" IN ('Africa')", "#fac850"),
        ("\"continent\" IN ('Europe')", "#005ac8"),
    ]
    assert warnings == []


def test_simple_marker(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "point_single")
    assert style == {
        "marker": {
            "shape": "circle",
            "size": round(3 * MM, 3),
            "fill": "#e8553e",
            "stroke": "#ffffff",
            "stroke_width": round(0.4 * MM, 3),
        }
    }
    assert warnings == []


def test_marker_shapes_exact_and_approximated(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "point_shapes")
    markers = {r["label"]: r["marker"] for r in style["rules"]}
    assert markers["square"]["shape"] == "square"
    diamond = markers["diamond"]
    assert (diamond["shape"], diamond["rotation"]) == ("square", 45.0)
    assert diamond["size"] == pytest.approx(4 * MM / math.sqrt(2), abs=1e-3)
    assert markers["star"]["shape"] == "star"
    assert markers["equilateral_triangle"]["size"] == round(4 * MM, 3)
    assert len(warnings) == 2
    assert "'triangle'" in warnings[0] and "'cross_fill'" in warnings[1]


def test_unsupported_marker_parts_are_named(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "point_svg")
    assert style["marker"]["shape"] == "circle"
    assert warnings == ["symbol layer SvgMarker is drawn as a circle marker"]
    style, warnings = _case(styles, "point_data_defined")
    assert style["marker"]["shape"] == "circle" and "stroke" not in style["marker"]
    assert "data-defined size of SimpleMarker is ignored" in warnings
    assert any("'hexagon'" in w for w in warnings)


def test_labels_field_size_colour_and_buffer(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "label_field")
    assert style["label"] == {
        "field": "name",
        "size": round(9 * PT, 2),
        "color": "#141478",
        "bold": False,
        "halo": {"color": "#ffffc8", "width": round(1 * MM / 2, 3)},
        "placement": "centroid",
    }
    assert warnings == []


def test_label_expression_becomes_a_template(styles: dict[str, Any]) -> None:
    style, _ = _case(styles, "label_expression")
    label = style["label"]
    assert (label["expression"], label["halo"], label["placement"]) == (
        "{name} ({fid})",
        None,
        "point",
    )
    assert label["size"] == round(12 * PT, 2)


def test_rule_based_labels_and_layer_opacity(styles: dict[str, Any]) -> None:
    style, warnings = _case(styles, "label_rules")
    assert style["label"]["field"] == "name"
    assert warnings == [
        "rule-based labels are drawn with the settings of the first rule, for every feature "
        "(their filters and scales are ignored)"
    ]
    style, warnings = _case(styles, "label_opacity")
    assert style["opacity"] == 0.5 and "label" not in style and warnings == []


def test_raster_grey_and_pseudocolour(styles: dict[str, Any]) -> None:
    gray, warnings = _case(styles, "raster_gray")
    assert gray == {"ramp": [[200.0, "#000000"], [500.0, "#ffffff"]]} and warnings == []
    pseudo, _ = _case(styles, "raster_pseudo")
    assert pseudo["ramp"] == [
        [141.0, "#1a9850"],
        [300.0, "#fee08b"],
        [450.0, "#d9a066"],
        [547.0, "#ffffff"],
    ]
    discrete, _ = _case(styles, "raster_discrete")
    stops = discrete["ramp"]
    # Each class holds its colour up to its value, then the next one starts.
    assert stops[0] == [141.0, "#1a9850"]
    assert stops[1][1] == stops[2][1] == "#fee08b" and stops[2][0] == 300.0
    assert 300.0 < stops[3][0] < 300.001
    assert discrete["opacity"] == 0.8


@pytest.mark.parametrize(
    ("expression", "template"),
    [
        ('"name"', "{name}"),
        ("\"name\" || ' (' || \"pop\" || ')'", "{name} ({pop})"),
        ('concat("a", \' - \', "b")', "{a} - {b}"),
        ("format_number(\"pop\", 0) || ' people'", "{pop:,.0f} people"),
        ("'{' || \"x\" || '}'", "{{{x}}}"),
        ('round("area", 2)', "{area:.2f}"),
        ('"a" + "b"', None),
        ('upper("name")', None),
        ('"name" ||', None),
    ],
)
def test_label_expression_templates(expression: str, template: str | None) -> None:
    assert expression_template(expression) == template


def test_a_layer_without_renderer_gets_the_default_and_a_warning(tmp_path: Path) -> None:
    maplayer = etree.fromstring("<maplayer><layerOpacity>1</layerOpacity></maplayer>")
    style, warnings = layer_style(maplayer, geometry="line")
    validate_style(style, "LINESTRING")
    assert warnings == ["the layer has no renderer: drawn with the default symbol"]


# Parts of the symbology the reader does not read (and <prop>, which the <Option>s repeat).
_UNREAD = {
    "prop",
    "callout",
    "background",
    "shadow",
    "text-mask",
    "text-format",
    "dd_properties",
    "rampLegendSettings",
    "minMaxOrigin",
    "substitutions",
}


def _targets(maplayer: Any, seen: set[tuple[str, ...]]) -> list[tuple[Any, str]]:
    """The symbology values of a layer of a kind not `seen` yet, as (element, attribute). A kind:
    the renderer type, the symbol layer class, the element, the attribute and option name."""
    renderer = maplayer.find("renderer-v2")
    kind = renderer.get("type", "") if renderer is not None else "raster"
    found = []
    for part in ("renderer-v2", "labeling", "pipe"):
        for root in maplayer.findall(part):
            for element in root.iter():
                if element.tag in _UNREAD or any(a.tag in _UNREAD for a in element.iterancestors()):
                    continue
                layer = next(element.iterancestors("layer"), None)
                cls = layer.get("class", "") if layer is not None else ""
                name = element.get("name") or element.get("k") or ""
                for attr in element.attrib:
                    key = (kind, cls, str(element.tag), attr, name)
                    if key not in seen:
                        seen.add(key)
                        found.append((element, attr))
    return found


def test_garbage_values_never_break_the_reader(project: etree._ElementTree) -> None:
    """Every kind of symbology value made empty, NaN, infinite or a bad colour: the reader still
    gives a style the model accepts (a broken symbol type aside: the project reader falls back
    to the default style for that, with a warning)."""
    tried = 0
    seen: set[tuple[str, ...]] = set()
    for maplayer in project.iter("maplayer"):
        geometry = _GEOMETRY.get(maplayer.get("geometry", ""))
        for element, attr in _targets(maplayer, seen):
            if element.tag == "symbol" and attr == "type":
                continue
            old = element.get(attr)
            for bad in ("", "-1e309", "#zz"):
                element.set(attr, bad)
                style, _ = layer_style(maplayer, geometry=geometry)
                validate_style(style, _OGC_TYPE.get(geometry or "", "RASTER"))
                tried += 1
            element.set(attr, old or "")
    assert tried > 500, tried


def test_check_names_each_fallback(project: etree._ElementTree) -> None:
    """What is drawn in a fallback is a warning of `ogcserve check`, on its layer's line."""
    path = Path(str(project.docinfo.URL))
    issues = check_project(path, AccessLayer().check_source)
    assert {issue.severity for issue in issues} == {"warning"}
    found = {(issue.key, issue.message) for issue in issues}
    assert ("layer 'point_svg'", "symbol layer SvgMarker is drawn as a circle marker") in found
    assert (
        "layer 'poly_hatch'",
        "fill pattern 'b_diagonal' is drawn solid at 0.18 of its opacity",
    ) in found
    assert ("layer 'point_data_defined'", "data-defined size of SimpleMarker is ignored") in found
    lines = path.read_text().splitlines()
    assert all(issue.line and "<maplayer" in lines[issue.line - 1] for issue in issues)

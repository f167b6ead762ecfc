"""Loading project files: the demo, and every kind of mistake reported at its line and key."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest

from ogcserve.projects import (
    Project,
    ProjectError,
    ProjectIssue,
    check_project,
    load_project,
)
from ogcserve.sources.specs import GeoPackageSpec, PostGISSpec, RasterSpec, SourceSpec

DEMO = Path(__file__).parents[2] / "src" / "ogcserve" / "demo" / "demo.yaml"

GOOD = """\
name: test
title: Test
crs: [EPSG:4326, EPSG:3857]
layers:
  - name: countries
    source: {type: geopackage, path: data.gpkg, table: countries}
  - name: places
    layers:
      - name: cities
        source:
          type: geopackage
          path: data.gpkg
          table: cities
  - name: dem
    source: {type: raster, path: dem.tif}
"""


def write(tmp_path: Path, text: str, name: str = "project.yaml") -> Path:
    """A project file in `tmp_path`, next to the (empty) data files it may name."""
    (tmp_path / "data.gpkg").touch()
    (tmp_path / "dem.tif").touch()
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def issues_of(path: Path, env: dict[str, str] | None = None) -> list[ProjectIssue]:
    with pytest.raises(ProjectError) as info:
        load_project(path, env={} if env is None else env)
    assert info.value.issues, "a ProjectError always lists its issues"
    return info.value.issues


def only(issues: list[ProjectIssue]) -> ProjectIssue:
    assert len(issues) == 1, issues
    return issues[0]


def has_expressions_parser() -> bool:
    try:
        module = importlib.import_module("ogcserve.expressions")
    except ImportError:
        return False
    return callable(getattr(module, "parse", None))


# --- the demo -------------------------------------------------------------------------------


def test_demo_loads() -> None:
    project = load_project(DEMO)
    assert project.name == "demo"
    assert project.path == DEMO.absolute()
    assert project.base_dir == DEMO.absolute().parent
    names = [layer.name for layer in project.walk()]
    assert names == ["countries", "places", "cities", "nyc_boroughs", "nc_counties", "elevation"]
    places = project.layer("places")
    assert places is not None and places.is_group
    assert [child.name for child in places.children] == ["cities"]
    elevation = project.layer("elevation")
    assert elevation is not None and elevation.is_raster
    assert isinstance(elevation.source, RasterSpec)
    for layer in project.data_layers():
        assert layer.queryable
        assert layer.title != layer.name
        assert layer.style
        if not layer.is_raster:
            assert layer.wfs.publish
            assert not (layer.wfs.insert or layer.wfs.update or layer.wfs.delete)
            assert isinstance(layer.source, GeoPackageSpec)
        assert isinstance(layer.source, GeoPackageSpec | RasterSpec)
        assert (project.base_dir / layer.source.path).is_file()


def test_demo_checks_with_every_source_opening() -> None:
    opened: list[tuple[SourceSpec, Path]] = []
    assert check_project(DEMO, lambda spec, base, key: opened.append((spec, base)), env={}) == []
    assert len(opened) == 5
    assert {base for _, base in opened} == {DEMO.absolute().parent}


# --- a good project -------------------------------------------------------------------------


def test_good_project_builds_runtime_objects(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, GOOD), env={})
    assert isinstance(project, Project)
    assert project.title == "Test"
    assert project.crs == ("EPSG:4326", "EPSG:3857")
    assert [layer.name for layer in project.layers] == ["countries", "places", "dem"]
    assert [layer.name for layer in project.data_layers()] == ["countries", "cities", "dem"]
    cities = project.layer("cities")
    assert cities is not None and cities.title == "cities"  # title defaults to the name
    assert not cities.is_group and not cities.is_raster
    assert project.layer("nope") is None
    assert project.mtime == (tmp_path / "project.yaml").stat().st_mtime


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("name: test\n", ""), name="world.yaml")
    project = load_project(path, env={})
    assert project.name == "world"
    assert project.title == "Test"


def test_groups_nest_and_walk_depth_first(tmp_path: Path) -> None:
    text = """\
    layers:
      - name: a
        layers:
          - name: a1
            source: {type: raster, path: dem.tif}
          - name: a2
            layers:
              - name: a21
                source: {type: raster, path: dem.tif}
      - name: b
        source: {type: raster, path: dem.tif}
    """
    project = load_project(write(tmp_path, text), env={})
    assert [layer.name for layer in project.walk()] == ["a", "a1", "a2", "a21", "b"]
    assert [layer.name for layer in project.data_layers()] == ["a1", "a21", "b"]
    a = project.layer("a")
    assert a is not None
    assert [layer.name for layer in a.walk()] == ["a", "a1", "a2", "a21"]
    assert project.layer("a21") is not None


def test_layer_options(tmp_path: Path) -> None:
    text = """\
    layers:
      - name: countries
        title: Countries
        abstract: All of them
        keywords: [world]
        source: {type: geopackage, path: data.gpkg, table: countries}
        key: fid
        filter: "continent <> 'Antarctica'"
        fields: {exclude: [internal_note]}
        style: {fill: "#a6cee3", dash: [4, 2]}
        queryable: false
        min_scale: 1000
        max_scale: 5e7
        wfs: {insert: true}
    """
    layer = load_project(write(tmp_path, text), env={}).layer("countries")
    assert layer is not None
    assert layer.key == "fid"
    assert layer.filter == "continent <> 'Antarctica'"
    assert layer.fields_include is None
    assert layer.fields_exclude == ("internal_note",)
    assert layer.publishes_field("name") and not layer.publishes_field("internal_note")
    assert layer.style["fill"] == "#a6cee3"
    assert layer.style["dash"] == (4, 2)  # frozen: lists become tuples
    with pytest.raises(TypeError):
        layer.style["fill"] = "red"  # type: ignore[index]
    assert not layer.queryable
    assert (layer.min_scale, layer.max_scale) == (1000, 5e7)
    assert layer.wfs.publish and layer.wfs.insert and not layer.wfs.delete
    assert hash(layer) == hash(layer)  # usable as a cache key despite the style mapping


def test_env_references_are_expanded(tmp_path: Path) -> None:
    text = """\
    title: ${TITLE} map
    abstract: costs $${PRICE}
    layers:
      - name: parcels
        source: {type: postgis, dsn: "${DATABASE_URL}", table: public.parcels, key: id}
    """
    project = load_project(
        write(tmp_path, text), env={"TITLE": "My", "DATABASE_URL": "postgresql://db/x"}
    )
    assert project.title == "My map"
    assert project.abstract == "costs ${PRICE}"
    layer = project.layer("parcels")
    assert layer is not None
    assert isinstance(layer.source, PostGISSpec)
    assert layer.source.dsn == "postgresql://db/x"


# --- stage 1: YAML --------------------------------------------------------------------------


def test_bad_yaml_syntax_reports_its_line(tmp_path: Path) -> None:
    text = """\
    name: test
    layers:
      - name: countries
        source: {type: geopackage, path: data.gpkg
      - name: other
    """
    issue = only(issues_of(write(tmp_path, text)))
    assert issue.line == 5
    assert issue.key == ""
    assert "YAML syntax error" in issue.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = GOOD.replace("title: Test\n", "title: Test\ntitle: Again\n")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (3, "title")
    assert "duplicate key 'title' (first at line 2)" in issue.message


def test_empty_file(tmp_path: Path) -> None:
    issue = only(issues_of(write(tmp_path, "# nothing here\n")))
    assert issue.message == "the file is empty"


def test_python_objects_are_refused(tmp_path: Path) -> None:
    text = "name: !!python/object/apply:os.system [echo hi]\nlayers: []\n"
    issue = only(issues_of(write(tmp_path, text)))
    assert issue.line == 1
    assert "YAML syntax error" in issue.message


def test_missing_file() -> None:
    with pytest.raises(ProjectError) as info:
        load_project("/nonexistent/project.yaml")
    assert "cannot read the file" in str(info.value)


# --- stage 2: schema ------------------------------------------------------------------------


def test_unknown_key(tmp_path: Path) -> None:
    text = GOOD.replace("    source: {type: raster", "    colour: red\n    source: {type: raster")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (15, "layers[2].colour")
    assert issue.message == "unknown key 'colour'"


def test_missing_required_key_points_at_the_mapping(tmp_path: Path) -> None:
    text = GOOD.replace("          table: cities\n", "")
    issue = only(issues_of(write(tmp_path, text)))
    # the `source:` key holding the mapping that lacks `table`
    assert (issue.line, issue.key) == (10, "layers[1].layers[0].source.table")
    assert issue.message == "Field required"
    assert str(issue) == f"{tmp_path / 'project.yaml'}:10: layers[1].layers[0].source.table: " + (
        "Field required"
    )


def test_missing_required_key_in_flow_mapping(tmp_path: Path) -> None:
    text = GOOD.replace(", table: countries}", "}")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (6, "layers[0].source.table")


def test_wrong_type(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - name: dem\n", "  - name: dem\n    queryable: maybe\n    min_scale: big\n"
    )
    issues = issues_of(write(tmp_path, text))
    assert [(i.line, i.key) for i in issues] == [
        (15, "layers[2].queryable"),
        (16, "layers[2].min_scale"),
    ]
    assert "boolean" in issues[0].message
    assert "number" in issues[1].message


def test_every_schema_issue_is_listed(tmp_path: Path) -> None:
    text = GOOD.replace("title: Test", "titel: Test").replace(", table: countries}", "}")
    issues = issues_of(write(tmp_path, text))
    assert [(i.line, i.key) for i in issues] == [(2, "titel"), (6, "layers[0].source.table")]


def test_source_type_missing_or_unknown(tmp_path: Path) -> None:
    text = GOOD.replace("{type: geopackage, path: data.gpkg, table: countries}", "{path: x}")
    text = text.replace("{type: raster, path: dem.tif}", "{type: mapinfo, path: dem.tif}")
    issues = issues_of(write(tmp_path, text))
    assert [(i.line, i.key) for i in issues] == [
        (6, "layers[0].source.type"),
        (15, "layers[2].source.type"),
    ]
    assert "Field required" in issues[0].message
    assert "mapinfo" in issues[1].message


def test_layer_with_both_source_and_layers(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - name: places\n",
        "  - name: places\n    source: {type: raster, path: dem.tif}\n",
    )
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (9, "layers[1].layers")
    assert "not both" in issue.message


def test_layer_with_neither_source_nor_layers(tmp_path: Path) -> None:
    text = GOOD.replace("    source: {type: raster, path: dem.tif}\n", "    title: DEM\n")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (14, "layers[2]")
    assert "either 'source'" in issue.message


def test_group_with_a_data_option(tmp_path: Path) -> None:
    text = GOOD.replace("  - name: places\n", "  - name: places\n    filter: a = 1\n")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (8, "layers[1].filter")


def test_fields_include_and_exclude(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - name: dem\n", "  - name: dem\n    fields:\n      include: [a]\n      exclude: [b]\n"
    )
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (17, "layers[2].fields.exclude")


def test_bad_layer_name_and_plugin(tmp_path: Path) -> None:
    text = GOOD.replace("  - name: dem\n", "  - name: 2dem\n") + "plugins: ['not a path']\n"
    issues = issues_of(write(tmp_path, text))
    assert [(i.line, i.key) for i in issues] == [(14, "layers[2].name"), (16, "plugins[0]")]
    assert "plugin path" in issues[1].message


def test_scale_range(tmp_path: Path) -> None:
    text = GOOD.replace("  - name: dem\n", "  - name: dem\n    min_scale: 10\n    max_scale: 5\n")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (16, "layers[2].max_scale")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    issue = only(issues_of(write(tmp_path, "- a\n- b\n")))
    assert issue.line == 1


# --- stage 3: semantics ---------------------------------------------------------------------


def test_duplicate_layer_name(tmp_path: Path) -> None:
    text = GOOD.replace("      - name: cities\n", "      - name: countries\n")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (9, "layers[1].layers[0].name")
    assert "duplicate layer name 'countries' (first used at line 5)" in issue.message


def test_missing_data_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (tmp_path / "dem.tif").unlink()
    issue = only(issues_of(path))
    assert (issue.line, issue.key) == (15, "layers[2].source.path")
    assert "file not found" in issue.message


def test_bad_crs(tmp_path: Path) -> None:
    text = GOOD.replace("crs: [EPSG:4326, EPSG:3857]", "crs: [EPSG:4326, EPSG:999999, CRS:84]")
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (3, "crs[1]")
    assert "EPSG:999999" in issue.message


def test_undefined_env_var(tmp_path: Path) -> None:
    # quoted: in a flow mapping `{` and `}` are YAML syntax
    text = GOOD.replace("path: dem.tif", 'path: "${DATA}/dem.tif"') + "abstract: ${NOPE}\n"
    issues = issues_of(write(tmp_path, text))
    assert [(i.line, i.key) for i in issues] == [(15, "layers[2].source.path"), (16, "abstract")]
    assert issues[0].message == "environment variable 'DATA' is not set"
    # a defined variable is fine, and the expanded path is what gets checked
    project = load_project(tmp_path / "project.yaml", env={"DATA": str(tmp_path), "NOPE": "x"})
    assert project.abstract == "x"


def test_all_semantic_issues_are_listed_in_line_order(tmp_path: Path) -> None:
    text = GOOD.replace("EPSG:3857", "EPSG:nope")
    text = text.replace("      - name: cities\n", "      - name: dem\n")
    path = write(tmp_path, text)
    (tmp_path / "data.gpkg").unlink()
    issues = issues_of(path)
    assert [(i.line, i.key) for i in issues] == [
        (3, "crs[1]"),
        (6, "layers[0].source.path"),
        (12, "layers[1].layers[0].source.path"),
        (14, "layers[2].name"),  # the second "dem", depth first
    ]
    assert str(ProjectError(issues)).count("\n") == 3


@pytest.mark.skipif(not has_expressions_parser(), reason="ogcserve.expressions.parse not there")
def test_bad_filter(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - name: dem\n", "  - name: dem\n    filter: \"continent <> 'Antarctica'\"\n"
    ).replace("  - name: countries\n", '  - name: countries\n    filter: "continent <> AND (("\n')
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (6, "layers[0].filter")
    assert "filter does not parse" in issue.message


# --- stage 4: sources open ------------------------------------------------------------------


def test_check_project_reports_sources_that_fail_to_open(tmp_path: Path) -> None:
    def open_source(spec: SourceSpec, base_dir: Path, key: str | None) -> object:
        assert base_dir == tmp_path.absolute()
        if isinstance(spec, GeoPackageSpec) and spec.table == "cities":
            raise RuntimeError("no such table: cities")
        return object()

    issue = only(check_project(write(tmp_path, GOOD), open_source, env={}))
    assert (issue.line, issue.key) == (10, "layers[1].layers[0].source")
    assert "no such table: cities" in issue.message


def test_check_project_opens_the_sources_of_the_valid_layers(tmp_path: Path) -> None:
    calls: list[SourceSpec] = []
    text = GOOD.replace("table: countries}", "table: countries, extra: 1}")
    issues = check_project(
        write(tmp_path, text), lambda spec, _base, _key: calls.append(spec), env={}
    )
    assert [(i.line, i.key) for i in issues] == [(6, "layers[0].source.extra")]
    # A layer whose only fault is an unknown key is checked without it (all errors, one run).
    assert [getattr(spec, "table", spec.path) for spec in calls] == [
        "countries",
        "cities",
        "dem.tif",
    ]
    # A layer with any other fault is not opened; the other layers' are.
    calls.clear()
    text = GOOD.replace("table: countries}", "table: countries, extra: 1}\n    queryable: [1]")
    issues = check_project(
        write(tmp_path, text), lambda spec, _base, _key: calls.append(spec), env={}
    )
    assert [i.key for i in issues] == ["layers[0].source.extra", "layers[0].queryable"]
    assert [getattr(spec, "table", spec.path) for spec in calls] == ["cities", "dem.tif"]


def test_empty_layer_lists(tmp_path: Path) -> None:
    issue = only(issues_of(write(tmp_path, "title: x\nlayers: []\n")))
    assert (issue.line, issue.key) == (2, "layers")
    text = "layers:\n  - name: g\n    layers: []\n"
    issue = only(issues_of(write(tmp_path, text)))
    assert (issue.line, issue.key) == (3, "layers[0].layers")
    assert issue.message == "a group needs at least one layer"


def test_only_layer_invalid_gives_one_issue(tmp_path: Path) -> None:
    issue = only(issues_of(write(tmp_path, "layers:\n  - name: g\n    source: {type: raster}\n")))
    assert (issue.line, issue.key) == (3, "layers[0].source.path")

"""Field names against the real sources, unknown keys everywhere, every error of a file at once:
what `ogcserve check`, `ogcserve serve` and a reload all refuse alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ogcserve.access import AccessLayer
from ogcserve.app import build_server
from ogcserve.cli import demo_project, main
from ogcserve.projects import ProjectError, ProjectIssue, check_project, load_project
from ogcserve.settings import Settings

# Line numbers below are those of this text (line 1: `name: checks`).
PROJECT = """\
name: checks
layers:
  - name: countries
    source: {type: geopackage, path: natural_earth.gpkg, table: countries}
    filter: "continent <> 'Antarctica' AND pop_est > 0"
    fields: {exclude: [gdp_md_est]}
    style:
      fill: "#cfe3c4"
      categorized:
        field: continent
        categories:
          - {value: Europe, fill: "#1f78b4"}
      label: {expression: "{name} ({iso_a3})", priority_field: pop_est}
  - name: cities
    source: {type: geopackage, path: natural_earth.gpkg, table: cities}
    key: fid
    filter: "fid IN (1, 2, 3)"
    style: {marker: {shape: circle, rotation_field: fid}, fill: red}
  - name: elevation
    source: {type: raster, path: elevation.tif}
    style: {ramp: [[141, "#1a9850"], [547, "#ffffff"]]}
"""


def project(tmp_path: Path, text: str = PROJECT) -> Path:
    for data in ("natural_earth.gpkg", "elevation.tif"):
        if not (tmp_path / data).exists():
            shutil.copy(demo_project().parent / data, tmp_path)
    path = tmp_path / "checks.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def check(path: Path) -> list[ProjectIssue]:
    return check_project(path, AccessLayer().check_source, env={})


def found(path: Path) -> list[tuple[int | None, str, str]]:
    return [(i.line, i.key, i.message) for i in check(path)]


def test_a_good_project_passes_with_filters_on_the_key(tmp_path: Path) -> None:
    # `fid` is the GeoPackage's key column: a field like any other (a filter, a rotation).
    assert check(project(tmp_path)) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        (
            "pop_est > 0",
            "popest > 0",
            5,
            "layers[0].filter",
            "unknown field in the filter 'popest' (did you mean 'pop_est'?)",
        ),
        (
            "exclude: [gdp_md_est]",
            "exclude: [gdp]",
            6,
            "layers[0].fields.exclude[0]",
            "unknown field 'gdp' (the source has: fid, pop_est, continent, name, iso_a3, gdp_md_est)",
        ),
        (
            "exclude: [gdp_md_est]",
            "include: [name, continent, iso_a3, pop_est, contnent]",
            6,
            "layers[0].fields.include[4]",
            "unknown field 'contnent' (did you mean 'continent'?)",
        ),
        ("key: fid", "key: id", 16, "layers[1].key", "unknown field 'id' (did you mean 'fid'?)"),
        (
            "field: continent",
            "field: contnent",
            10,
            "layers[0].style.categorized.field",
            "unknown field 'contnent' (did you mean 'continent'?)",
        ),
        (
            "({iso_a3})",
            "({iso})",
            13,
            "layers[0].style.label.expression",
            "unknown field 'iso' (did you mean 'iso_a3'?)",
        ),
        (
            "priority_field: pop_est",
            "priority_field: gdp_md_est",
            13,
            "layers[0].style.label.priority_field",
            "the style reads 'gdp_md_est', which 'fields' does not publish",
        ),
        (
            "rotation_field: fid",
            "rotation_field: angle",
            18,
            "layers[1].style.marker.rotation_field",
            "unknown field 'angle' (the source has: fid, name)",
        ),
    ],
)
def test_every_field_name_is_checked_against_the_source(
    tmp_path: Path, old: str, new: str, line: int, key: str, message: str
) -> None:
    text = PROJECT.replace(old, new, 1)
    assert text != PROJECT
    assert found(project(tmp_path, text)) == [(line, key, message)]


def test_rule_filters_name_fields_of_the_source(tmp_path: Path) -> None:
    text = PROJECT.replace(
        '      fill: "#cfe3c4"\n      categorized:\n        field: continent\n'
        '        categories:\n          - {value: Europe, fill: "#1f78b4"}\n',
        "      rules:\n        - {filter: \"contnent = 'Europe'\", fill: red}\n"
        "        - {else: true, fill: blue}\n        - {filter: \"name = 'x'\", fill: blue}\n\n",
    )
    assert found(project(tmp_path, text)) == [
        (
            9,
            "layers[0].style.rules[0].filter",
            "unknown field 'contnent' (did you mean 'continent'?)",
        )
    ]


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        (
            'fill: "#cfe3c4"',
            'fil: "#cfe3c4"',
            8,
            "layers[0].style.fil",
            "unknown key 'fil' (did you mean 'fill'?)",
        ),
        (
            "shape: circle",
            "shap: circle",
            18,
            "layers[1].style.marker.shap",
            "unknown key 'shap' (did you mean 'shape'?)",
        ),
        (
            "{value: Europe,",
            "{valeu: Europe,",
            12,
            "layers[0].style.categorized.categories[0].valeu",
            "unknown key 'valeu' (did you mean 'value'?)",
        ),
        (
            "label: {expression",
            "label: {expresion",
            13,
            "layers[0].style.label.expresion",
            "unknown key 'expresion' (did you mean 'expression'?)",
        ),
        (
            "table: cities}",
            "tabel: cities}",
            15,
            "layers[1].source.tabel",
            "unknown key 'tabel' (did you mean 'table'?)",
        ),
        (
            "    key: fid\n",
            "    key: fid\n    wfs: {insrt: true}\n",
            17,
            "layers[1].wfs.insrt",
            "unknown key 'insrt' (did you mean 'insert'?)",
        ),
        (
            "name: checks\n",
            "name: checks\ntitel: x\n",
            2,
            "titel",
            "unknown key 'titel' (did you mean 'title'?)",
        ),
    ],
)
def test_unknown_keys_anywhere_say_what_was_meant(
    tmp_path: Path, old: str, new: str, line: int, key: str, message: str
) -> None:
    text = PROJECT.replace(old, new, 1)
    assert text != PROJECT
    assert (line, key, message) in found(project(tmp_path, text))


def test_style_values_and_geometry_types_are_checked(tmp_path: Path) -> None:
    text = PROJECT.replace('fill: "#cfe3c4"', 'fill: "#cfe3c4"\n      opacity: 2', 1)
    text = text.replace(
        "{marker: {shape: circle, rotation_field: fid}, fill: red}", "{fill: red, stroke: blue}"
    )
    issues = found(project(tmp_path, text))
    assert [(line, key) for line, key, _ in issues] == [
        (9, "layers[0].style.opacity"),
        (19, "layers[1].style"),
    ]
    assert issues[1][2] == "a point layer's symbol needs 'marker' (e.g. marker: circle)"


def test_data_options_on_a_raster_are_errors(tmp_path: Path) -> None:
    text = PROJECT.replace("    style: {ramp", '    filter: "band1 > 0"\n    style: {ramp')
    assert found(project(tmp_path, text)) == [
        (21, "layers[2].filter", "'filter' does not apply to a raster layer")
    ]


def test_every_error_of_a_file_is_reported_in_one_run(tmp_path: Path) -> None:
    text = (
        PROJECT.replace("table: countries}", "table: countries, extra: 1}")  # schema, layer 0
        .replace("fid IN (1, 2, 3)", "fidd IN (1, 2, 3)")  # field, layer 1
        .replace("shape: circle", "shape: circel")  # style value, layer 1
        .replace("elevation.tif}", "missing.tif}")
    )  # file, layer 2
    path = project(tmp_path, text)
    assert [(line, key) for line, key, _ in found(path)] == [
        (4, "layers[0].source.extra"),
        (17, "layers[1].filter"),
        (18, "layers[1].style.marker.shape"),
        (20, "layers[2].source.path"),
    ]


def test_an_unknown_key_hides_nothing_else_in_its_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the layer with `extra:` in its source (or any unknown key) was left out of the
    # field and style checks, so its filter, `fields` and style typos came only after a fix.
    text = (
        PROJECT.replace("table: countries}", "table: countries, extra: 1}")
        .replace("pop_est > 0", "popest > 0")
        .replace("exclude: [gdp_md_est]", "exclude: [gdp_mdest]")
        .replace('fill: "#cfe3c4"', 'fil: "#cfe3c4"')
        .replace("    key: fid\n", "    key: fid\n    colour: red\n")
        .replace("rotation_field: fid}", "rotation_field: fidd}")
    )
    path = project(tmp_path, text)
    assert main(["check", str(path)]) == 1
    assert [line.split(": ")[1] for line in capsys.readouterr().err.splitlines()] == [
        "layers[0].source.extra",
        "layers[0].filter",
        "layers[0].fields.exclude[0]",
        "layers[0].style.fil",
        "layers[1].colour",
        "layers[1].style.marker.rotation_field",
    ]


def test_check_command_prints_file_line_key_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project(
        tmp_path,
        PROJECT.replace('fill: "#cfe3c4"', 'fil: "#cfe3c4"').replace("pop_est > 0", "popest > 0"),
    )
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:5: layers[0].filter: unknown field in the filter 'popest' (did you mean 'pop_est'?)",
        f"{path}:8: layers[0].style.fil: unknown key 'fil' (did you mean 'fill'?)",
    ]


def test_the_server_refuses_what_check_refuses(tmp_path: Path) -> None:
    path = project(tmp_path, PROJECT.replace("pop_est > 0", "popest > 0"))
    with pytest.raises(ProjectError) as info:
        build_server(Settings(projects=[path], load_entry_points=False))
    assert [(i.line, i.key) for i in info.value.issues] == [(5, "layers[0].filter")]
    with pytest.raises(ProjectError):
        load_project(path, env={}, opener=AccessLayer().check_source)
    assert load_project(path, env={}).name == "checks"  # without sources, fields are unknown


def test_a_reload_with_a_missing_field_keeps_the_old_project(tmp_path: Path) -> None:
    path = project(tmp_path)
    server = build_server(Settings(projects=[path], load_entry_points=False))
    try:
        before = server.projects.get("checks")
        path.write_text(PROJECT.replace("pop_est > 0", "popest > 0"))
        os.utime(path, (time.time() + 5, time.time() + 5))
        with pytest.raises(ProjectError, match="popest"):
            server.projects.reload_if_changed("checks")
        assert server.projects.get("checks") is before
    finally:
        server.close()


def test_serve_exits_with_the_issues(tmp_path: Path) -> None:
    path = project(tmp_path, PROJECT.replace("field: continent", "field: contnent"))
    result = subprocess.run(
        [sys.executable, "-m", "ogcserve", "serve", str(path), "--port", "9"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert (
        f"{path}:10: layers[0].style.categorized.field: unknown field 'contnent'" in result.stderr
    )


@pytest.mark.postgis
def test_postgis_fields_and_primary_key_are_checked(tmp_path: Path) -> None:
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS")
    if not dsn:
        pytest.skip("OGCSERVE_TEST_POSTGIS is not set")
    import psycopg

    table = f"check_fields_{os.getpid()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (pk serial PRIMARY KEY, name text, geom geometry(Point, 4326))"
        )
    try:
        text = f"""\
            layers:
              - name: places
                source: {{type: postgis, dsn: "{dsn}", table: {table}}}
                key: pk
                filter: "pk IN (1, 2) AND nme <> 'x'"
                style: {{marker: circle, fill: red, label: {{field: name}}}}
            """
        path = project(tmp_path, text)
        assert found(path) == [
            (5, "layers[0].filter", "unknown field in the filter 'nme' (did you mean 'name'?)")
        ]
        assert check(project(tmp_path, text.replace("nme", "name"))) == []
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {table}")


def test_a_layer_key_that_is_no_field_is_reported_at_the_key(tmp_path: Path) -> None:
    """The source is opened with the layer's key, as the server opens it; a wrong key is named
    at its own line rather than as a source that does not open."""
    path = project(
        tmp_path,
        "name: p\nlayers:\n  - name: countries\n"
        "    source: {type: geopackage, path: natural_earth.gpkg, table: countries}\n"
        "    key: nmae\n",
    )
    issues = check_project(path, AccessLayer().check_source)
    assert [(i.line, i.key) for i in issues] == [(5, "layers[0].key")]
    assert "unknown field 'nmae'" in issues[0].message


def test_a_wrong_style_value_hides_no_field_name_of_its_block(tmp_path: Path) -> None:
    # `marker: {shape: circel}` made the whole style invalid, so its label field went unchecked.
    text = PROJECT.replace("shape: circle", "shape: circel").replace(
        "fill: red}", "fill: red, label: {field: nmae}}"
    )
    assert [(line, key) for line, key, _ in found(project(tmp_path, text))] == [
        (18, "layers[1].style.marker.shape"),
        (18, "layers[1].style.label.field"),
    ]


def test_a_wrong_value_inside_a_rule_or_category_hides_no_field_name(tmp_path: Path) -> None:
    # `marker: circl` in one rule made every rule unchecked: its filter's unknown field, and the
    # fields other rules and categories read, went unreported until the marker was fixed.
    text = PROJECT.replace(
        '{value: Europe, fill: "#1f78b4"}',
        '{value: Europe, fill: "#1f78b4x", marker: {rotation_field: rot}}',
    ).replace(
        "style: {marker: {shape: circle, rotation_field: fid}, fill: red}",
        "style:\n      rules:\n"
        "        - {filter: \"nme = 'x'\", marker: circl}\n"
        '        - {filter: "fid > 1", fill: red, marker: {rotation_field: fidd}}',
    )
    assert [(line, key) for line, key, _ in found(project(tmp_path, text))] == [
        (12, "layers[0].style.categorized.categories[0].fill"),
        (12, "layers[0].style.categorized.categories[0].marker.rotation_field"),
        (20, "layers[1].style.rules[0].marker.shape"),
        (20, "layers[1].style.rules[0].filter"),
        (21, "layers[1].style.rules[1].marker.rotation_field"),
    ]

"""`ogcserve check` on a project's viewer settings: missing modules, custom formatters that no
module exports, searches on layers that are not vector layers, formatters missing an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogcserve.cli import main
from ogcserve.testing import demo_project

HEAD = f"""
name: atlas
layers:
  - name: countries
    source: {{type: geopackage, path: {demo_project().parent / "natural_earth.gpkg"}, table: countries}}
    key: fid
"""


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    project = tmp_path / "atlas.yaml"
    project.write_text(HEAD + text)
    code = main(["check", str(project)])
    return code, capsys.readouterr().err


def test_a_formatter_module_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _check(tmp_path, "viewer: {modules: [missing.js]}\n", capsys)
    assert code == 1
    assert f"viewer.modules[0]: viewer module not found: {tmp_path / 'missing.js'}" in out


def test_a_custom_formatter_that_no_module_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f.js").write_text(
        "export function shown(v) { return v; }\nconst x = 1;\nexport { x as renamed };\n"
    )
    text = (
        "    formatters:\n"
        "      name: {type: custom, function: shown}\n"
        "      iso_a3: [{type: custom, function: renamed}, {type: custom, function: absent}]\n"
        "viewer: {modules: [f.js]}\n"
    )
    code, out = _check(tmp_path, text, capsys)
    assert code == 1
    assert (
        "layers[0].formatters.iso_a3[1].function: no viewer module exports the formatter 'absent'"
        in out
    )
    assert "'shown'" not in out and "'renamed'" not in out


def test_a_module_served_by_a_route_is_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "    formatters: {name: {type: custom, function: fromPlugin}}\n"
        "viewer: {modules: [/myplugin/formatters.js]}\n"
    )
    assert _check(tmp_path, text, capsys)[0] == 0


def test_a_search_on_a_layer_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "viewer:\n  searches: [{title: Towns, layer: towns, fields: [{name: name}]}]\n"
    code, out = _check(tmp_path, text, capsys)
    assert code == 1
    assert "search 'Towns': 'towns' is not a vector layer here" in out


@pytest.mark.parametrize(
    ("formatter", "message"),
    [
        ("{type: map}", "a 'map' formatter needs 'values'"),
        ("{type: custom, function: 'x-y'}", "'x-y' is not a JavaScript function name"),
        ("{type: links}", "layers[0].formatters.name.type: Input should be 'link'"),
        ("{type: number, decimals: -1}", "greater than or equal to 0"),
    ],
)
def test_formatters_the_schema_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], formatter: str, message: str
) -> None:
    code, out = _check(tmp_path, f"    formatters: {{name: {formatter}}}\n", capsys)
    assert code == 1
    assert message in out


def test_a_search_operator_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "viewer:\n  searches: [{title: T, layer: countries, fields: [{name: name, op: 'OR'}]}]\n"
    code, out = _check(tmp_path, text, capsys)
    assert code == 1
    assert "viewer.searches[0].fields[0].op" in out


def test_formatters_and_searches_name_fields_of_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "    formatters: {nmae: link, name: link}\n"
        "viewer:\n"
        "  searches:\n"
        "    - {title: T, layer: countries, fields: [{name: popest}], columns: [name, gdp]}\n"
    )
    code, out = _check(tmp_path, text, capsys)
    assert code == 1
    assert "layers[0].formatters.nmae: unknown field 'nmae' (did you mean 'name'?)" in out
    assert (
        "viewer.searches[0].fields[0].name: unknown field 'popest' (did you mean 'pop_est'?)" in out
    )
    assert "viewer.searches[0].columns[1]: unknown field 'gdp'" in out
    assert "formatters.name:" not in out and "columns[0]" not in out

"""The viewer's routes in process: the landing page, the page's configuration as each caller
may see it, static files and the project's modules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ogcserve.server import Server
from ogcserve.testing import call, make_server

GUEST = {"X-Role": "guest"}


@pytest.fixture(scope="module")
def atlas_server(atlas: Path, plugins_dir: Path) -> Iterator[Server]:
    server = make_server([atlas], plugin_paths=[plugins_dir])
    yield server
    server.close()


def _config(server: Server, headers: dict[str, str] | None = None) -> dict[str, Any]:
    result = call(server, "/viewer/atlas", headers=headers)
    assert result.status == 200
    found = re.search(rb'<script type="application/json" id="config">(.*?)</script>', result.body)
    assert found
    return dict(json.loads(found.group(1)))


def test_the_landing_page_lists_projects_services_and_viewers(server: Server) -> None:
    result = call(server, "/")
    assert result.status == 200
    assert result.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in result.headers["Content-Security-Policy"]
    page = result.body.decode()
    assert 'href="http://testserver/viewer/demo"' in page
    assert "http://testserver/ows/demo?SERVICE=WMS&amp;REQUEST=GetCapabilities" in page
    assert 'href="http://testserver/ogcapi/demo"' in page


def test_the_landing_page_leaves_out_a_project_the_caller_cannot_read(atlas: Path) -> None:
    from ogcserve.plugins import AccessControlFilter, LayerPermissions, ServerInterface

    class NothingOfAtlas(AccessControlFilter):
        def layer_permissions(self, layer: Any) -> LayerPermissions:
            return LayerPermissions(can_read=False)

    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(NothingOfAtlas(), 100)

    server = make_server([atlas], plugins=[setup])
    try:
        page = call(server, "/").body.decode()
        assert call(server, "/viewer/atlas").status == 404
    finally:
        server.close()
    assert "/viewer/atlas" not in page
    assert "No project is served to you" in page


def test_the_page_holds_the_readable_tree_formatters_and_searches(atlas_server: Server) -> None:
    config = _config(atlas_server)
    assert [n["name"] for n in config["layers"]] == ["countries", "places", "counties"]
    assert config["layers"][1]["children"][0]["name"] == "cities"
    assert config["formatters"]["countries"]["secret"] == [
        {"type": "template", "template": "secret: {value}"}
    ]
    assert [s["layer"] for s in config["searches"]] == ["countries", "counties"]
    assert config["searches"][0]["fields"][1] == {
        "name": "pop_est",
        "label": "Population at least",
        "op": ">=",
        "type": "number",
    }
    assert config["modules"] == ["http://testserver/viewer/atlas/modules/0"]


def test_a_guest_sees_neither_the_hidden_attribute_nor_the_forbidden_layer(
    atlas_server: Server,
) -> None:
    config = _config(atlas_server, GUEST)
    assert [n["name"] for n in config["layers"]] == ["countries", "places"]
    assert "secret" not in config["formatters"]["countries"]
    assert "counties" not in config["formatters"]
    # the search on a layer the guest may not read: the panel is absent
    assert [s["layer"] for s in config["searches"]] == ["countries"]
    assert "wiki" in config["searches"][0]["columns"]
    page = call(atlas_server, "/viewer/atlas", headers=GUEST).body
    assert b"counties" not in page and b"secret" not in page


def test_static_files_are_the_packages_own(server: Server) -> None:
    result = call(server, "/viewer/-/static/main.js")
    assert result.status == 200
    assert result.headers["Content-Type"].startswith("text/javascript")
    for name in ("nothing.js", "..%2F__init__.py", "__init__.py", "%2E%2E"):
        assert call(server, f"/viewer/-/static/{name}").status == 404


def test_a_project_module_is_served_by_number_only(atlas_server: Server) -> None:
    result = call(atlas_server, "/viewer/atlas/modules/0")
    assert result.status == 200
    assert b"export function wikipediaLink" in result.body
    for index in ("1", "-1", "formatters.js", "..%2Fatlas.yaml"):
        assert call(atlas_server, f"/viewer/atlas/modules/{index}").status == 404


def test_an_unknown_project_has_no_viewer(server: Server) -> None:
    assert call(server, "/viewer/nowhere").status == 404


def test_a_plugin_ships_a_formatter_module_on_its_own_route(tmp_path: Path) -> None:
    from ogcserve.plugins import ServerInterface

    project = tmp_path / "p.yaml"
    demo_gpkg = Path(__file__).resolve().parents[2] / "src/ogcserve/demo/natural_earth.gpkg"
    project.write_text(
        "name: p\nlayers:\n  - name: countries\n"
        f"    source: {{type: geopackage, path: {demo_gpkg}, table: countries}}\n"
        "    formatters: {name: {type: custom, function: fromPlugin}}\n"
        "viewer: {modules: [/myplugin/formatters.js]}\n"
    )

    def serve(ctx: Any) -> None:
        ctx.response.set_header("Content-Type", "text/javascript")
        ctx.response.write("export const fromPlugin = (v) => `<b>${v}</b>`;")

    def setup(iface: ServerInterface) -> None:
        iface.add_route("/myplugin/formatters.js", serve)

    server = make_server([project], plugins=[setup])
    try:
        found = re.search(rb'id="config">(.*?)</script>', call(server, "/viewer/p").body)
        assert found and json.loads(found.group(1))["modules"] == [
            "http://testserver/myplugin/formatters.js"
        ]
        assert b"fromPlugin" in call(server, "/myplugin/formatters.js").body
    finally:
        server.close()

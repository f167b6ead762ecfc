"""`ogcserve explain` and /-/explain: for one request, which access control decided what on
each layer, told from the access layer's own decisions (a native plugin and a QGIS Server
plugin through the facade, together)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ogcserve.access.explain import explain
from ogcserve.context import current_context
from ogcserve.server import Server
from ogcserve.testing import call, client, demo_project, make_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plugins"
QGIS_PLUGINS = Path(__file__).resolve().parent / "qgis_plugins"
FEATURES = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries,nc_counties"


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example role plugin alone (the other examples change every request)."""
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "role_access").symlink_to(EXAMPLES / "role_access")
    return folder


@pytest.fixture(scope="module")
def server(plugins: Path) -> Any:
    srv = make_server(plugin_paths=[plugins, QGIS_PLUGINS], admin_token="t0ken")
    names = {r.name: r.status for r in srv.plugins}
    assert names.get("role_access") == "loaded" and names.get("rows_by_header") == "loaded"
    yield srv
    srv.close()


def layer(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in report["layers"] if entry["layer"] == name)


def test_a_user_is_told_who_hid_the_layer_filtered_rows_and_hid_attributes(server: Server) -> None:
    report = explain(server, "demo", FEATURES, [("X-Role", "user"), ("X-Team", "field")])
    counties = layer(report, "nc_counties")
    assert counties["permissions"]["read"] is False
    assert counties["denied_by"]["read"] == ["role_access (RoleAccess)"]
    countries = layer(report, "countries")
    rows = countries["row_filter"]
    assert [(e["plugin"], e["text"]) for e in rows["expressions"]] == [
        ("rows_by_header", "\"continent\" = 'Asia'"),
        ("role_access", "\"continent\" IN ('Africa', 'Europe')"),
    ]
    assert [(e["plugin"], e["text"]) for e in rows["subsets"]] == [
        ("rows_by_header", "gdp_md_est < 100000")
    ]
    assert rows["combined"] == (
        "(\"continent\" = 'Asia') AND (\"continent\" IN ('Africa', 'Europe'))"
        " AND (gdp_md_est < 100000)"
    )
    attributes = countries["attributes"]
    assert attributes["hidden_by"] == {
        "gdp_md_est": "rows_by_header (RowsByHeader)",
        "pop_est": "role_access (RoleAccess)",
    }
    assert set(attributes["hidden"]) == {"gdp_md_est", "pop_est"}
    assert "name" in attributes["visible"]
    # edits: the project allows none on countries, the role plugin none for a user
    assert set(countries["denied_by"]["insert"]) == {
        "ogcserve (ProjectPolicy)",
        "role_access (RoleAccess)",
    }


def test_the_explained_rights_are_the_ones_a_real_request_gets(server: Server) -> None:
    headers = {"X-Role": "user", "X-Team": "ops"}
    report = explain(server, "demo", FEATURES, list(headers.items()))
    countries = layer(report, "countries")
    assert countries["row_filter"]["combined"] == "(\"continent\" IN ('Africa', 'Europe'))"
    # The same request for real: the rows and attributes the report says, and nothing else.
    url = "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries"
    answer = call(server, url + "&OUTPUTFORMAT=application/json", headers=headers)
    features = json.loads(answer.body)["features"]
    assert features and {f["properties"]["continent"] for f in features} == {"Africa", "Europe"}
    visible = set(countries["attributes"]["visible"])
    assert {name for f in features for name in f["properties"]} <= visible
    assert "pop_est" not in visible and "gdp_md_est" in visible
    # The fingerprint is the access layer's own: the one cache keys are built from.
    ctx = call(server, url, headers=headers).ctx
    assert ctx.project is not None
    token = current_context.set(ctx)  # plugins read the caller from the request being served
    try:
        assert server.access.fingerprint(ctx, ctx.project) == report["cache"]["fingerprint"]
    finally:
        current_context.reset(token)
    field = explain(server, "demo", FEATURES, [("X-Role", "user"), ("X-Team", "field")])
    assert field["cache"]["fingerprint"] != report["cache"]["fingerprint"]
    keys = {k["plugin"]: k["key"] for k in field["cache"]["keys"]}
    assert keys["role_access"] == "user" and keys["rows_by_header"] == "field"


def test_the_endpoint_is_404_without_an_admin_token() -> None:
    http = client(make_server())
    off = http.get("/-/explain/demo")
    nothing = http.get("/-/explainx/demo")
    assert off.status_code == nothing.status_code == 404
    assert (
        off.json()["description"].replace("explain/", "explainx/") == nothing.json()["description"]
    )


def test_the_endpoint_wants_the_admin_token(server: Server) -> None:
    http = client(server)
    url = f"/-/explain/demo?{FEATURES}"
    assert http.get(url).status_code == 403
    assert http.get(url, headers={"Ogcserve-Admin-Token": "t0ke"}).status_code == 403
    answer = http.get(url, headers={"Ogcserve-Admin-Token": "t0ken", "X-Role": "user"})
    assert answer.status_code == 200
    assert layer(answer.json(), "nc_counties")["permissions"]["read"] is False
    assert "t0ken" not in answer.text  # the token is not one of the explained headers
    missing = http.get("/-/explain/nope?SERVICE=WMS", headers={"Ogcserve-Admin-Token": "t0ken"})
    assert missing.status_code == 404


def test_the_command_line_explains_a_request(plugins: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "ogcserve",
        "explain",
        str(demo_project()),
        "--plugins",
        str(plugins),
        "--plugins",
        str(QGIS_PLUGINS),
        "--header",
        "X-Role: user",
        "--header",
        "X-Team: field",
        FEATURES,
    ]
    env = {**os.environ, "OGCSERVE_LOAD_ENTRY_POINTS": "false"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "layer nc_counties: read=no" in out.stdout
    assert "read denied by role_access (RoleAccess)" in out.stdout
    assert "hidden gdp_md_est (by rows_by_header (RowsByHeader))" in out.stdout
    assert "cache fingerprint " in out.stdout
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env)
    assert layer(json.loads(as_json.stdout), "countries")["attributes"]["hidden"]


def test_a_header_that_is_no_header_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ogcserve", "explain", str(demo_project()), "--header", "X", "A=1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "is not a header" in out.stderr

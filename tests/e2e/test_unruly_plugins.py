"""Whatever a plugin does to a response, over a real connection: the client gets the status it
set (any final three-digit code) or a 500 exception report without internals, the connection
stays usable, and the worker goes on serving. Both an ogcserve plugin and a QGIS plugin
(through the facade), in one process and with two workers (tests/e2e/plugins/). Every hook a
plugin can have raises in turn: filters, access control (WFS-T edits on an editable project
included), cache, services and the plugin's own URLs."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ogcserve.cli import demo_project
from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parent / "plugins"
SECRET = "unruly-internal-detail"  # what the plugins raise with (plugins/misdeeds.py)

CAPABILITIES = "SERVICE=WMS&REQUEST=GetCapabilities"
GETMAP = (
    "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326"
    "&BBOX=-90,-180,90,180&WIDTH=64&HEIGHT=32&FORMAT=image/png"
)
GETFEATURE = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=countries&COUNT=1"
REFUSED = 500

# (misdeed, the request it is done to, the status the client must get, text in the body)
CASES = [
    ("status999", CAPABILITIES, 999, "WMS_Capabilities"),
    ("status599", CAPABILITIES, 599, "WMS_Capabilities"),
    ("status204", CAPABILITIES, 204, ""),
    ("status42", CAPABILITIES, REFUSED, ""),
    ("status100", CAPABILITIES, REFUSED, ""),
    ("status1000", CAPABILITIES, REFUSED, ""),
    ("status_text", CAPABILITIES, REFUSED, ""),
    ("status_none", CAPABILITIES, REFUSED, ""),
    ("header_newline", CAPABILITIES, REFUSED, ""),
    ("header_nul", CAPABILITIES, REFUSED, ""),
    ("header_name_space", CAPABILITIES, REFUSED, ""),
    ("header_name_colon", CAPABILITIES, REFUSED, ""),
    ("header_unicode", CAPABILITIES, REFUSED, ""),
    ("header_number", CAPABILITIES, REFUSED, ""),
    ("header_transfer_encoding", CAPABILITIES, 200, "WMS_Capabilities"),
    ("body_dict", CAPABILITIES, REFUSED, ""),
    ("body_none", CAPABILITIES, REFUSED, ""),
    ("body_int", CAPABILITIES, REFUSED, ""),
    ("body_str", CAPABILITIES, 200, "plain text"),
    ("raise:request_ready", CAPABILITIES, REFUSED, ""),
    ("raise:project_ready", CAPABILITIES, REFUSED, ""),
    ("raise:response_complete", CAPABILITIES, REFUSED, ""),
    ("exit:request_ready", CAPABILITIES, REFUSED, ""),
    ("exit:response_complete", CAPABILITIES, REFUSED, ""),
    ("raise:send_response", "SERVICE={service}&REQUEST=Stream", REFUSED, ""),
    ("raise:service", "SERVICE={service}", REFUSED, ""),
    ("exit:service", "SERVICE={service}", REFUSED, ""),
    ("body_dict", "SERVICE={service}", REFUSED, ""),
    ("status999", "SERVICE={service}&REQUEST=Stream", 999, "one\ntwo\nthree\n"),
    ("raise:layer_permissions", GETMAP, REFUSED, ""),
    ("raise:layer_filter_expression", GETMAP, REFUSED, ""),
    ("raise:authorized_layer_attributes", GETFEATURE, REFUSED, ""),
    ("raise:cache_key", CAPABILITIES, REFUSED, ""),
    ("raise:cache_get", CAPABILITIES, REFUSED, ""),
    ("raise:cache_set", CAPABILITIES, REFUSED, ""),
]
# How each plugin is told: its parameter and the name of its service.
STYLES = {"ogcserve": ("BREAK", "UNRULY"), "qgis": ("QBREAK", "QUNRULY")}


# A second project, `edit`, whose cities may be inserted (allow_to_edit is asked).
EDIT_PROJECT = """
name: edit
title: Editable
layers:
  - name: cities
    title: Cities
    source: {type: geopackage, path: natural_earth.gpkg, table: cities}
    key: fid
    wfs: {publish: true, insert: true, update: true, delete: true}
"""
INSERT = (
    '<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
    'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:e="https://ogcserve.org/edit">'
    '<wfs:Insert><e:cities><e:geom><gml:Point gml:id="p1" srsName="EPSG:4326">'
    "<gml:pos>2.35 48.85</gml:pos></gml:Point></e:geom><e:name>Unruly</e:name></e:cities>"
    "</wfs:Insert></wfs:Transaction>"
)
HITS = "/ows/edit?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cities&RESULTTYPE=hits"


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("unruly")
    (folder / "natural_earth.gpkg").write_bytes(
        (demo_project().parent / "natural_earth.gpkg").read_bytes()
    )
    (folder / "edit.yaml").write_text(EDIT_PROJECT)
    log = folder / "server.log"
    with serve_process(
        demo_project(), folder / "edit.yaml", "--plugins", PLUGINS, workers=request.param, log=log
    ) as url:
        yield url, log


def _get(connection: http.client.HTTPConnection, target: str) -> tuple[int, bytes]:
    connection.request("GET", target)
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize(
    ("misdeed", "query", "status", "text"),
    CASES,
    ids=[f"{c[0]}-{c[1].split('&')[0 if 'service' in c[1] else 1]}" for c in CASES],
)
def test_a_misbehaving_plugin_never_costs_the_connection(
    server: tuple[str, Path], style: str, misdeed: str, query: str, status: int, text: str
) -> None:
    parameter, service = STYLES[style]
    address = urlsplit(server[0])
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=20)
    try:
        before, health = _get(connection, "/health")
        assert before == 200
        socket = connection.sock
        got, body = _get(connection, f"/ows?{query.format(service=service)}&{parameter}={misdeed}")
        assert got == status, body[:300]
        assert text.encode() in body
        if status == REFUSED:
            assert b"NoApplicableCode" in body and SECRET.encode() not in body
        if status == 204:
            assert body == b""
        # the same connection, to the same worker process, serves the next request
        after, again = _get(connection, "/health")
        assert after == 200 and connection.sock is socket
        assert _worker(again) == _worker(health)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("misdeed", "query"),
    [
        ("raise:old_request_ready", CAPABILITIES),
        ("raise:old_response_complete", CAPABILITIES),
        ("raise:old_send_response", "SERVICE=QUNRULY&REQUEST=Stream"),
        ("exit:old_response_complete", CAPABILITIES),
    ],
)
def test_the_deprecated_qgis_hooks_too(server: tuple[str, Path], misdeed: str, query: str) -> None:
    address = urlsplit(server[0])
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=20)
    try:
        got, body = _get(connection, f"/ows?{query}&QBREAK={misdeed}")
        assert got == REFUSED and b"NoApplicableCode" in body and SECRET.encode() not in body
        socket = connection.sock
        assert _get(connection, "/health")[0] == 200 and connection.sock is socket
    finally:
        connection.close()


# Hooks met on other paths: (misdeed, method, target); `{route}` is the plugin's own URL.
MORE_HOOKS = [
    ("raise:layer_filter_subset_string", "GET", f"/ows?{GETMAP}"),
    ("raise:layer_filter_subset_string", "GET", f"/ows?{GETFEATURE}"),
    ("raise:allow_to_edit", "POST", "/ows/edit?SERVICE=WFS"),
    ("exit:allow_to_edit", "POST", "/ows/edit?SERVICE=WFS"),
    ("raise:route", "GET", "{route}"),
    ("exit:route", "GET", "{route}"),
]
ROUTES = {"ogcserve": "/unruly-route", "qgis": "/qunruly-api/route"}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize(("misdeed", "method", "target"), MORE_HOOKS)
def test_raising_in_edit_checks_subset_strings_and_routes(
    server: tuple[str, Path], style: str, misdeed: str, method: str, target: str
) -> None:
    parameter = STYLES[style][0]
    target = target.format(route=ROUTES[style])
    address = urlsplit(server[0])
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=20)
    try:
        before, health = _get(connection, "/health")
        assert before == 200
        counted = _matched(connection)
        socket = connection.sock
        sep = "&" if "?" in target else "?"
        body = INSERT if method == "POST" else None
        connection.request(method, f"{target}{sep}{parameter}={misdeed}", body=body)
        response = connection.getresponse()
        got = response.read()
        assert response.status == REFUSED, got[:300]
        assert b"NoApplicableCode" in got and SECRET.encode() not in got
        # nothing was written, and the same connection and worker serve the next request
        assert _matched(connection) == counted
        after, again = _get(connection, "/health")
        assert after == 200 and connection.sock is socket
        assert _worker(again) == _worker(health)
        # unbroken, the same request is served
        connection.request(method, target, body=body)
        unbroken = connection.getresponse()
        assert unbroken.status == 200, unbroken.read()[:300]
        unbroken.read()
    finally:
        connection.close()


def _matched(connection: http.client.HTTPConnection) -> bytes:
    """How many cities the edit project holds (numberMatched of a hits request)."""
    status, body = _get(connection, HITS)
    assert status == 200, body[:300]
    return re.findall(rb'numberMatched="(\d+)"', body)[0]


def _worker(health: bytes) -> int:
    return int(json.loads(health)["worker"])


def test_the_log_names_the_plugin_and_keeps_the_details(server: tuple[str, Path]) -> None:
    url, log = server
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=20)
    try:
        assert _get(connection, f"/ows?{CAPABILITIES}&BREAK=raise:project_ready")[0] == 500
        assert _get(connection, f"/ows?{CAPABILITIES}&QBREAK=header_newline")[0] == 500
    finally:
        connection.close()
    text = log.read_text()
    assert "plugin 'unruly' failed in Unruly.on_project_ready" in text and SECRET in text
    assert "response refused, a 500 is sent instead: header X-Note" in text

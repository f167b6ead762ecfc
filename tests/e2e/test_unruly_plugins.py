"""Whatever a plugin does to a response, over a real connection: the client gets the status it
set (any final three-digit code) or a 500 exception report without internals, the connection
stays usable, and the worker goes on serving. Both an ogcserve plugin and a QGIS plugin
(through the facade), in one process and with two workers (tests/e2e/plugins/)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("unruly") / "server.log"
    with serve_process("--plugins", PLUGINS, workers=request.param, log=log) as url:
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

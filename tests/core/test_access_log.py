"""The access line: one per request, its target as sent (no line breaks smuggled in), cut."""

from __future__ import annotations

import logging

import pytest

from ogcserve.http.accesslog import MAX_TARGET, request_target
from ogcserve.testing import client, make_server


def test_one_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    http = client(make_server())
    with caplog.at_level(logging.INFO, logger="ogcserve.access"):
        http.get("/ows?SERVICE=WMS&REQUEST=GetCapabilities")
        http.options(
            "/ows", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "ogcserve.access"]
    assert len(lines) == 2
    assert lines[0].startswith('testclient "GET /ows?SERVICE=WMS&REQUEST=GetCapabilities" 200 ')
    assert lines[0].endswith(" ms") and " B " in lines[0]
    assert lines[1].startswith('testclient "OPTIONS /ows" 204 0 B ')


def test_no_access_log_setting(caplog: pytest.LogCaptureFixture) -> None:
    http = client(make_server(access_log=False))
    with caplog.at_level(logging.INFO, logger="ogcserve.access"):
        http.get("/health")
    assert not [r for r in caplog.records if r.name == "ogcserve.access"]


def test_the_target_stays_encoded_and_is_cut() -> None:
    scope = {"path": "/ows\nforged", "raw_path": b"/ows%0Aforged", "query_string": b"A=%0A"}
    assert request_target(scope) == "/ows%0Aforged?A=%0A"
    assert request_target({"path": "/a b\n", "query_string": b""}) == "/a%20b%0A"
    long = {"path": "/ows", "raw_path": b"/ows", "query_string": b"L=" + b"x" * 1000}
    assert request_target(long) == "/ows?L=" + "x" * (MAX_TARGET - 7) + "...(+707 chars)"

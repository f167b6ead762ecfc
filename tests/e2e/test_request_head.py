"""An over-long URL or header block, or a request that is not HTTP, gets an OGC exception
report from `ogcserve serve` (issue 11, item 7), not the HTTP layer's plain-text 400; the
answer arrives whole (no connection reset) and the server goes on serving. Raw sockets: HTTP
clients refuse to send such requests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from lxml import etree

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

OGC = "{http://www.opengis.net/ogc}"
CAPABILITIES = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"


def exchange(base: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw`, read until the server closes; the status, headers and body."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(raw)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def get(target: str, *extra: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: test", *extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def exception(body: bytes) -> tuple[str, str]:
    report = etree.fromstring(body)
    assert report.tag == f"{OGC}ServiceExceptionReport"
    found = report.find(f"{OGC}ServiceException")
    assert found is not None
    return found.get("code") or "", found.text or ""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = {**os.environ, "OGCSERVE_MAX_URL_LENGTH": "4096", "OGCSERVE_MAX_HEADER_BYTES": "8192"}
    with serve_process(env=env, workers=2) as url:  # the limits reach the worker processes
        yield url


def test_a_url_over_max_url_length_gets_a_414_report(server: str) -> None:
    status, headers, body = exchange(server, get(CAPABILITIES + "&X=" + "a" * 5000))
    assert status == 414 and headers["content-type"].startswith("text/xml")
    code, text = exception(body)
    assert code == "InvalidParameterValue" and "max_url_length" in text
    assert int(headers["content-length"]) == len(body)


def test_a_url_within_the_limit_is_served(server: str) -> None:
    target = CAPABILITIES + "&X=" + "a" * (4096 - len(CAPABILITIES) - 3)
    assert len(target) == 4096
    status, _, body = exchange(server, get(target))
    assert status == 200 and b"WMS_Capabilities" in body


def test_a_huge_url_is_refused_without_a_reset(server: str) -> None:
    # 400 KB of `&a=1`: refused while the request line is still arriving; the rest is read
    # and dropped, so the client gets the whole answer rather than a connection reset.
    status, _, body = exchange(server, get(CAPABILITIES + "&a=1" * 100_000))
    assert status == 414 and exception(body)[0] == "InvalidParameterValue"


def test_a_header_block_over_max_header_bytes_gets_a_431_report(server: str) -> None:
    status, _, body = exchange(server, get(CAPABILITIES, "X-Big: " + "b" * 9000))
    assert status == 431
    code, text = exception(body)
    assert code == "InvalidParameterValue" and "max_header_bytes" in text


def test_a_request_that_is_not_http_gets_a_report(server: str) -> None:
    status, _, body = exchange(server, b"GET / HTTP/1.1\r\nHost: test\r\nBad Header\r\n\r\n")
    assert status == 400 and exception(body)[0] == "OperationParsingFailed"


def test_the_server_goes_on_serving(server: str) -> None:
    for _ in range(3):
        exchange(server, get(CAPABILITIES + "&X=" + "a" * 5000))
    status, _, body = exchange(server, get(CAPABILITIES))
    assert status == 200 and b"WMS_Capabilities" in body


def test_the_default_limit_refuses_what_the_http_parser_could_not_split() -> None:
    with serve_process(workers=1) as url:
        status, _, body = exchange(url, get(CAPABILITIES + "&X=" + "a" * 70_000))
        assert status == 414 and "65535" in exception(body)[1]
        status, _, body = exchange(url, get(CAPABILITIES + "&X=" + "a" * 60_000))
        assert status == 200 and b"WMS_Capabilities" in body

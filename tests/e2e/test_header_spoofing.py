"""A client cannot pass for the role its proxy sets (issue 11, item 3), over a real connection.

The proxy sets `X-Role: user`; the client adds `X_Role: admin` (which a CGI-style mapping
would turn into the same HTTP_X_ROLE) or a second `X-Role: admin` of its own, before or after
the proxy's. Access plugins that read the role every way a plugin can — the native `env`
and request headers, QGIS's `getEnv`, `requestHeader` and `requestHeaders` — never see
"admin". Raw sockets: HTTP clients such as httpx merge or reorder header lines.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ogcserve.testing import serve_process

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parent / "role_plugins"  # header_roles, header_roles_qgis
CAPABILITIES = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities&VIA={via}"
HIDDEN = b"<Name>nc_counties</Name>"
CHANNELS = ["env", "headers", "getenv", "requestheader", "requestheaders"]

# Header lines a client sends around (or instead of) the proxy's `X-Role: user`.
SPOOFS = {
    "underscore before": [("X_Role", "admin"), ("X-Role", "user")],
    "underscore after": [("X-Role", "user"), ("X_Role", "admin")],
    "underscore alone": [("X_Role", "admin")],
    "lower underscore": [("x_role", "admin"), ("X-Role", "user")],
    "repeated before": [("X-Role", "admin"), ("X-Role", "user")],
    "repeated after": [("X-Role", "user"), ("x-role", "admin")],
}


def exchange(base: str, target: str, header_lines: list[tuple[str, str]]) -> tuple[int, bytes]:
    """Send one request exactly as written; return the status and the body."""
    parts = urlsplit(base)
    head = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in header_lines) + "\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(head.encode("latin-1"))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_process("--plugins", PLUGINS, workers=1) as url:
        yield url


@pytest.mark.parametrize("via", CHANNELS)
def test_the_proxy_role_is_what_the_plugin_sees(server: str, via: str) -> None:
    status, body = exchange(server, CAPABILITIES.format(via=via), [("X-Role", "user")])
    assert status == 200 and b"WMS_Capabilities" in body and HIDDEN not in body
    status, body = exchange(server, CAPABILITIES.format(via=via), [("X-Role", "admin")])
    assert status == 200 and HIDDEN in body  # the plugin does read the header this way


@pytest.mark.parametrize("via", CHANNELS)
@pytest.mark.parametrize("spoof", list(SPOOFS))
def test_a_client_header_never_makes_admin(server: str, via: str, spoof: str) -> None:
    status, body = exchange(server, CAPABILITIES.format(via=via), SPOOFS[spoof])
    assert status == 200 and b"WMS_Capabilities" in body
    assert HIDDEN not in body

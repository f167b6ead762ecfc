"""Custom services (name, version, default) and custom routes."""

from __future__ import annotations

import json

from ogcserve.context import RequestContext
from ogcserve.plugins import Service
from ogcserve.plugins.services import ServiceRegistry
from ogcserve.testing import call, client, make_server


def test_custom_service_default_version_is_the_first_registered(examples_dir) -> None:  # type: ignore[no-untyped-def]
    server = make_server(plugin_paths=[examples_dir])
    assert call(server, "/ows?SERVICE=ECHO&REQUEST=Echo&TEXT=hi").body == b"hi"
    assert call(server, "/ows?SERVICE=ECHO&REQUEST=Echo&TEXT=hi&VERSION=2.0.0").body == b"HI"
    # an unknown version falls back to the default
    assert call(server, "/ows?SERVICE=ECHO&REQUEST=Echo&TEXT=hi&VERSION=9.9").body == b"hi"
    # service names are matched case-insensitively
    assert call(server, "/ows?service=echo&request=echo&text=x").body == b"x"


def test_custom_service_streams(examples_dir) -> None:  # type: ignore[no-untyped-def]
    result = call(make_server(plugin_paths=[examples_dir]), "/ows?SERVICE=ECHO&REQUEST=Count&N=3")
    assert result.chunks == [b"line 0\n", b"line 1\n", b"line 2\n", b"end\n"]


def test_custom_service_errors_are_plain_text(examples_dir) -> None:  # type: ignore[no-untyped-def]
    result = call(make_server(plugin_paths=[examples_dir]), "/ows?SERVICE=ECHO&REQUEST=Count&N=x")
    assert result.status == 400
    assert result.headers["Content-Type"].startswith("text/plain")
    assert result.body == b"InvalidParameterValue: N must be an integer\n"


def test_custom_route(examples_dir) -> None:  # type: ignore[no-untyped-def]
    http = client(make_server(plugin_paths=[examples_dir]))
    response = http.get("/echo/bonjour")
    assert response.status_code == 200
    assert response.json() == {"word": "bonjour"}
    assert http.post("/echo/x").status_code == 405
    missing = http.get("/no/such/path")
    assert missing.status_code == 404
    assert json.loads(missing.text)["code"] == "NotFound"


def test_registry_semantics() -> None:
    class V(Service):
        name = "X"

        def __init__(self, version: str) -> None:
            self.version = version

    registry = ServiceRegistry()
    first, second, third = V("1.0"), V("2.0"), V("1.5")
    assert registry.register(first) and registry.register(second) and registry.register(third)
    assert not registry.register(V("1.0"))  # duplicate name+version ignored
    assert registry.get("x") is first
    assert registry.get("X", "2.0") is second
    assert registry.get("X", "7") is first
    assert registry.unregister("X", "1.0") == 1
    assert registry.get("X") is second  # highest remaining becomes the default
    assert registry.unregister("X") == 2
    assert registry.get("X") is None


def test_route_captures_path_segments() -> None:
    seen: dict[str, str] = {}

    def handler(ctx: RequestContext) -> None:
        seen.update(ctx.request.route)

    server = make_server(plugins=[lambda i: i.add_route("/api/{a}/items/{rest:path}", handler)])
    call(server, "/api/one/items/x/y/z")
    assert seen["a"] == "one" and seen["rest"] == "x/y/z"

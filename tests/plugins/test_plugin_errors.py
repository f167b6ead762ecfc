"""A plugin raising anywhere: a 500 without internals, logged with its name, the server goes on."""

from __future__ import annotations

import logging

import pytest

from ogcserve.context import RequestContext
from ogcserve.errors import LayerNotDefinedError
from ogcserve.plugins import (
    AccessControlFilter,
    CacheFilter,
    LayerPermissions,
    RequestFilter,
    ServerInterface,
    Service,
)
from ogcserve.testing import call, make_server

SECRET = "s3cret-internal-detail"


def _broken_filter(hook: str) -> RequestFilter:
    class Broken(RequestFilter):
        pass

    def boom(self: RequestFilter, ctx: RequestContext) -> bool:
        raise RuntimeError(SECRET)

    setattr(Broken, hook, boom)
    return Broken()


class Streams(Service):
    name, version = "STREAM", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.write("x")
        ctx.response.flush()


@pytest.mark.parametrize("hook", ["on_request_ready", "on_project_ready", "on_response_complete"])
def test_request_filter_hook_raising(hook: str, caplog: pytest.LogCaptureFixture) -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_filter(_broken_filter(hook))

    setup.__module__ = "broken_plugin"
    server = make_server(plugins=[setup])
    with caplog.at_level(logging.ERROR):
        result = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert result.status == 500
    assert b"NoApplicableCode" in result.body
    assert SECRET.encode() not in result.body
    assert "broken_plugin" in caplog.text and SECRET in caplog.text
    # the next request is served normally once the plugin is gone
    server.filters.replace({})
    assert call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities").status != 500


def test_send_response_raising_before_headers_gives_500() -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_service(Streams())
        iface.register_filter(_broken_filter("on_send_response"))

    result = call(make_server(plugins=[setup]), "/ows?SERVICE=STREAM")
    assert result.status == 500
    assert SECRET.encode() not in result.body


def test_error_after_first_chunk_breaks_the_stream_off() -> None:
    class LateFailure(Service):
        name, version = "LATE", "1.0.0"

        def execute(self, ctx: RequestContext) -> None:
            ctx.response.write("first")
            ctx.response.flush()
            raise RuntimeError(SECRET)

    result = call(
        make_server(plugins=[lambda i: i.register_service(LateFailure())]), "/ows?SERVICE=LATE"
    )
    assert result.status == 200
    assert result.chunks == [b"first"]
    assert result.aborted


def test_service_raising() -> None:
    class Broken(Service):
        name, version = "BROKEN", "1.0.0"

        def execute(self, ctx: RequestContext) -> None:
            raise KeyError(SECRET)

    def setup(iface: ServerInterface) -> None:
        iface.register_service(Broken())

    result = call(make_server(plugins=[setup]), "/ows?SERVICE=BROKEN")
    assert result.status == 500 and SECRET.encode() not in result.body


def test_service_error_from_a_plugin_keeps_its_code_and_status() -> None:
    class Picky(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            raise LayerNotDefinedError("no such layer: secret", locator="LAYERS")

    result = call(
        make_server(plugins=[lambda i: i.register_filter(Picky())]),
        "/ows?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0",
    )
    assert result.status == 400
    assert b'code="LayerNotDefined"' in result.body and b'locator="LAYERS"' in result.body


def test_access_control_raising_gives_500(server_with_layer_read) -> None:  # type: ignore[no-untyped-def]
    class Broken(AccessControlFilter):
        def layer_permissions(self, layer):  # type: ignore[no-untyped-def]
            raise ValueError(SECRET)

    server, read = server_with_layer_read
    ServerInterface(server, "acl_plugin").register_access_control(Broken())
    result = call(server, read)
    assert result.status == 500 and SECRET.encode() not in result.body
    assert LayerPermissions() == LayerPermissions(True, True, True, True)


def test_cache_filter_raising_gives_500() -> None:
    class Cacheable(Service):
        name, version = "DOC", "1.0.0"

        def execute(self, ctx: RequestContext) -> None:
            ctx.response.write("doc")

        def cache_kind(self, ctx):  # type: ignore[no-untyped-def]
            from ogcserve.plugins import CacheKind

            return CacheKind.DOCUMENT

    class BrokenCache(CacheFilter):
        def get(self, kind, project, key):  # type: ignore[no-untyped-def]
            raise OSError(SECRET)

    def setup(iface: ServerInterface) -> None:
        iface.register_service(Cacheable())
        iface.register_cache(BrokenCache(), priority=-1)

    result = call(make_server(plugins=[setup]), "/ows?SERVICE=DOC")
    assert result.status == 500 and SECRET.encode() not in result.body

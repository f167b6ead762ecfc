"""Answering from a filter: service exceptions in request-ready, custom SERVICE names."""

from __future__ import annotations

from ogcserve.context import RequestContext
from ogcserve.errors import SecurityError, ServiceError
from ogcserve.plugins import RequestFilter, ServerInterface
from ogcserve.testing import call, make_server


class Deny(RequestFilter):
    def __init__(self) -> None:
        self.saw_project = False
        self.complete_saw_exception: bool | None = None

    def on_request_ready(self, ctx: RequestContext) -> bool:
        ctx.set_service_exception(SecurityError("go away"))
        return True

    def on_project_ready(self, ctx: RequestContext) -> bool:
        self.saw_project = True
        return True

    def on_response_complete(self, ctx: RequestContext) -> bool:
        self.complete_saw_exception = ctx.exception_raised
        return True


def test_service_exception_in_request_ready_skips_project_and_service() -> None:
    deny = Deny()
    server = make_server(plugins=[lambda iface: iface.register_filter(deny)])
    result = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
    assert result.status == 403
    assert b'code="Security"' in result.body
    assert result.ctx.project is None
    assert deny.saw_project is False
    assert deny.complete_saw_exception is True


def test_service_exception_in_response_complete_replaces_the_body() -> None:
    class Late(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> bool:
            ctx.set_service_exception(ServiceError("late refusal"))
            return True

    server = make_server(plugins=[lambda iface: iface.register_filter(Late())])
    result = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert result.status == 400
    assert b"late refusal" in result.body


def test_hello_plugin_answers_a_service_nobody_has(examples_dir) -> None:  # type: ignore[no-untyped-def]
    server = make_server(plugin_paths=[examples_dir])
    result = call(server, "/ows?SERVICE=HELLO")
    assert result.status == 200
    assert result.body == b"HelloServer!"
    assert result.headers["Content-Type"] == "text/plain"
    assert result.headers["Content-Length"] == "12"


def test_params_plugin_injects_and_finds_its_parameter(examples_dir) -> None:  # type: ignore[no-untyped-def]
    server = make_server(plugin_paths=[examples_dir])
    seen: list[str] = []

    class Spy(RequestFilter):
        def on_project_ready(self, ctx: RequestContext) -> bool:
            seen.append(ctx.request.parameter("TEST_NEW_PARAM"))
            return True

    ServerInterface(server, "spy").register_filter(Spy(), 1000)
    result = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert seen == ["ParamsFilter"]
    assert result.headers["X-Params-Filter"] == "SUCCESS"


def test_a_filter_may_switch_the_project(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ogcserve.cli import demo_project

    other = tmp_path / "other.yaml"
    other.write_text(demo_project().read_text().replace("name: demo", "name: other"))
    for data in demo_project().parent.glob("*.*"):
        if data.suffix in (".gpkg", ".tif"):
            (tmp_path / data.name).symlink_to(data)

    class Switch(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            ctx.config_file_path = "other"
            return True

    server = make_server(
        [demo_project(), other], plugins=[lambda iface: iface.register_filter(Switch())]
    )
    result = call(server, "/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert result.ctx.project is not None and result.ctx.project.name == "other"

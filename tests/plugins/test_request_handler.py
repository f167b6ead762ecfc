"""`request_handler()` gives each thread its own request, even under concurrency."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface, Service
from ogcserve.testing import call, make_server


class Slow(Service):
    name, version = "SLOW", "1.0.0"

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def execute(self, ctx: RequestContext) -> None:
        time.sleep(0.002)  # let the other threads interleave
        handler = self.iface.request_handler()
        assert handler is not None
        ctx.response.write(handler.request.parameter("ID"))


class Echo(RequestFilter):
    """Reads the current request through the interface only, as QGIS plugins do."""

    def __init__(self, iface: ServerInterface) -> None:
        self.iface = iface

    def on_response_complete(self, ctx: RequestContext) -> bool:
        handler = self.iface.request_handler()
        assert handler is not None
        handler.response.set_header("X-Id", handler.request.parameter("ID"))
        handler.response.set_header("X-Env", self.iface.env("HTTP_X_CALLER"))
        return True


def test_concurrent_requests_each_see_their_own_request() -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_service(Slow(iface))
        iface.register_filter(Echo(iface))

    server = make_server(plugins=[setup])

    def one(i: int) -> tuple[str, str, str, str]:
        result = call(server, f"/ows?SERVICE=SLOW&ID={i}", headers={"X-Caller": f"c{i}"})
        return str(i), result.body.decode(), result.headers["X-Id"], result.headers["X-Env"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(200)))
    for expected, body, header, env in results:
        assert body == header == expected and env == f"c{expected}"


def test_no_request_outside_a_request() -> None:
    server = make_server()
    iface = ServerInterface(server)
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(iface.request_handler()))
    thread.start()
    thread.join()
    assert seen == [None] and iface.config_file_path() is None and iface.env("X") == ""


def test_parameter_helpers_and_format() -> None:
    seen: dict[str, object] = {}

    class Edit(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            ctx.set_parameter("added", "1")
            ctx.set_parameter("", "ignored")
            ctx.set_parameter("EMPTY", "")
            ctx.remove_parameter("drop")
            seen.update(
                map=ctx.parameter_map(),
                fmt=ctx.format,
                info=ctx.info_format,
                layers=ctx.parameter("layers"),
            )
            return True

    server = make_server(plugins=[lambda i: i.register_filter(Edit())])
    call(server, "/ows?SERVICE=WMS&layers=a&DROP=x&FORMAT=image/jpeg")
    assert seen["map"] == {"SERVICE": "WMS", "LAYERS": "a", "FORMAT": "image/jpeg", "ADDED": "1"}
    assert seen["fmt"] == "JPG" and seen["info"] == "" and seen["layers"] == "a"
    call(server, "/ows?SERVICE=WMS&FORMAT=image/png%3B%20mode%3D8bit&INFO_FORMAT=text/html")
    assert seen["fmt"] == "text/html"
    call(server, "/ows?SERVICE=WMS&FORMAT=image/png%3B%20mode%3D8bit")
    assert seen["fmt"] == "PNG"

"""Plugins see OGC API requests as QGIS Server plugins see its /wfs3 ones, may add routes
beside them, and a QGIS-style OGC API keeps working under the same prefix."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

from ogcapi_support import doc, get, header, write_events

from ogcserve import pipeline
from ogcserve.context import RequestContext
from ogcserve.http.request import ServerRequest
from ogcserve.plugins import RequestFilter, ServerInterface
from ogcserve.testing import make_server


class Recorder(RequestFilter):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    def on_request_ready(self, ctx: RequestContext) -> None:
        self.seen.append((ctx.parameter("SERVICE"), ctx.request.path, ctx.parameter_map()))

    def on_response_complete(self, ctx: RequestContext) -> None:
        ctx.response.set_header("X-Seen", "yes")


def test_request_filters_run_for_ogc_api_as_qgis_runs_them() -> None:
    recorder = Recorder()
    server = make_server(plugins=[lambda iface: iface.register_filter(recorder)])
    result = get(server, "/ogcapi/demo/collections/cities/items?limit=2&bbox=0,0,10,10")
    assert result.status == 200 and header(result, "x-seen") == "yes"
    # QGIS 3.22 /wfs3: SERVICE is empty, the query string's parameters upper-cased.
    service, path, params = recorder.seen[0]
    assert service == "" and path == "/ogcapi/demo/collections/cities/items"
    assert params == {"LIMIT": "2", "BBOX": "0,0,10,10"}


def test_a_filter_may_rewrite_ogc_api_parameters() -> None:
    class Cap(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> None:
            ctx.set_parameter("LIMIT", "1")

    server = make_server(plugins=[lambda iface: iface.register_filter(Cap())])
    assert len(doc(get(server, "/ogcapi/demo/collections/cities/items?limit=5"))["features"]) == 1


def test_plugins_add_routes_beside_ogc_api() -> None:
    def hello(ctx: RequestContext) -> None:
        ctx.response.set_header("Content-Type", "application/json")
        ctx.response.write(json.dumps({"project": ctx.project.name if ctx.project else None}))

    def setup(iface: ServerInterface) -> None:
        iface.add_route("/ogcapi/{project}/processes", hello)

    server = make_server(plugins=[setup])
    assert doc(get(server, "/ogcapi/demo/processes")) == {"project": "demo"}
    assert get(server, "/ogcapi/demo/collections").status == 200


def test_a_qgis_ogc_api_under_the_same_prefix(tmp_path: Path) -> None:
    plugin = tmp_path / "plugins" / "CustomApi"
    plugin.mkdir(parents=True)
    (plugin / "metadata.txt").write_text("[general]\nname=CustomApi\nserver=True\n")
    (plugin / "__init__.py").write_text(
        "from qgis.PyQt.QtCore import QRegularExpression\n"
        "from qgis.server import QgsServerOgcApi, QgsServerOgcApiHandler\n"
        "class Hello(QgsServerOgcApiHandler):\n"
        "    def path(self): return QRegularExpression('/hello')\n"
        "    def operationId(self): return 'hello'\n"
        "    def summary(self): return 'hello'\n"
        "    def description(self): return 'hello'\n"
        "    def linkTitle(self): return 'hello'\n"
        "    def linkType(self): return QgsServerOgcApi.data\n"
        "    def handleRequest(self, context):\n"
        "        self.write({'hello': 'world'}, context)\n"
        "def serverClassFactory(iface):\n"
        "    api = QgsServerOgcApi(iface, '/ogcapi/demo/custom', 'custom', 'custom', '1.0')\n"
        "    api.registerHandler(Hello())\n"
        "    iface.serviceRegistry().registerApi(api)\n"
        "    return api\n"
    )
    server = make_server(plugin_paths=[tmp_path / "plugins"])
    assert doc(get(server, "/ogcapi/demo/custom/hello")) == {"hello": "world"}
    assert get(server, "/ogcapi/demo/collections/countries").status == 200


class Sizes:
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.status: int | None = None

    def start(self, status: int, headers: Any) -> None:
        self.status = status

    def send(self, chunk: bytes) -> None:
        self.sizes.append(len(chunk))

    def end(self) -> None:
        pass

    def complete(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.sizes.append(len(body))

    def abort(self) -> None:
        raise AssertionError("stream broken off")


def test_a_large_page_streams_with_flat_memory(tmp_path: Path) -> None:
    server = make_server([write_events(tmp_path, 60_000)], ogcapi_max_limit=100_000)
    url = "http://testserver/ogcapi/ev/collections/events/items?limit=60000"
    sink = Sizes()
    tracemalloc.start()
    pipeline.handle(server, ServerRequest.build("GET", url, route={"endpoint": "path"}), sink)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    total = sum(sink.sizes)
    assert sink.status == 200 and len(sink.sizes) >= 30
    # The first chunk left after ~1,000 features, long before the last was read...
    assert sink.sizes[0] < total / 20
    # ...and memory stayed flat: far below the size of the whole page.
    assert peak < total / 4, (peak, total)

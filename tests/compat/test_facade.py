"""The QGIS facade's own rules (reference/qgis_server_plugins.md §1-§3), through the pipeline."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from ogcserve.compat.qgis import (
    QByteArray,
    Qgis,
    QgsAccessControlFilter,
    QgsMessageLog,
    QgsOgcServiceException,
    QgsRequestHandler,
    QgsServerCacheFilter,
    QgsServerException,
    QgsServerFilter,
    QgsServerInterface,
    QgsServerOgcApi,
    QgsServerOgcApiHandler,
    QgsServerQueryStringParameter,
    QgsServerRequest,
    QgsServerResponse,
    QgsService,
    QRegularExpression,
    shim,
)
from ogcserve.context import RequestContext
from ogcserve.plugins import CacheKind, ServerInterface, Service
from ogcserve.server import Server
from ogcserve.testing import call, make_server

from .conftest import handler
from .test_contract import Stream, services


def _server(setup: Any, *extra: Any) -> Server:
    return make_server(
        plugins=[services, *extra, lambda i: setup(QgsServerInterface(i.server, i.plugin))]
    )


class Recorder(QgsServerFilter):
    """Records which hooks ran, in order, in a list shared by several filters."""

    def __init__(self, iface: QgsServerInterface, name: str, log: list[str]) -> None:
        super().__init__(iface)
        self.name, self.log = name, log

    def requestReady(self) -> None:
        self.log.append(f"{self.name}.requestReady")

    def sendResponse(self) -> None:
        self.log.append(f"{self.name}.sendResponse")

    def responseComplete(self) -> None:
        self.log.append(f"{self.name}.responseComplete")


def test_old_hooks_run_through_the_default_bool_hooks() -> None:
    log: list[str] = []
    call(_server(lambda i: i.registerFilter(Recorder(i, "F", log))), "/ows?SERVICE=ECHO&KEY=X")
    assert log == ["F.requestReady", "F.responseComplete"]  # no stream: no sendResponse


def test_a_filter_overriding_both_gets_only_the_bool_hook() -> None:
    log: list[str] = []

    class Both(Recorder):
        def onRequestReady(self) -> bool:
            self.log.append("onRequestReady")
            return True

    call(_server(lambda i: i.registerFilter(Both(i, "B", log))), "/ows?SERVICE=ECHO&KEY=X")
    assert log == ["onRequestReady", "B.responseComplete"]


def test_order_lower_priority_first_then_newest_first() -> None:
    log: list[str] = []

    def setup(i: QgsServerInterface) -> None:
        for name, priority in (("A", 100), ("B", 100), ("C", 50)):
            i.registerFilter(Recorder(i, name, log), priority)
        assert {
            p: [f.name for f in fs]
            for p, fs in i.filters().items()  # type: ignore[attr-defined]
            if p in (50, 100)
        } == {50: ["C"], 100: ["B", "A"]}

    call(_server(setup), "/ows?SERVICE=ECHO&KEY=X")
    assert [e.split(".")[0] for e in log if e.endswith("requestReady")] == ["C", "B", "A"]


def test_send_response_runs_per_flush_but_not_for_the_final_chunk() -> None:
    log: list[str] = []
    chunks: list[bytes] = []

    class Spy(Recorder):
        def onSendResponse(self) -> bool:
            chunks.append(handler(self).body().data())
            return super().onSendResponse()

    result = call(_server(lambda i: i.registerFilter(Spy(i, "S", log))), "/ows?SERVICE=STREAM")
    assert chunks == [b"a", b"b", b"c"]  # the tail "d" goes out without onSendResponse
    assert log.count("S.sendResponse") == 3
    assert result.body == b"abcd"


def test_on_project_ready_runs_with_the_project_known() -> None:
    seen: list[str] = []

    class Ready(QgsServerFilter):
        def onProjectReady(self) -> bool:
            seen.append(self.serverInterface().configFilePath())
            return True

    call(_server(lambda i: i.registerFilter(Ready(i))), "/ows?SERVICE=ECHO&KEY=X")
    assert len(seen) == 1 and seen[0].endswith("demo.yaml")


def test_set_service_exception_in_request_ready_skips_the_service() -> None:
    ran: list[bool] = []

    class Refuse(QgsServerFilter):
        def requestReady(self) -> None:
            handler(self).setServiceException(QgsServerException("go away", 403))

        def responseComplete(self) -> None:
            ran.append(handler(self).exceptionRaised())

    class Spy(Service):
        name, version = "SPY", "1.0.0"

        def execute(self, ctx: RequestContext) -> None:
            ran.append(False)

    result = call(
        _server(lambda i: i.registerFilter(Refuse(i)), lambda i: i.register_service(Spy())),
        "/ows?SERVICE=SPY",
    )
    assert result.status == 403 and b"go away" in result.body
    assert ran == [True]  # service skipped, responseComplete saw the exception


def test_ogc_exception_keeps_its_code_and_status() -> None:
    class Refuse(QgsServerFilter):
        def onRequestReady(self) -> bool:
            handler(self).setServiceException(
                QgsOgcServiceException("LayerNotDefined", "no such layer", "LAYERS", 400)
            )
            return True

    result = call(_server(lambda i: i.registerFilter(Refuse(i))), "/ows?SERVICE=ECHO")
    assert result.status == 400
    assert b"LayerNotDefined" in result.body and b"no such layer" in result.body


@pytest.mark.parametrize("hook", ["requestReady", "onRequestReady", "onResponseComplete"])
def test_a_python_exception_in_a_hook_is_a_500_and_the_process_lives(hook: str) -> None:
    ran: list[bool] = []

    class Broken(QgsServerFilter):
        pass

    calls: list[int] = []

    def broken(self: QgsServerFilter) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("only on the first request")
        return True

    setattr(Broken, hook, broken)

    class Spy(Service):
        name, version = "SPY", "1.0.0"

        def execute(self, ctx: RequestContext) -> None:
            ran.append(True)
            ctx.response.write("service output")

    server = _server(lambda i: i.registerFilter(Broken(i)), lambda i: i.register_service(Spy()))
    result = call(server, "/ows?SERVICE=SPY")
    assert result.status == 500 and b"ZeroDivision" not in result.body
    assert b"service output" not in result.body
    # QGIS runs the service after a requestReady exception; we do not.
    assert ran == ([True] if hook == "onResponseComplete" else [])
    assert call(server, "/ows?SERVICE=ECHO&KEY=K&K=fine").body == b"fine"


def test_request_handler_views() -> None:
    seen: dict[str, Any] = {}

    class Look(QgsServerFilter):
        def onRequestReady(self) -> bool:
            h = handler(self)
            h.setRequestHeader("X-Added", "1")
            h.removeParameter("DROP")
            seen.update(
                url=h.url(),
                path=h.path(),
                data=h.data().data(),
                fmt=h.format(),
                header=h.requestHeader("x-added"),
                params=h.parameterMap(),
                sent=h.headersSent(),
                env=self.serverInterface().getEnv("HTTP_X_ROLE"),
            )
            h.setResponseHeader("X-Removed", "1")
            h.removeResponseHeader("X-Removed")
            return True

        def onResponseComplete(self) -> bool:
            h = handler(self)
            h.setStatusCode(299)
            seen["status"] = h.statusCode()
            seen["response"] = h.responseHeaders()
            return True

    result = call(
        _server(lambda i: i.registerFilter(Look(i))),
        "/ows/demo?SERVICE=ECHO&KEY=K&K=v&drop=1&FORMAT=image/jpeg",
        method="POST",
        body=b"payload",
        headers={"X-Role": "admin", "Content-Type": "application/octet-stream"},
    )
    assert seen["url"].endswith("/ows/demo?SERVICE=ECHO&KEY=K&K=v&drop=1&FORMAT=image/jpeg")
    assert seen["path"] == "/ows/demo" and seen["data"] == b"payload" and seen["fmt"] == "JPG"
    assert seen["header"] == "1" and "DROP" not in seen["params"] and seen["sent"] is False
    assert seen["env"] == "admin" and seen["status"] == 299
    assert "X-Removed" not in seen["response"]
    assert result.status == 299 and result.body == b"v"


def test_request_handler_is_none_outside_a_request(server: Server) -> None:
    from ogcserve.context import current_context

    token = current_context.set(None)  # other tests may leave a context bound in this thread
    try:
        assert QgsServerInterface(server, "t").requestHandler() is None
    finally:
        current_context.reset(token)


def test_send_response_from_a_filter_streams_without_hooks() -> None:
    class Early(QgsServerFilter):
        def onResponseComplete(self) -> bool:
            h = handler(self)
            h.clear()
            h.appendBody("A")
            h.sendResponse()
            h.appendBody(b"B")
            return True

    result = call(_server(lambda i: i.registerFilter(Early(i))), "/ows?SERVICE=ECHO&KEY=X")
    assert result.chunks == [b"A", b"B"] and "Content-Length" not in result.headers


def test_layer_permissions_made_from_python_are_all_false() -> None:
    rights = QgsAccessControlFilter.LayerPermissions()
    assert (rights.canRead, rights.canInsert, rights.canUpdate, rights.canDelete) == (
        False,
        False,
        False,
        False,
    )
    default = QgsAccessControlFilter(None).layerPermissions(None)  # type: ignore[arg-type]
    assert (default.canRead, default.canInsert, default.canUpdate, default.canDelete) == (
        True,
        True,
        True,
        True,
    )


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Qgis.Info, logging.INFO),
        (Qgis.Success, logging.INFO),
        (Qgis.Warning, logging.WARNING),
        (Qgis.Critical, logging.CRITICAL),
        (QgsMessageLog.INFO, logging.INFO),
        (QgsMessageLog.CRITICAL, logging.CRITICAL),
    ],
)
def test_message_log_levels(caplog: pytest.LogCaptureFixture, level: int, expected: int) -> None:
    with caplog.at_level(logging.DEBUG, logger="qgis"):
        QgsMessageLog.logMessage("hello", "MyPlugin", level)
    assert caplog.record_tuples == [("qgis.MyPlugin", expected, "hello")]


def test_message_log_default_level_is_warning(caplog: pytest.LogCaptureFixture) -> None:
    QgsMessageLog.logMessage("careful")
    assert caplog.record_tuples == [("qgis", logging.WARNING, "careful")]


class Custom(QgsService):
    def __init__(self, version: str) -> None:
        self._version = version

    def name(self) -> str:
        return "CUSTOM"

    def version(self) -> str:
        return self._version

    def executeRequest(
        self, request: QgsServerRequest, response: QgsServerResponse, project: Any
    ) -> None:
        response.setStatusCode(200)
        response.setHeader("Content-Type", "text/plain")
        response.write(
            f"{self._version} {request.method().name} {project.baseName()} "
            f"{request.parameter('X', 'none')}"
        )


def test_services_default_to_the_first_version_registered() -> None:
    registered: list[Any] = []

    def setup(i: QgsServerInterface) -> None:
        i.serviceRegistry().registerService(Custom("1.0.0"))
        i.serviceRegistry().registerService(Custom("2.0.0"))
        registered.append(i.serviceRegistry().getService("CUSTOM", "2.0.0"))

    server = _server(setup)
    assert call(server, "/ows?SERVICE=CUSTOM").body == b"1.0.0 GetMethod demo none"
    assert call(server, "/ows?SERVICE=CUSTOM&VERSION=2.0.0&X=1").body == b"2.0.0 GetMethod demo 1"
    assert call(server, "/ows?SERVICE=CUSTOM&VERSION=9").body.startswith(b"1.0.0")
    assert isinstance(registered[0], Custom) and registered[0].version() == "2.0.0"
    assert QgsServerInterface(server, "t").serviceRegistry().unregisterService("CUSTOM") == 2
    assert call(server, "/ows?SERVICE=CUSTOM").status == 400


def test_service_error_methods() -> None:
    class Errors(QgsService):
        def name(self) -> str:
            return "ERR"

        def version(self) -> str:
            return "1"

        def executeRequest(
            self, request: QgsServerRequest, response: QgsServerResponse, project: Any
        ) -> None:
            response.write("lost")
            response.sendError(418, "teapot")

    result = call(
        _server(lambda i: i.serviceRegistry().registerService(Errors())), "/ows?SERVICE=ERR"
    )
    assert result.status == 418 and result.body == b"teapot"


class Circle(QgsServerOgcApiHandler):
    def path(self) -> QRegularExpression:
        return QRegularExpression(r"^/circle/(?<name>[^/]+)$")

    def operationId(self) -> str:
        return "circle"

    def parameters(self, context: Any) -> list[QgsServerQueryStringParameter]:
        double = QgsServerQueryStringParameter.Type.Double
        return [
            QgsServerQueryStringParameter("x", True, double, "X"),
            QgsServerQueryStringParameter("r", False, double, "radius", 1.0),
        ]

    def handleRequest(self, context: Any) -> None:
        self.write(self.values(context), context)


def test_ogc_api_handler_values_and_errors() -> None:
    def setup(i: QgsServerInterface) -> None:
        api = QgsServerOgcApi(i, "/customapi", "custom api", "a custom api", "1.1")
        api.registerHandler(Circle())
        i.serviceRegistry().registerApi(api)

    server = _server(setup)
    ok = call(server, "/customapi/circle/c1?x=2.5")
    assert ok.status == 200 and ok.headers["Content-Type"] == "application/json"
    assert json.loads(ok.body) == {"name": "c1", "x": 2.5, "r": 1.0}
    missing = call(server, "/customapi/circle/c1")
    assert missing.status == 400
    assert json.loads(missing.body)["description"] == "Missing required argument: 'x'"
    bad = call(server, "/customapi/circle/c1?x=abc")
    assert json.loads(bad.body)["description"] == "Argument 'x' could not be converted to Double"
    nothing = call(server, "/customapi/square")
    assert nothing.status == 400 and b"does not match any registered API handler" in nothing.body


class DictCache(QgsServerCacheFilter):
    def __init__(self, iface: QgsServerInterface) -> None:
        super().__init__(iface)
        self.docs: dict[str, bytes] = {}

    def getCachedDocument(self, project: Any, request: Any, key: str) -> QByteArray:
        return QByteArray(self.docs.get(key, b""))

    def setCachedDocument(self, doc: QByteArray, project: Any, request: Any, key: str) -> bool:
        self.docs[key] = doc.data()
        return True

    def deleteCachedDocuments(self, project: Any) -> bool:
        self.docs.clear()
        return True


class Counted(Service):
    name, version = "COUNTED", "1.0.0"
    runs = 0

    def execute(self, ctx: RequestContext) -> None:
        Counted.runs += 1
        ctx.response.set_header("Content-Type", "text/xml")
        ctx.response.write(f"<doc run='{Counted.runs}'/>")

    def cache_kind(self, ctx: RequestContext) -> CacheKind:
        return CacheKind.DOCUMENT


def test_cache_filter_serves_documents_it_stored() -> None:
    caches: list[DictCache] = []

    def setup(i: QgsServerInterface) -> None:
        caches.append(DictCache(i))
        i.registerServerCache(caches[0], priority=0)

    server = _server(setup, lambda i: i.register_service(Counted()))
    first = call(server, "/ows?SERVICE=COUNTED").body
    assert call(server, "/ows?SERVICE=COUNTED").body == first
    assert len(caches[0].docs) == 1
    cached = call(server, "/ows?SERVICE=COUNTED")
    assert cached.headers["Content-Type"].startswith("text/xml")
    QgsServerInterface(server, "t").removeConfigCacheEntry(str(server.projects.default().path))
    assert not caches[0].docs
    assert call(server, "/ows?SERVICE=COUNTED").body != first


def test_access_controls_aggregate_for_the_current_request() -> None:
    seen: list[Any] = []

    class Deny(QgsAccessControlFilter):
        def layerPermissions(self, layer: Any) -> Any:
            rights = QgsAccessControlFilter.LayerPermissions(canRead=True)
            rights.canRead = layer.name() != "cities"
            return rights

        def layerFilterSubsetString(self, layer: Any) -> str:
            return "1 = 1"

    class Ask(QgsServerFilter):
        def onProjectReady(self) -> bool:
            acl = self.serverInterface().accessControls()
            from ogcserve.compat.qgis import QgsProject, QgsVectorLayer

            cities, countries = (
                QgsProject.instance().mapLayersByName(n)[0] for n in ("cities", "countries")
            )
            assert isinstance(countries, QgsVectorLayer)
            seen.extend(
                [
                    acl.layerReadPermission(cities),
                    acl.layerReadPermission(countries),
                    acl.layerInsertPermission(countries),
                    acl.extraSubsetString(countries),
                    countries.fields().names()[:2],
                    countries.id(),
                ]
            )
            return True

    def setup(i: QgsServerInterface) -> None:
        i.registerAccessControl(Deny, 10)  # a class, as registerFilter takes one
        i.registerFilter(Ask(i))

    call(_server(setup), "/ows?SERVICE=ECHO&KEY=X")
    assert seen[:4] == [False, True, False, "((1 = 1))"]  # the project forbids inserts
    assert len(seen[4]) == 2 and seen[5] == "countries"


def test_set_filters_replaces_everything() -> None:
    log: list[str] = []

    def setup(i: QgsServerInterface) -> None:
        i.registerFilter(Recorder(i, "gone", log), 1)
        i.setFilters({5: [Recorder(i, "kept", log)]})

    call(_server(setup), "/ows?SERVICE=ECHO&KEY=X")
    assert log == ["kept.requestReady", "kept.responseComplete"]


def test_set_config_file_path_picks_the_project(tmp_path: Path) -> None:
    from ogcserve.cli import demo_project

    other = tmp_path / "other.yaml"
    other.write_text(demo_project().read_text().replace("name: demo", "name: other"))
    for name in ("natural_earth.gpkg", "elevation.tif"):
        (tmp_path / name).symlink_to(demo_project().parent / name)
    seen: list[str] = []

    class Pick(QgsServerFilter):
        def onRequestReady(self) -> bool:
            self.serverInterface().setConfigFilePath("other")
            return True

        def onProjectReady(self) -> bool:
            seen.append(self.serverInterface().configFilePath())
            return True

    server = make_server(
        [demo_project(), other],
        plugins=[
            services,
            lambda i: QgsServerInterface(i.server, i.plugin).registerFilter(Pick, 0),
        ],
    )
    call(server, "/ows?SERVICE=ECHO&KEY=X")
    assert seen == [str(other)]


def test_shim_steps_aside_for_real_qgis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shim.uninstall()
    (tmp_path / "qgis").mkdir()
    (tmp_path / "qgis" / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert shim.install() is False
    assert "qgis" not in sys.modules or getattr(sys.modules["qgis"], "REAL", False)
    sys.modules.pop("qgis", None)


def test_shim_provides_the_three_modules() -> None:
    shim.uninstall()
    assert shim.install(with_qt=False) is True  # with Qt: tests/compat/test_qt.py
    try:
        namespace: dict[str, Any] = {}
        exec(
            "from qgis.server import *\nfrom qgis.core import QgsMessageLog, Qgis\n"
            "from qgis.PyQt.QtCore import QByteArray",
            namespace,
        )
        assert namespace["QgsServerFilter"] is QgsServerFilter
        assert namespace["QgsRequestHandler"] is QgsRequestHandler
        assert namespace["QByteArray"] is QByteArray and namespace["Qgis"] is Qgis
        assert shim.install() is False  # already there
    finally:
        shim.uninstall()
    assert "qgis" not in sys.modules


def test_core_never_imports_the_facade() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "ogcserve"
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "compat" not in p.parts and p.name != "app.py" and "ogcserve.compat" in p.read_text()
    ]
    assert offenders == []


def test_stream_service_is_reused() -> None:
    assert Stream.name == "STREAM"


def test_qt_subset() -> None:
    ba = QByteArray(b"ab").append("c")
    assert ba.data() == b"abc" and ba.size() == 3 and not ba.isEmpty()
    match = QRegularExpression(r"^/items/(?<id>\d+)$").match("/items/42")
    assert match.hasMatch() and match.captured("id") == "42" and match.captured(1) == "42"
    assert not QRegularExpression("^x$").match("y").hasMatch()


def test_plain_interface_plugins_still_get_snake_case(server: Server) -> None:
    iface = QgsServerInterface(server, "t")
    assert isinstance(iface, ServerInterface)

"""One contract, two spellings: each scenario runs once through the Pythonic API and once
through the QGIS facade, and the responses must be identical (status, headers, body)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ogcserve.compat.qgis import (
    QgsAccessControlFilter,
    QgsServerFilter,
    QgsServerInterface,
)
from ogcserve.context import RequestContext
from ogcserve.features import Feature
from ogcserve.plugins import (
    AccessControlFilter,
    LayerPermissions,
    RequestFilter,
    ServerInterface,
    Service,
)
from ogcserve.projects import Layer
from ogcserve.testing import call, make_server

from .conftest import handler, qgis

Setup = Callable[[ServerInterface], Any]


class Echo(Service):
    """SERVICE=ECHO&KEY=X answers the value of parameter X."""

    name, version = "ECHO", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.set_header("Content-Type", "text/plain")
        ctx.response.write(ctx.request.parameter(ctx.request.parameter("KEY")) or "-")


class Stream(Service):
    """SERVICE=STREAM: three flushed chunks and an unflushed tail."""

    name, version = "STREAM", "1.0.0"

    def execute(self, ctx: RequestContext) -> None:
        ctx.response.set_header("Content-Type", "text/plain")
        for part in ("a", "b", "c"):
            ctx.response.write(part)
            ctx.response.flush()
        ctx.response.write("d")


def services(iface: ServerInterface) -> None:
    iface.register_service(Echo())
    iface.register_service(Stream())


# --- add a parameter -------------------------------------------------------------------


def py_add_parameter(iface: ServerInterface) -> None:
    class AddParameter(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            ctx.set_parameter("ADDED", "yes")
            return True

    iface.register_filter(AddParameter(), 10)


def qgis_add_parameter(iface: QgsServerInterface) -> None:
    class AddParameter(QgsServerFilter):
        def onRequestReady(self) -> bool:
            handler(self).setParameter("ADDED", "yes")
            return True

    iface.registerFilter(AddParameter(iface), 10)


# --- stop a chain ----------------------------------------------------------------------


def py_stop_chain(iface: ServerInterface) -> None:
    class Stop(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            ctx.response.set_header("X-First", "ran")
            return False

    class Later(RequestFilter):
        def on_request_ready(self, ctx: RequestContext) -> bool:
            ctx.response.set_header("X-Second", "ran")
            return True

    iface.register_filter(Later(), 20)
    iface.register_filter(Stop(), 10)


def qgis_stop_chain(iface: QgsServerInterface) -> None:
    class Stop(QgsServerFilter):
        def onRequestReady(self) -> bool:
            handler(self).setResponseHeader("X-First", "ran")
            return False

    class Later(QgsServerFilter):
        def requestReady(self) -> None:  # an old-style hook: reached through onRequestReady
            handler(self).setResponseHeader("X-Second", "ran")

    iface.registerFilter(Later(iface), 20)
    iface.registerFilter(Stop(iface), 10)


# --- replace a body --------------------------------------------------------------------


def py_replace_body(iface: ServerInterface) -> None:
    class Replace(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> bool:
            ctx.response.replace_body(b"replaced: " + ctx.response.body)
            ctx.response.set_header("Content-Type", "text/x-replaced")
            return True

    iface.register_filter(Replace())


def qgis_replace_body(iface: QgsServerInterface) -> None:
    class Replace(QgsServerFilter):
        def responseComplete(self) -> None:
            h = handler(self)
            body = h.body()
            h.clearBody()
            h.appendBody(b"replaced: " + body.data())
            h.setResponseHeader("Content-Type", "text/x-replaced")

    iface.registerFilter(Replace(iface))


# --- rebuild a streamed response -------------------------------------------------------


def py_rebuild_stream(iface: ServerInterface) -> None:
    class Rebuild(RequestFilter):
        parts: list[bytes] = []

        def on_request_ready(self, ctx: RequestContext) -> bool:
            self.parts = []
            return True

        def on_send_response(self, ctx: RequestContext) -> bool:
            if ctx.response.final_flush:
                return True
            self.parts.append(ctx.response.body)
            ctx.response.clear_body()
            return False  # hold the chunk back: nothing is sent yet

        def on_response_complete(self, ctx: RequestContext) -> bool:
            ctx.response.replace_body(b"".join(self.parts).upper() + ctx.response.body.upper())
            return True

    iface.register_filter(Rebuild())


def qgis_rebuild_stream(iface: QgsServerInterface) -> None:
    class Rebuild(QgsServerFilter):
        parts: list[bytes] = []

        def onRequestReady(self) -> bool:
            self.parts = []
            return True

        def onSendResponse(self) -> bool:
            h = handler(self)
            self.parts.append(h.body().data())
            h.clearBody()
            return False

        def onResponseComplete(self) -> bool:
            h = handler(self)
            tail = h.body().data()
            h.clearBody()
            h.appendBody(b"".join(self.parts).upper() + tail.upper())
            return True

    iface.registerFilter(Rebuild(iface))


# --- deny a layer ----------------------------------------------------------------------


def py_deny_layer(iface: ServerInterface) -> None:
    class Deny(AccessControlFilter):
        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            return LayerPermissions(can_read=layer.name != "staff")

    iface.register_access_control(Deny(), 100)


def qgis_deny_layer(iface: QgsServerInterface) -> None:
    class Deny(QgsAccessControlFilter):
        def layerPermissions(self, layer: Any) -> Any:
            rights = QgsAccessControlFilter.LayerPermissions()
            rights.canRead = rights.canInsert = rights.canUpdate = rights.canDelete = (
                layer.name() != "staff"
            )
            return rights

    iface.registerAccessControl(Deny(iface), 100)


# --- hide an attribute -----------------------------------------------------------------


def py_hide_attribute(iface: ServerInterface) -> None:
    class Hide(AccessControlFilter):
        def authorized_layer_attributes(self, layer: Layer, attributes: list[str]) -> list[str]:
            return [a for a in attributes if a != "salary"]

    iface.register_access_control(Hide(), 100)


def qgis_hide_attribute(iface: QgsServerInterface) -> None:
    class Hide(QgsAccessControlFilter):
        def authorizedLayerAttributes(self, layer: Any, attributes: list[str]) -> list[str]:
            return [a for a in attributes if a != "salary"]

    iface.registerAccessControl(Hide(iface), 100)


# --- filter rows by expression / by subset string --------------------------------------


def py_rows_expression(iface: ServerInterface) -> None:
    class Rows(AccessControlFilter):
        def layer_filter_expression(self, layer: Layer) -> str | None:
            return "\"role\" = 'user'" if layer.name == "staff" else None

    iface.register_access_control(Rows(), 100)


def qgis_rows_expression(iface: QgsServerInterface) -> None:
    class Rows(QgsAccessControlFilter):
        def layerFilterExpression(self, layer: Any) -> str:
            return "\"role\" = 'user'" if layer.name() == "staff" else ""

    iface.registerAccessControl(Rows(iface), 100)


def py_rows_subset(iface: ServerInterface) -> None:
    class Rows(AccessControlFilter):
        def layer_filter_subset_string(self, layer: Layer) -> str | None:
            return "role = 'user'"

    iface.register_access_control(Rows(), 100)


def qgis_rows_subset(iface: QgsServerInterface) -> None:
    class Rows(QgsAccessControlFilter):
        def layerFilterSubsetString(self, layer: Any) -> str:
            return "role = 'user'"

    iface.registerAccessControl(Rows(iface), 100)


# --- refuse an edit --------------------------------------------------------------------


def py_refuse_edit(iface: ServerInterface) -> None:
    class Edit(AccessControlFilter):
        def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
            return bool(feature.properties.get("role") == "user")

    iface.register_access_control(Edit(), 100)


def qgis_refuse_edit(iface: QgsServerInterface) -> None:
    class Edit(QgsAccessControlFilter):
        def allowToEdit(self, layer: Any, feature: Any) -> bool:
            return bool(feature.attribute("role") == "user")

    iface.registerAccessControl(Edit(iface), 100)


SCENARIOS: dict[str, tuple[Setup, Setup, str, str]] = {
    # name: (pythonic, qgis, method, url)
    "add a parameter": (
        py_add_parameter,
        qgis(qgis_add_parameter),
        "GET",
        "/ows?SERVICE=ECHO&KEY=ADDED",
    ),
    "stop a chain": (py_stop_chain, qgis(qgis_stop_chain), "GET", "/ows?SERVICE=ECHO&KEY=X"),
    "replace a body": (
        py_replace_body,
        qgis(qgis_replace_body),
        "GET",
        "/ows?SERVICE=ECHO&KEY=K&K=original",
    ),
    "rebuild a streamed response": (
        py_rebuild_stream,
        qgis(qgis_rebuild_stream),
        "GET",
        "/ows?SERVICE=STREAM",
    ),
    "deny a layer": (py_deny_layer, qgis(qgis_deny_layer), "GET", "/test/features/staff"),
    "hide an attribute": (
        py_hide_attribute,
        qgis(qgis_hide_attribute),
        "GET",
        "/test/features/staff",
    ),
    "filter rows by expression": (
        py_rows_expression,
        qgis(qgis_rows_expression),
        "GET",
        "/test/features/staff",
    ),
    "filter rows by subset string": (
        py_rows_subset,
        qgis(qgis_rows_subset),
        "GET",
        "/test/features/staff",
    ),
    "refuse an edit": (
        py_refuse_edit,
        qgis(qgis_refuse_edit),
        "POST",
        "/test/edit/staff?FID=2&NAME=robert",
    ),
    "allow an edit": (
        py_refuse_edit,
        qgis(qgis_refuse_edit),
        "POST",
        "/test/edit/staff?FID=1&NAME=alicia",
    ),
}

# What each scenario must answer (the same for both spellings).
EXPECTED: dict[str, Callable[[int | None, dict[str, str], bytes], bool]] = {
    "add a parameter": lambda s, h, b: s == 200 and b == b"yes",
    "stop a chain": lambda s, h, b: h.get("X-First") == "ran" and "X-Second" not in h,
    "replace a body": lambda s, h, b: (
        s == 200 and b == b"replaced: original" and h["Content-Type"] == "text/x-replaced"
    ),
    "rebuild a streamed response": lambda s, h, b: s == 200 and b == b"ABCD",
    "deny a layer": lambda s, h, b: s == 403 and json.loads(b)["code"] == "Security",
    "hide an attribute": lambda s, h, b: (
        s == 200
        and [sorted(f["properties"]) for f in json.loads(b)["features"]]
        == [["fid", "name", "role"]] * 4
    ),
    "filter rows by expression": lambda s, h, b: (
        s == 200
        and [f["properties"]["name"] for f in json.loads(b)["features"]] == ["alice", "carol"]
    ),
    "filter rows by subset string": lambda s, h, b: (
        s == 200
        and [f["properties"]["name"] for f in json.loads(b)["features"]] == ["alice", "carol"]
    ),
    "refuse an edit": lambda s, h, b: s == 403 and json.loads(b)["code"] == "Security",
    "allow an edit": lambda s, h, b: s == 200 and json.loads(b) == {"updated": 1},
}


def _run(
    project: Path, routes: Setup, setup: Setup, method: str, url: str
) -> tuple[int | None, dict[str, str], bytes]:
    server = make_server([project], plugins=[routes, services, setup])
    try:
        result = call(server, url, method=method)
        return result.status, result.headers, result.body
    finally:
        server.close()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_apis_give_the_same_response(
    scenario: str, staff_project: Callable[[], Path], routes: Setup
) -> None:
    pythonic, qgis_setup, method, url = SCENARIOS[scenario]
    expected = _run(staff_project(), routes, pythonic, method, url)
    assert EXPECTED[scenario](*expected), expected
    assert _run(staff_project(), routes, qgis_setup, method, url) == expected


def test_without_plugins_the_scenarios_differ(
    staff_project: Callable[[], Path], routes: Setup
) -> None:
    # The expectations above are not met by the server on its own: each plugin did something.
    for scenario, (_, _, method, url) in SCENARIOS.items():
        if scenario == "allow an edit":
            continue
        got = _run(staff_project(), routes, lambda iface: None, method, url)
        assert not EXPECTED[scenario](*got), scenario

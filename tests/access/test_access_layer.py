"""The access layer with real data: rows, attributes, layers, edits and caches per caller."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ogcserve.access import Read
from ogcserve.cli import demo_project
from ogcserve.context import RequestContext
from ogcserve.errors import LayerNotDefinedError, NotFoundError, SecurityError
from ogcserve.features import Feature
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink, ServerResponse
from ogcserve.plugins import (
    AccessControlFilter,
    CacheKind,
    LayerPermissions,
    ServerInterface,
    Service,
)
from ogcserve.projects import Layer
from ogcserve.server import Server
from ogcserve.testing import call, make_server


@pytest.fixture
def role_server(examples_dir: Path, reader_plugin: Any) -> Server:
    return make_server(plugin_paths=[examples_dir], plugins=[reader_plugin])


def _get(server: Server, query: str, role: str = "user") -> tuple[int | None, Any]:
    result = call(server, f"/test/features/{query}", headers={"X-Role": role})
    return result.status, json.loads(result.body)


def test_rows_are_filtered_per_role(role_server: Server) -> None:
    status, doc = _get(role_server, "countries")
    assert status == 200
    assert doc["count"] == len(doc["features"]) > 0
    assert {f["properties"]["continent"] for f in doc["features"]} == {"Africa", "Europe"}
    _, admin = _get(role_server, "countries", "admin")
    assert admin["count"] == 177


def test_rows_stay_exact_while_roles_alternate(role_server: Server) -> None:
    # The source keeps the plan of each rule it was asked with (sources/_query.FilterPlans):
    # the plugin's rule for `user`, none for `admin`, and a request's own filter ANDed with
    # the rule each time: every answer is still exactly the caller's rows.
    for _ in range(3):
        _, user = _get(role_server, "countries")
        assert {f["properties"]["continent"] for f in user["features"]} == {"Africa", "Europe"}
        _, admin = _get(role_server, "countries", "admin")
        assert admin["count"] == 177
        _, mixed = _get(role_server, "countries?filter=continent='Asia'")
        assert mixed["count"] == 0
        _, asia = _get(role_server, "countries?filter=continent='Asia'", "admin")
        assert asia["count"] > 0
        assert {f["properties"]["continent"] for f in asia["features"]} == {"Asia"}


def test_hidden_attribute_never_appears(role_server: Server) -> None:
    _, doc = _get(role_server, "countries")
    assert all("pop_est" not in f["properties"] for f in doc["features"])
    _, admin = _get(role_server, "countries", "admin")
    assert all("pop_est" in f["properties"] for f in admin["features"])


@pytest.mark.parametrize(
    "query",
    [
        "countries?FILTER=pop_est>1000",
        "countries?PROPERTIES=name,pop_est",
        "countries?SORTBY=pop_est",
    ],
)
def test_hidden_attribute_cannot_be_probed(role_server: Server, query: str) -> None:
    status, body = _get(role_server, query)
    assert status == 400
    assert body["code"] == "InvalidParameterValue" and "pop_est" in body["description"]
    assert _get(role_server, query, "admin")[0] == 200


def test_layer_that_may_not_be_read_is_403(role_server: Server) -> None:
    status, body = _get(role_server, "nc_counties")
    assert status == 403 and body["code"] == "Security"
    assert _get(role_server, "nc_counties", "admin")[0] == 200
    assert _get(role_server, "nyc_boroughs", "anonymous")[0] == 403
    assert _get(role_server, "nyc_boroughs", "user")[0] == 200


def test_unknown_layer(role_server: Server) -> None:
    status, body = _get(role_server, "atlantis")
    assert status == 400 and body["code"] == "LayerNotDefined"


def test_request_filter_is_anded_with_the_access_filter(role_server: Server) -> None:
    _, doc = _get(role_server, "countries?FILTER=continent%3D'Asia'")
    assert doc["count"] == 0
    _, admin = _get(role_server, "countries?FILTER=continent%3D'Asia'", "admin")
    assert admin["count"] > 0


@pytest.mark.parametrize(
    "payload",
    [
        "name = 'x'' OR 1=1 --'",
        "name = 'x''; DROP TABLE countries; --'",
        "name = 'France') OR ('1'='1",
        "name = 'x\\' OR 1=1 --'",
        '"name" = \'x\' OR "name; DROP TABLE countries" = 1',
    ],
)
def test_injection_payloads(role_server: Server, payload: str) -> None:
    from urllib.parse import quote

    status, doc = _get(role_server, f"countries?FILTER={quote(payload)}", "admin")
    assert status in (200, 400)
    if status == 200:
        names = {f["properties"]["name"] for f in doc["features"]}
        assert len(names) <= 1  # at most a literal match, never "everything"
    assert _get(role_server, "countries", "admin")[1]["count"] == 177  # the table survived


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("LIMIT=-1", 400),
        ("OFFSET=-5", 400),
        ("OFFSET=100000000000000000000000", 400),
        ("LIMIT=999999999999999", 200),
        ("OFFSET=100000", 200),
        ("LIMIT=abc", 400),
    ],
)
def test_absurd_limits_and_offsets(role_server: Server, query: str, status: int) -> None:
    got, doc = _get(role_server, f"countries?{query}", "admin")
    assert got == status
    if query == "OFFSET=100000":
        assert doc["features"] == []


def test_limit_applies_to_the_rows_the_caller_may_see(role_server: Server) -> None:
    _, some = _get(role_server, "countries?LIMIT=5&SORTBY=name")
    assert len(some["features"]) == 5
    assert {f["properties"]["continent"] for f in some["features"]} <= {"Africa", "Europe"}


def test_groups_whose_members_are_all_hidden_disappear(server: Server) -> None:
    class NoCities(AccessControlFilter):
        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            return LayerPermissions(can_read=layer.name != "cities")

    ServerInterface(server, "t").register_access_control(NoCities())
    ctx = _ctx(server)
    names = [layer.name for layer in server.access.readable_layers(ctx, ctx.project)]  # type: ignore[arg-type]
    assert "places" not in names and "countries" in names


def test_a_group_is_named_as_the_caller_sees_it(server: Server) -> None:
    class NoCitiesNoCounties(AccessControlFilter):
        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            return LayerPermissions(can_read=layer.name not in ("cities", "nc_counties"))

    ServerInterface(server, "t").register_access_control(NoCitiesNoCounties())
    ctx = _ctx(server)
    project = ctx.project
    assert project is not None
    assert server.access.readable_layer(ctx, project, "countries").name == "countries"
    # A group with nothing readable left answers as a name that does not exist, word for word.
    with pytest.raises(LayerNotDefinedError) as hidden:
        server.access.readable_layer(ctx, project, "places")
    with pytest.raises(LayerNotDefinedError) as unknown:
        server.access.readable_layer(ctx, project, "atlantis")
    assert str(hidden.value).replace("places", "atlantis") == str(unknown.value)
    assert hidden.value.locator == "places"
    with pytest.raises(SecurityError):
        server.access.readable_layer(ctx, project, "nc_counties")


def _ctx(server: Server, role: str = "admin") -> RequestContext:
    request = ServerRequest.build("GET", "http://t/ows", headers={"X-Role": role})
    ctx = RequestContext(server, request, ServerResponse(BufferSink()))
    ctx.project = server.projects.default()
    return ctx


@pytest.fixture
def editable(tmp_path: Path, examples_dir: Path) -> Server:
    src = demo_project()
    shutil.copy(src.parent / "natural_earth.gpkg", tmp_path)
    shutil.copy(src.parent / "elevation.tif", tmp_path)
    text = (
        src.read_text()
        .replace("delete: false", "delete: true")
        .replace("insert: false", "insert: true")
        .replace("update: false", "update: true")
    )
    (tmp_path / "demo.yaml").write_text(text)
    return make_server([tmp_path / "demo.yaml"], plugin_paths=[examples_dir])


def _with_ctx(server: Server, role: str) -> RequestContext:
    from ogcserve.context import current_context

    ctx = _ctx(server, role)
    current_context.set(ctx)
    return ctx


def test_edit_refused_for_a_role_without_rights(editable: Server) -> None:
    ctx = _with_ctx(editable, "user")
    layer = editable.access.layer(ctx, ctx.project, "cities")  # type: ignore[arg-type]
    with pytest.raises(SecurityError), editable.access.edit(ctx, layer) as editor:
        editor.delete([1])


def test_update_out_of_the_callers_rows_is_refused_and_rolled_back(editable: Server) -> None:
    class Europe(AccessControlFilter):
        def layer_filter_expression(self, layer: Layer) -> str | None:
            return "continent = 'Europe'" if layer.name == "countries" else None

    ServerInterface(editable, "europe").register_access_control(Europe())
    ctx = _with_ctx(editable, "admin")
    layer = editable.access.layer(ctx, ctx.project, "countries")  # type: ignore[arg-type]
    europe = [
        f for b in editable.access.features(ctx, layer, Read(with_geometry=False)) for f in b.rows()
    ]
    fid = europe[0].id
    with pytest.raises(SecurityError), editable.access.edit(ctx, layer) as editor:
        editor.update(europe[1].id, {"name": "renamed"})  # allowed, then rolled back
        editor.update(fid, {"continent": "Asia"})  # would leave the caller's rows
    ctx = _with_ctx(editable, "admin")
    after = editable.access.get(ctx, layer, europe[1].id)
    assert after is not None and after.properties["name"] == europe[1].properties["name"]


def test_features_outside_the_callers_rows_do_not_exist_for_edits(editable: Server) -> None:
    ctx = _with_ctx(editable, "admin")

    class OnlyOne(AccessControlFilter):
        def layer_filter_expression(self, layer: Layer) -> str | None:
            return "$id = 1"

    ServerInterface(editable, "one").register_access_control(OnlyOne())
    ctx = _with_ctx(editable, "admin")
    layer = editable.access.layer(ctx, ctx.project, "cities")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError), editable.access.edit(ctx, layer) as editor:
        editor.delete([2])


def test_insert_checks_allow_to_edit_on_the_new_feature(editable: Server) -> None:
    class NoParis(AccessControlFilter):
        def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
            return feature.properties.get("name") != "Paris"

    ServerInterface(editable, "noparis").register_access_control(NoParis())
    ctx = _with_ctx(editable, "admin")
    layer = editable.access.layer(ctx, ctx.project, "cities")  # type: ignore[arg-type]
    from shapely import Point

    before = editable.access.count(ctx, layer, Read())
    with editable.access.edit(ctx, layer) as editor:
        ids = editor.insert([Feature(None, Point(1, 2), {"name": "Lyon"})])
    assert len(ids) == 1
    with pytest.raises(SecurityError), editable.access.edit(ctx, layer) as editor:
        editor.insert(
            [
                Feature(None, Point(2, 3), {"name": "Nice"}),
                Feature(None, Point(2, 48), {"name": "Paris"}),
            ]
        )
    assert editable.access.count(ctx, layer, Read()) == before + 1


class LayerList(Service):
    """A cacheable document listing the readable layers: what capabilities do."""

    name, version = "LIST", "1.0.0"

    def __init__(self) -> None:
        self.runs = 0

    def execute(self, ctx: RequestContext) -> None:
        self.runs += 1
        layers = ctx.server.access.readable_layers(ctx, ctx.project)  # type: ignore[arg-type]
        ctx.response.set_header("Content-Type", "text/plain")
        ctx.response.write(",".join(sorted(layer.name for layer in layers)))

    def cache_kind(self, ctx: RequestContext) -> CacheKind:
        return CacheKind.DOCUMENT


def test_cached_documents_never_leak_across_rights(examples_dir: Path) -> None:
    service = LayerList()
    server = make_server(
        plugin_paths=[examples_dir], plugins=[lambda i: i.register_service(service)]
    )
    admin = call(server, "/ows?SERVICE=LIST", headers={"X-Role": "admin"}).body
    user = call(server, "/ows?SERVICE=LIST", headers={"X-Role": "user"}).body
    anon = call(server, "/ows?SERVICE=LIST").body
    assert b"nc_counties" in admin and b"nc_counties" not in user
    assert b"nyc_boroughs" in user and b"nyc_boroughs" not in anon
    assert service.runs == 3
    assert call(server, "/ows?SERVICE=LIST", headers={"X-Role": "user"}).body == user
    assert service.runs == 3  # served from the cache


def test_cache_is_keyed_by_decisions_even_with_an_empty_cache_key() -> None:
    service = LayerList()

    class HeaderRole(AccessControlFilter):
        """Leaves cache_key() empty, as many plugins do."""

        def __init__(self, iface: ServerInterface) -> None:
            self.iface = iface

        def layer_permissions(self, layer: Layer) -> LayerPermissions:
            return LayerPermissions(
                can_read=self.iface.env("HTTP_X_ROLE") == "admin" or layer.name != "countries"
            )

    def setup(iface: ServerInterface) -> None:
        iface.register_service(service)
        iface.register_access_control(HeaderRole(iface))

    server = make_server(plugins=[setup])
    admin = call(server, "/ows?SERVICE=LIST", headers={"X-Role": "admin"}).body
    other = call(server, "/ows?SERVICE=LIST").body
    assert b"countries" in admin and b"countries" not in other.replace(b"nc_", b"")


def test_cache_is_dropped_when_the_project_file_changes(tmp_path: Path) -> None:
    import os

    src = demo_project()
    for data in ("natural_earth.gpkg", "elevation.tif"):
        shutil.copy(src.parent / data, tmp_path)
    project = tmp_path / "demo.yaml"
    project.write_text(src.read_text())
    service = LayerList()
    server = make_server([project], plugins=[lambda i: i.register_service(service)])
    first = call(server, "/ows?SERVICE=LIST").body
    assert call(server, "/ows?SERVICE=LIST").body == first and service.runs == 1
    project.write_text(src.read_text().replace("name: nc_counties", "name: counties_nc"))
    stat = project.stat()
    os.utime(project, (stat.st_atime, stat.st_mtime + 5))
    second = call(server, "/ows?SERVICE=LIST").body
    assert service.runs == 2 and b"counties_nc" in second and b"nc_counties" not in second

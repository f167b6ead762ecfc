"""ETag and Last-Modified on capabilities, schemas and legends, and 304 to a client whose copy
is current: decided once, where the pipeline caches, for every service."""

from __future__ import annotations

import os
import shutil
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import pytest

from ogcserve.context import RequestContext, current_context
from ogcserve.plugins import AccessControlFilter, LayerPermissions, RequestFilter, ServerInterface
from ogcserve.projects.model import Layer
from ogcserve.testing import client, demo_project, make_server

WMS_CAPS = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
WFS_CAPS = "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities"
LEGEND = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&LAYER=countries&FORMAT=image/png"
SCHEMA = "/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES=countries"
GETMAP = (
    "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES="
    "&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=32&HEIGHT=16&FORMAT=image/png"
)


@pytest.mark.parametrize("url", [WMS_CAPS, WFS_CAPS, LEGEND, SCHEMA])
def test_validators_and_304(url: str) -> None:
    server = make_server()
    http = client(server)
    first = http.get(url)
    assert first.status_code == 200
    tag, modified = first.headers["etag"], first.headers["last-modified"]
    assert tag.startswith('"') and first.headers["cache-control"] == "no-cache"
    # the project file's date, or the server's start when later (the demo file is older)
    newest = max(demo_project().stat().st_mtime, server.started)
    assert modified == formatdate(int(newest), usegmt=True)
    again = http.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag and "content-type" not in again.headers
    assert http.get(url, headers={"If-None-Match": f'W/{tag}, "other"'}).status_code == 304
    assert http.get(url, headers={"If-None-Match": "*"}).status_code == 304
    assert http.head(url, headers={"If-None-Match": tag}).status_code == 304
    # another tag: the document, with the same tag as before (it did not change)
    other = http.get(url, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.headers["etag"] == tag
    assert other.content == first.content


def test_if_modified_since() -> None:
    http = client(make_server())
    modified = http.get(WMS_CAPS).headers["last-modified"]
    assert http.get(WMS_CAPS, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = formatdate(int(demo_project().stat().st_mtime) - 60, usegmt=True)
    assert http.get(WMS_CAPS, headers={"If-Modified-Since": earlier}).status_code == 200
    assert http.get(WMS_CAPS, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match wins: a stale tag gets the document whatever the date says
    both = {"If-Modified-Since": modified, "If-None-Match": '"stale"'}
    assert http.get(WMS_CAPS, headers=both).status_code == 200


def test_a_restart_with_other_settings_is_never_answered_304_by_date(tmp_path: Path) -> None:
    # QGIS's network cache may revalidate by date; a server restarted with other settings
    # (here bare vs prefixed WFS type names) answers the same file with another document.
    for item in demo_project().parent.iterdir():
        shutil.copy(item, tmp_path)
    project = tmp_path / "demo.yaml"
    os.utime(project, (1_600_000_000, 1_600_000_000))
    first = client(make_server([project])).get(WFS_CAPS)
    modified = first.headers["last-modified"]
    assert modified != formatdate(1_600_000_000, usegmt=True)
    server = make_server([project], wfs_prefixed_type_names=True)
    server.started = max(server.started, parsedate_to_datetime(modified).timestamp() + 1)
    again = client(server).get(WFS_CAPS, headers={"If-Modified-Since": modified})
    assert again.status_code == 200 and b"ogcserve:countries" in again.content


def test_answers_that_are_not_cached_have_no_validators() -> None:
    http = client(make_server())
    for url in (GETMAP, "/ows?SERVICE=WMS&REQUEST=Nope"):
        answer = http.get(url, headers={"If-None-Match": "*"})
        assert answer.status_code in (200, 400) and "etag" not in answer.headers


class _Roles(AccessControlFilter):
    """X-Role: guest may not read countries; the role enters the cache key."""

    @staticmethod
    def _role() -> str:
        ctx = current_context.get()
        return ctx.request.headers.get("X-Role", "guest") if ctx else "guest"

    def layer_permissions(self, layer: Layer) -> LayerPermissions:
        readable = layer.name != "countries" or self._role() == "admin"
        return LayerPermissions(can_read=readable)

    def cache_key(self) -> str:
        return self._role()


def test_one_roles_tag_never_validates_anothers_document() -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(_Roles())

    http = client(make_server(plugins=[setup]))
    admin = http.get(WMS_CAPS, headers={"X-Role": "admin"})
    guest = http.get(WMS_CAPS, headers={"X-Role": "guest"})
    assert b"<Name>countries</Name>" in admin.content
    assert b"<Name>countries</Name>" not in guest.content
    assert admin.headers["etag"] != guest.headers["etag"]
    # the guest sends the admin's tag (a shared browser cache): the guest's own document
    swapped = http.get(
        WMS_CAPS, headers={"X-Role": "guest", "If-None-Match": admin.headers["etag"]}
    )
    assert swapped.status_code == 200 and swapped.content == guest.content
    same = http.get(WMS_CAPS, headers={"X-Role": "admin", "If-None-Match": admin.headers["etag"]})
    assert same.status_code == 304


def test_the_tag_follows_what_plugins_did_to_the_document() -> None:
    class Stamp(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> None:
            if ctx.request.parameter("STAMP"):
                ctx.response.write(b"<!-- stamped -->")

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(Stamp())

    http = client(make_server(plugins=[setup]))
    plain = http.get(WMS_CAPS).headers["etag"]
    stamped = http.get(WMS_CAPS + "&STAMP=1")
    assert stamped.content.endswith(b"<!-- stamped -->") and stamped.headers["etag"] != plain


def test_a_plugins_cache_control_is_kept() -> None:
    class Public(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> None:
            ctx.response.set_header("Cache-Control", "public, max-age=60")

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(Public())

    answer = client(make_server(plugins=[setup])).get(WMS_CAPS)
    assert answer.headers["cache-control"] == "public, max-age=60" and "etag" in answer.headers


def test_an_edited_project_gets_a_new_tag_and_date(tmp_path: Path) -> None:
    for item in demo_project().parent.iterdir():
        shutil.copy(item, tmp_path)
    project = tmp_path / "demo.yaml"
    http = client(make_server([project]))
    before = http.get(WMS_CAPS)
    text = project.read_text().replace("title: ogcserve demo", "title: edited demo")
    project.write_text(text)
    later = project.stat().st_mtime + 10
    os.utime(project, (later, later))
    after = http.get(
        WMS_CAPS,
        headers={
            "If-None-Match": before.headers["etag"],
            "If-Modified-Since": before.headers["last-modified"],
        },
    )
    assert after.status_code == 200 and b"edited demo" in after.content
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["last-modified"] == formatdate(int(later), usegmt=True)


def test_a_failing_cache_store_gives_an_error_without_validators() -> None:
    from ogcserve.plugins import CacheFilter

    class Full(CacheFilter):
        def set(self, kind, project, key, value):  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    def setup(iface: ServerInterface) -> None:
        iface.register_cache(Full())

    answer = client(make_server(plugins=[setup])).get(WMS_CAPS, headers={"If-None-Match": "*"})
    assert answer.status_code == 500 and "etag" not in answer.headers

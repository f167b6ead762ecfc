"""Part 4 over HTTP: the router hands POST / PUT / PATCH / DELETE to `edits`, which answers as
the standard says (201 + Location + ETag, 204 + ETag, 204), with the rights of WFS-T."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from transactions_support import build, edit_folder

from ogcserve.server import Server
from ogcserve.testing import Result, call

ITEMS = "/ogcapi/edit/collections/parcels/items"
GEOJSON = {"Content-Type": "application/geo+json"}


@pytest.fixture
def served(tmp_path: Path) -> tuple[Server, Path]:
    project = edit_folder(tmp_path)
    return build(project), tmp_path / "data.gpkg"


def _send(server: Server, method: str, url: str, body: object = None, **headers: str) -> Result:
    data = b"" if body is None else json.dumps(body).encode()
    return call(server, url, method=method, headers={**GEOJSON, **headers}, body=data)


def _head(result: Result, name: str) -> str:
    return {k.lower(): v for k, v in result.headers.items()}.get(name, "")


def _row(gpkg: Path, fid: int) -> tuple[object, ...] | None:
    with sqlite3.connect(gpkg) as conn:
        return conn.execute("SELECT name, value FROM parcels WHERE fid = ?", (fid,)).fetchone()  # type: ignore[no-any-return]


def _feature(name: str, value: int | None = 1, x: float = 2.35, y: float = 48.85) -> object:
    point = {"type": "Point", "coordinates": [x, y]}
    return {
        "type": "Feature",
        "geometry": point,
        "properties": {"role": "a", "name": name, "value": value},
    }


def test_create_read_replace_patch_delete(served: tuple[Server, Path]) -> None:
    server, gpkg = served
    created = _send(server, "POST", ITEMS, _feature("Paris"), **{"X-Role": "admin"})
    assert created.status == 201, created.body
    location = _head(created, "location")
    assert location.startswith("http://testserver/ogcapi/edit/collections/parcels/items/")
    fid = int(location.rsplit("/", 1)[1])
    assert _row(gpkg, fid) == ("Paris", 1)
    read = call(server, f"{ITEMS}/{fid}")
    assert read.status == 200 and _head(read, "etag") == _head(created, "etag")
    tag = _head(read, "etag")

    replaced = _send(server, "PUT", f"{ITEMS}/{fid}", _feature("Lutetia", 2), **{"If-Match": tag})
    assert replaced.status == 204 and replaced.body == b""
    assert _row(gpkg, fid) == ("Lutetia", 2)
    new_tag = _head(replaced, "etag")
    assert new_tag and new_tag != tag and _head(call(server, f"{ITEMS}/{fid}"), "etag") == new_tag

    # The stale tag is refused, and nothing is written.
    stale = _send(
        server,
        "PATCH",
        f"{ITEMS}/{fid}",
        {"properties": {"value": 9}},
        **{"If-Match": tag, "Content-Type": "application/merge-patch+json"},
    )
    assert stale.status == 412 and _row(gpkg, fid) == ("Lutetia", 2)
    patched = _send(
        server,
        "PATCH",
        f"{ITEMS}/{fid}",
        {"properties": {"value": 9}},
        **{"If-Match": new_tag, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status == 204 and _row(gpkg, fid) == ("Lutetia", 9)

    gone = call(server, f"{ITEMS}/{fid}", method="DELETE")
    assert gone.status == 204 and _row(gpkg, fid) is None
    assert call(server, f"{ITEMS}/{fid}").status == 404
    assert call(server, f"{ITEMS}/{fid}", method="DELETE").status == 404


def test_rights_are_those_of_wfs_t(served: tuple[Server, Path]) -> None:
    server, gpkg = served
    # A reader may read but not write (403); a role blind to the layer gets 404 as if absent.
    reader = _send(server, "POST", ITEMS, _feature("x"), **{"X-Role": "reader"})
    assert reader.status == 403
    blind = _send(server, "POST", ITEMS, _feature("x"), **{"X-Role": "blind"})
    missing = _send(server, "POST", "/ogcapi/edit/collections/atlantis/items", _feature("x"))
    assert blind.status == missing.status == 404
    assert json.loads(blind.body)["description"] == json.loads(missing.body)["description"].replace(
        "atlantis", "parcels"
    )
    # Role a may not touch role b's parcel 2: it does not exist for a.
    assert call(server, f"{ITEMS}/2", method="DELETE", headers={"X-Role": "a"}).status == 404
    assert _row(gpkg, 2) is not None
    # A layer without edit flags: 403, nothing written.
    countries = "/ogcapi/edit/collections/countries/items/1"
    assert call(server, countries, method="DELETE").status == 403


def test_bad_writes_write_nothing(served: tuple[Server, Path]) -> None:
    server, gpkg = served
    before = _row(gpkg, 1)
    cases = [
        _send(server, "PUT", f"{ITEMS}/1", {"type": "Feature"}),  # no geometry
        call(server, f"{ITEMS}/1", method="PUT", headers=GEOJSON, body=b"{not json"),
        _send(server, "PUT", f"{ITEMS}/1", _feature("x"), **{"Content-Type": "text/plain"}),
        _send(
            server,
            "PATCH",
            f"{ITEMS}/1",
            {"properties": {"name": None}},
            **{"Content-Type": "application/merge-patch+json"},
        ),  # NOT NULL
        _send(server, "PUT", f"{ITEMS}/1?f=json&bogus=1", _feature("x")),
    ]
    assert [c.status for c in cases] == [400, 400, 415, 400, 400]
    assert _row(gpkg, 1) == before
    # A method the resource does not take: 405 with the ones it does.
    wrong = _send(server, "POST", f"{ITEMS}/1", _feature("x"))
    assert wrong.status == 405
    assert _head(wrong, "allow") == "GET, HEAD, PUT, PATCH, DELETE"


def test_the_api_document_lists_the_writes_each_caller_may_make(
    served: tuple[Server, Path],
) -> None:
    from openapi_spec_validator import validate

    server, _ = served
    docs = {
        role: json.loads(call(server, "/ogcapi/edit/api", headers={"X-Role": role}).body)
        for role in ("admin", "reader")
    }
    for document in docs.values():
        validate(document)
    item = "/collections/parcels/items/{featureId}"
    admin, reader = docs["admin"]["paths"], docs["reader"]["paths"]
    assert "post" in admin["/collections/parcels/items"]
    assert {"put", "patch", "delete"} <= set(admin[item])
    assert "post" not in reader["/collections/parcels/items"]
    assert not {"put", "patch", "delete"} & set(reader[item])
    # countries has no edit flags: reads only, for everyone
    assert set(admin["/collections/countries/items/{featureId}"]) == {"get"}
    conformance = json.loads(call(server, "/ogcapi/edit/conformance").body)["conformsTo"]
    assert (
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"
        in conformance
    )

"""Access rules in OGC API are the WFS ones, from the access layer: subset strings and
expressions on items and on one item, hidden attributes absent everywhere, a forbidden
collection absent from the list and 404 by name."""

from __future__ import annotations

import json
from urllib.parse import quote

from ogcapi_support import doc, event_rows, get

from ogcserve.server import Server

ROOT = "/ogcapi/ev"
ITEMS = f"{ROOT}/collections/events/items"
MINE = [r for r in event_rows(250) if r["kind"] != "c" and r["value"] >= 10]


def test_items_follow_subset_string_and_expression(events: Server) -> None:
    page = doc(get(events, f"{ITEMS}?limit=1000", "restricted"))
    assert [f["id"] for f in page["features"]] == [r["fid"] for r in MINE]
    assert page["numberMatched"] == len(MINE)
    assert doc(get(events, f"{ITEMS}?limit=1000"))["numberMatched"] == 250


def test_the_same_rows_over_wfs_and_ogc_api(events: Server) -> None:
    wfs = get(
        events,
        "/ows/ev?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=events"
        "&OUTPUTFORMAT=application/json&COUNT=1000",
        "restricted",
    )
    from_wfs = sorted(int(f["id"].split(".")[1]) for f in json.loads(wfs.body)["features"])
    from_api = [f["id"] for f in doc(get(events, f"{ITEMS}?limit=1000", "restricted"))["features"]]
    assert from_wfs == from_api


def test_a_filtered_out_item_is_404_like_a_missing_one(events: Server) -> None:
    hidden_by_subset, hidden_by_expression = 3, 2  # kind c; value 1
    for fid in (hidden_by_subset, hidden_by_expression, 99999):
        result = get(events, f"{ITEMS}/{fid}", "restricted")
        assert result.status == 404
        assert json.loads(result.body)["description"] == f"Feature '{fid}' was not found"
    assert get(events, f"{ITEMS}/3").status == 200
    assert doc(get(events, f"{ITEMS}/11", "restricted"))["id"] == 11


def test_hidden_attribute_is_absent_everywhere(events: Server) -> None:
    def shows_secret(url: str) -> bool:
        result = get(events, url, "restricted")
        assert result.status == 200, (url, result.body[:300])
        return b"secret" in result.body or b"s11" in result.body

    for url in (
        f"{ITEMS}?limit=5",
        f"{ITEMS}/11",
        f"{ITEMS}?limit=5&f=html",
        f"{ITEMS}/11?f=html",
        f"{ROOT}/collections/events/queryables",
        f"{ROOT}/collections/events/sortables",
        f"{ROOT}/collections/events/schema",
        f"{ROOT}/collections/events/queryables?f=html",
        f"{ROOT}/api",
    ):
        assert not shows_secret(url), url
    assert b"s11" in get(events, f"{ITEMS}/11").body


def test_naming_a_hidden_attribute_is_naming_an_unknown_one(events: Server) -> None:
    for query in (
        f"filter={quote('secret IS NULL')}",
        f"filter-lang=cql2-json&filter={quote(json.dumps({'op': 'isNull', 'args': [{'property': 'secret'}]}))}",
        "sortby=secret",
        "properties=secret",
        "secret=s11",
    ):
        hidden = get(events, f"{ITEMS}?{query}", "restricted")
        phantom = get(events, f"{ITEMS}?{query.replace('secret', 'nosuch')}", "restricted")
        assert hidden.status == phantom.status == 400, query
        assert hidden.body.replace(b"secret", b"nosuch") == phantom.body


def test_forbidden_collection_is_absent_and_404(events: Server) -> None:
    listed = [c["id"] for c in doc(get(events, f"{ROOT}/collections", "restricted"))["collections"]]
    assert listed == ["events"]
    for path in ("", "/items", "/items/1", "/queryables", "/schema"):
        forbidden = get(events, f"{ROOT}/collections/zones{path}", "restricted")
        phantom = get(events, f"{ROOT}/collections/zonez{path}", "restricted")
        assert forbidden.status == 404
        assert forbidden.body.replace(b"zones", b"zonez") == phantom.body

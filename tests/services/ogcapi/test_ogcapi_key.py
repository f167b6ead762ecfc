"""The feature key in OGC API - Features: the GeoPackage's fid (no `key:` in the project) is a
property like any other, typed as the source types it, named by CQL2 text and JSON, sortby,
properties and the queryables, and by a plugin's rules (issue 10, item 1)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from ogcapi_support import doc, get, write_events

from ogcserve.plugins import AccessControlFilter, ServerInterface
from ogcserve.projects import Layer
from ogcserve.testing import make_server

ITEMS = "/ogcapi/ev/collections/events/items"


def ids(server: object, url: str) -> list[int]:
    return [f["id"] for f in doc(get(server, url))["features"]]


def test_items_carry_the_key_as_an_integer_property(events: object) -> None:
    [feature] = doc(get(events, f"{ITEMS}?limit=1&offset=4"))["features"]
    assert feature["id"] == 5 and feature["properties"]["fid"] == 5
    queryables = doc(get(events, "/ogcapi/ev/collections/events/queryables"))["properties"]
    assert queryables["fid"]["type"] == "integer"


@pytest.mark.parametrize(
    ("lang", "expression", "expected"),
    [
        ("cql2-text", "fid IN (3, 4)", [3, 4]),
        ("cql2-text", "fid < 3 OR fid = 250", [1, 2, 250]),
        ("cql2-json", json.dumps({"op": "in", "args": [{"property": "fid"}, [7, 9]]}), [7, 9]),
        ("cql2-json", json.dumps({"op": "=", "args": [{"property": "fid"}, 12]}), [12]),
    ],
)
def test_cql2_on_the_key(events: object, lang: str, expression: str, expected: list[int]) -> None:
    url = f"{ITEMS}?limit=100&filter-lang={lang}&filter={quote(expression)}"
    assert ids(events, url) == expected


def test_sortby_and_properties_name_the_key(events: object) -> None:
    page = doc(get(events, f"{ITEMS}?sortby=-fid&limit=2&properties=fid"))
    assert [f["properties"] for f in page["features"]] == [{"fid": 250}, {"fid": 249}]


class KeyRule(AccessControlFilter):
    """The rules QGIS plugins write on the key."""

    def layer_filter_expression(self, layer: Layer) -> str | None:
        return '"fid" IN (3, 4, 5, 40)' if layer.name == "events" else None

    def layer_filter_subset_string(self, layer: Layer) -> str | None:
        return '"fid" < 10' if layer.name == "events" else None


def test_a_plugins_rules_on_the_key(tmp_path: Path) -> None:
    def setup(iface: ServerInterface) -> None:
        iface.register_access_control(KeyRule())

    server = make_server([write_events(tmp_path)], plugins=[setup])
    try:
        assert ids(server, f"{ITEMS}?limit=100") == [3, 4, 5]
        assert ids(server, f"{ITEMS}?limit=100&filter={quote('fid > 3')}") == [4, 5]
        assert get(server, f"{ITEMS}/40").status == 404
    finally:
        server.close()

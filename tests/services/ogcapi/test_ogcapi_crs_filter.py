"""Part 2 (CRS by reference) and Part 3 (filtering, queryables), with sortby and properties."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from ogcapi_support import doc, event_rows, get, header

from ogcserve.server import Server

ITEMS = "/ogcapi/ev/collections/events/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
ROWS = event_rows(250)


def ids(url: str, server: Server, role: str | None = None) -> list[int]:
    return [f["id"] for f in doc(get(server, url, role))["features"]]


def test_collection_lists_its_crs_and_storage_crs(events: Server) -> None:
    described = doc(get(events, "/ogcapi/ev/collections/events"))
    assert described["crs"] == [CRS84, EPSG4326, EPSG3857]
    assert described["storageCrs"] == EPSG4326


def test_crs84_is_lon_lat_and_epsg_4326_lat_lon(events: Server) -> None:
    default = get(events, f"{ITEMS}/2")
    assert doc(default)["geometry"]["coordinates"] == [-9.8, 40.0]
    assert header(default, "content-crs") == f"<{CRS84}>"
    swapped = get(events, f"{ITEMS}/2?crs={quote(EPSG4326)}")
    assert doc(swapped)["geometry"]["coordinates"] == [40.0, -9.8]
    assert header(swapped, "content-crs") == f"<{EPSG4326}>"
    page = get(events, f"{ITEMS}?limit=1&offset=1&crs={quote(EPSG4326)}")
    assert doc(page)["features"][0]["geometry"]["coordinates"] == [40.0, -9.8]
    assert header(page, "content-crs") == f"<{EPSG4326}>"


def test_projected_output(events: Server) -> None:
    x, y = doc(get(events, f"{ITEMS}/1?crs={quote(EPSG3857)}"))["geometry"]["coordinates"]
    assert x == pytest.approx(-1113194.9, abs=1) and y == pytest.approx(4865942.3, abs=1)


def test_bbox_in_its_crs_axis_order(events: Server) -> None:
    inside = [r["fid"] for r in ROWS if -10 <= r["lon"] <= -9.5 and 40 <= r["lat"] <= 40.25]
    assert ids(f"{ITEMS}?limit=100&bbox=-10,40,-9.5,40.25", events) == inside
    lat_lon = f"{ITEMS}?limit=100&bbox=40,-10,40.25,-9.5&bbox-crs={quote(EPSG4326)}"
    assert ids(lat_lon, events) == inside
    metres = f"{ITEMS}?limit=100&bbox=-1113195,4865942,-1057535,4902000&bbox-crs={quote(EPSG3857)}"
    assert ids(metres, events) == inside


def test_datetime_instants_and_intervals(events: Server) -> None:
    # Row i is at 2020-01-01T00:00Z + i hours.
    assert ids(f"{ITEMS}?datetime=2020-01-01T05:00:00Z", events) == [6]
    assert ids(f"{ITEMS}?datetime=2020-01-01T05:00:00Z/2020-01-01T07:00:00Z", events) == [6, 7, 8]
    assert ids(f"{ITEMS}?datetime=../2020-01-01T01:00:00Z", events) == [1, 2]
    later = doc(get(events, f"{ITEMS}?datetime=2020-01-11T08:00:00Z/.."))
    assert [f["id"] for f in later["features"]] == [249, 250] and later["numberMatched"] == 2
    assert doc(get(events, f"{ITEMS}?datetime=2020-01-02&limit=100"))["numberMatched"] == 24


def test_cql2_text_filters(events: Server) -> None:
    def matched(text: str) -> int:
        return doc(get(events, f"{ITEMS}?filter={quote(text)}"))["numberMatched"]

    assert matched("kind = 'a' AND value < 30") == 10
    assert matched("name LIKE 'event 1_'") == 10
    assert matched("value BETWEEN 10 AND 19 OR kind IN ('c')") == 10 + 83 - 3
    assert matched("CASEI(name) = 'EVENT 7'") == 0 or matched("CASEI(name) = CASEI('EVENT 7')") == 1
    assert matched("at >= TIMESTAMP('2020-01-11T00:00:00Z')") == 10
    assert matched("day = DATE('2020-01-03')") == 1
    assert (
        matched("S_INTERSECTS(geom, POLYGON((-10 40, -9.5 40, -9.5 40.25, -10 40.25, -10 40)))")
        == 6
    )
    # Within leaves out the points on the box's edge (lon -10, lat 40).
    assert matched("S_WITHIN(geometry, BBOX(-10, 40, -9.5, 40.25))") == 2
    assert matched("NOT S_DISJOINT(geometry, POINT(-9.8 40))") == 1


def test_cql2_json_filter(events: Server) -> None:
    body = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "kind"}, "b"]},
            {"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [-10, 40, -9, 41]}]},
        ],
    }
    url = f"{ITEMS}?filter-lang=cql2-json&filter={quote(json.dumps(body))}&limit=100"
    expected = [r["fid"] for r in ROWS if r["kind"] == "b" and r["lon"] <= -9 and r["lat"] <= 41]
    assert ids(url, events) == expected


def test_filter_crs_moves_the_filter_geometries(events: Server) -> None:
    # Around -9.8, 40 in metres.
    text = quote("S_INTERSECTS(geom, BBOX(-1091931, 4864942, -1089931, 4866942))")
    url = f"{ITEMS}?filter={text}&filter-crs={quote(EPSG3857)}"
    assert ids(url, events) == [2]
    lat_lon = quote("S_INTERSECTS(geom, POINT(40 -9.8))")
    assert ids(f"{ITEMS}?filter={lat_lon}&filter-crs={quote(EPSG4326)}", events) == [2]


def test_property_equality_parameters(events: Server) -> None:
    assert ids(f"{ITEMS}?name=event 7", events) == [7]
    assert ids(f"{ITEMS}?kind=c&value=5", events) == [6]


def test_queryables_and_sortables(events: Server) -> None:
    queryables = doc(get(events, "/ogcapi/ev/collections/events/queryables"))
    assert queryables["$schema"].startswith("https://json-schema.org/")
    props = queryables["properties"]
    assert props["value"]["type"] == "integer" and props["at"]["format"] == "date-time"
    assert props["geom"]["format"] == "geometry-point"
    sortables = doc(get(events, "/ogcapi/ev/collections/events/sortables"))["properties"]
    assert set(sortables) == {"fid", "name", "kind", "value", "secret", "day", "at"}


def test_sortby_and_properties(events: Server) -> None:
    page = doc(get(events, f"{ITEMS}?sortby=kind,-value&limit=3&properties=kind,value"))
    assert [f["properties"] for f in page["features"]] == [
        {"kind": "a", "value": 249},
        {"kind": "a", "value": 246},
        {"kind": "a", "value": 243},
    ]
    assert all(f["geometry"] for f in page["features"])

"""OGC API - Features Part 1 Core: the resources, their links, negotiation, paging, items."""

from __future__ import annotations

import json

from ogcapi_support import doc, event_rows, get, header
from openapi_spec_validator import validate

from ogcserve.server import Server
from ogcserve.services.ogcapi.collections import CONFORMANCE
from ogcserve.services.ogcapi.etag import item_etag
from ogcserve.testing import call, make_server

ROOT = "/ogcapi/ev"
ITEMS = f"{ROOT}/collections/events/items"


def rels(document: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in document["links"]:
        out.setdefault(link["rel"], []).append(link["type"])
    return out


def test_landing_page_links_everything(events: Server) -> None:
    page = doc(get(events, ROOT))
    assert page["title"] == "Events"
    found = rels(page)
    assert found["self"] == ["application/json"] and found["alternate"][0].startswith("text/html")
    assert "application/vnd.oai.openapi+json;version=3.0" in found["service-desc"]
    assert {"conformance", "data", "service-doc"} <= set(found)


def test_conformance_lists_parts_1_2_3() -> None:
    server = make_server()
    found = doc(get(server, "/ogcapi/demo/conformance"))["conformsTo"]
    assert found == list(CONFORMANCE)
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in found
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in found


def test_collections_list_vector_layers_with_extent_and_crs(demo: Server) -> None:
    listed = doc(get(demo, "/ogcapi/demo/collections"))
    ids = [c["id"] for c in listed["collections"]]
    assert ids == ["countries", "cities", "nyc_boroughs", "nc_counties"]  # no group, no raster
    boroughs = listed["collections"][2]
    assert boroughs["storageCrs"] == "http://www.opengis.net/def/crs/EPSG/0/2263"
    assert boroughs["crs"][0] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert "http://www.opengis.net/def/crs/EPSG/0/2263" in boroughs["crs"]
    minx, miny, maxx, maxy = boroughs["extent"]["spatial"]["bbox"][0]
    assert -74.3 < minx < maxx < -73.6 and 40.4 < miny < maxy < 41
    assert {"items", "self", "describedby"} <= set(rels(boroughs))


def test_temporal_extent_from_the_time_field(events: Server) -> None:
    described = doc(get(events, f"{ROOT}/collections/events"))
    interval = described["extent"]["temporal"]["interval"][0]
    assert interval[0].startswith("2020-01-01T00:00:00") and interval[1].startswith("2020-01-11T09")
    assert "temporal" not in doc(get(events, f"{ROOT}/collections/zones"))["extent"]


def test_format_by_f_and_by_accept(demo: Server) -> None:
    url = "/ogcapi/demo/collections"
    assert header(get(demo, url), "content-type") == "application/json"
    assert header(get(demo, url + "?f=html"), "content-type").startswith("text/html")
    html = get(demo, url, Accept="text/html,application/xhtml+xml;q=0.9")
    assert header(html, "content-type").startswith("text/html")
    assert b"countries" in html.body
    assert (
        header(get(demo, url, Accept="text/html;q=0.5, application/json"), "content-type")
        == "application/json"
    )
    assert header(html, "vary") == "Accept"  # negotiated by a header
    assert header(get(demo, url + "?f=json"), "vary") == ""
    items = get(demo, "/ogcapi/demo/collections/cities/items", Accept="application/json")
    assert header(items, "content-type") == "application/geo+json"
    bad = get(demo, url + "?f=xml")
    assert bad.status == 400 and "f='xml'" in json.loads(bad.body)["description"]
    assert json.loads(bad.body)["code"] == "InvalidParameterValue"


def test_openapi_document_validates_and_lists_queryables(events: Server) -> None:
    result = get(events, f"{ROOT}/api")
    assert header(result, "content-type").startswith("application/vnd.oai.openapi+json")
    document = json.loads(result.body)
    validate(document)
    items = document["paths"]["/collections/events/items"]["get"]["parameters"]
    named = {p.get("name") for p in items}
    assert {"kind", "value", "secret", "crs", "bbox-crs", "filter-crs"} <= named
    assert {"$ref": "#/components/parameters/datetime"} in items
    zones = document["paths"]["/collections/zones/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/datetime"} not in zones  # no time field
    limit = document["components"]["parameters"]["limit"]["schema"]
    assert limit["maximum"] == 10_000 and limit["default"] == 10
    restricted = json.loads(get(events, f"{ROOT}/api", "restricted").body)
    validate(restricted)
    assert "/collections/zones" not in restricted["paths"]
    named = {
        p.get("name") for p in restricted["paths"]["/collections/events/items"]["get"]["parameters"]
    }
    assert "secret" not in named and "kind" in named


def test_items_default_limit_and_counts(events: Server) -> None:
    page = doc(get(events, ITEMS))
    assert page["type"] == "FeatureCollection"
    assert len(page["features"]) == 10 and page["numberReturned"] == 10
    assert page["numberMatched"] == 250
    first = page["features"][0]
    assert first["id"] == 1 and first["properties"]["name"] == "event 1"
    assert first["geometry"] == {"type": "Point", "coordinates": [-10.0, 40.0]}


def test_limit_above_the_maximum_is_lowered(tmp_path) -> None:
    from ogcapi_support import write_events

    server = make_server([write_events(tmp_path)], ogcapi_max_limit=7, ogcapi_limit=3)
    assert len(doc(get(server, ITEMS))["features"]) == 3
    assert len(doc(get(server, f"{ITEMS}?limit=100"))["features"]) == 7


def test_next_links_keep_every_parameter_and_visit_each_feature_once(events: Server) -> None:
    url = f"{ITEMS}?limit=40&kind=a&sortby=-value&properties=value&bbox=-20,30,20,60"
    seen: list[int] = []
    pages = 0
    while url:
        page = doc(get(events, url))
        pages += 1
        seen += [f["id"] for f in page["features"]]
        assert page["numberMatched"] == 84
        assert all(set(f["properties"]) == {"value"} for f in page["features"])
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if nxt:
            for part in ("kind=a", "sortby=-value", "properties=value", "bbox=-20%2C30"):
                assert part in nxt[0]
        url = nxt[0].removeprefix("http://testserver") if nxt else ""
    expected = [r["fid"] for r in event_rows(250) if r["kind"] == "a"]
    assert sorted(seen) == expected and len(seen) == len(set(seen)) and pages == 3
    assert seen == sorted(seen, reverse=True)


def test_prev_link(events: Server) -> None:
    page = doc(get(events, f"{ITEMS}?limit=5&offset=5"))
    prev = next(link for link in page["links"] if link["rel"] == "prev")
    assert "offset=0" in prev["href"] and "limit=5" in prev["href"]
    assert [f["id"] for f in page["features"]] == [6, 7, 8, 9, 10]


def test_count_policy_of_the_layer(tmp_path) -> None:
    from ogcapi_support import write_events

    path = write_events(tmp_path)
    project = json.loads(path.read_text())
    project["layers"][0]["wfs"]["number_matched"] = "unknown"
    path.write_text(json.dumps(project))
    server = make_server([path])
    page = doc(get(server, f"{ITEMS}?limit=5"))
    assert "numberMatched" not in page and page["numberReturned"] == 5


def test_a_page_that_ends_the_data_proves_its_count_without_counting(
    events: Server, monkeypatch
) -> None:
    def no_count(*args: object) -> int:
        raise AssertionError("a count query for a page that ends the data")

    monkeypatch.setattr(events.access, "count", no_count)
    for url in (f"{ITEMS}?limit=50&offset=200", f"{ITEMS}?limit=250", f"{ITEMS}?limit=300"):
        page = doc(get(events, url))
        assert page["numberMatched"] == 250, url
        assert "next" not in rels(page), url
    assert doc(get(events, f"{ITEMS}?limit=50&offset=200"))["numberReturned"] == 50


def test_a_full_page_with_features_behind_it_is_counted_and_links_next(events: Server) -> None:
    page = doc(get(events, f"{ITEMS}?limit=249"))
    assert page["numberReturned"] == 249 and len(page["features"]) == 249
    assert page["numberMatched"] == 250 and "next" in rels(page)
    assert page["features"][-1]["id"] == 249


def test_the_row_past_the_page_in_a_batch_of_its_own(tmp_path) -> None:
    from ogcapi_support import write_events

    # 1,000 features fill the source's first batch: the 1,001st comes alone
    for n, more in ((1000, False), (1001, True)):
        folder = tmp_path / str(n)
        folder.mkdir()
        server = make_server([write_events(folder, n)])
        page = doc(get(server, f"{ITEMS}?limit=1000"))
        assert len(page["features"]) == 1000 and page["numberMatched"] == n
        assert ("next" in rels(page)) is more
        html = get(server, f"{ITEMS}?limit=1000&f=html").body.decode()
        assert ("offset=1000" in html) is more
        server.close()


def test_estimated_counts_only_what_the_page_proves(tmp_path) -> None:
    from ogcapi_support import write_events

    path = write_events(tmp_path)
    project = json.loads(path.read_text())
    project["layers"][0]["wfs"]["number_matched"] = "estimated"
    path.write_text(json.dumps(project))
    server = make_server([path])
    last = doc(get(server, f"{ITEMS}?limit=50&offset=200"))
    assert last["numberMatched"] == 250 and "next" not in rels(last)
    middle = doc(get(server, f"{ITEMS}?limit=50&offset=100"))
    assert "numberMatched" not in middle and "next" in rels(middle)
    server.close()


def test_one_item_with_its_etag(events: Server) -> None:
    result = get(events, f"{ITEMS}/7")
    feature = doc(result)
    assert feature["type"] == "Feature" and feature["id"] == 7
    assert feature["properties"]["name"] == "event 7"
    assert {"self", "alternate", "collection"} <= set(rels(feature))
    ctx = result.ctx
    layer = ctx.project.layer("events")
    stored = events.access.get(ctx, layer, 7)
    assert header(result, "etag") == item_etag(stored)
    assert header(result, "content-crs") == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    missing = get(events, f"{ITEMS}/9999")
    assert missing.status == 404 and json.loads(missing.body)["code"] == "NotFound"


def test_html_pages_have_a_map_and_links(events: Server) -> None:
    page = get(events, f"{ITEMS}?f=html&limit=5").body.decode()
    assert "<svg" in page and page.count("<circle") == 5
    assert "offset=5" in page  # the next page's link
    assert "event 5" in page and "event 6" not in page
    one = get(events, f"{ITEMS}/3?f=html").body.decode()
    assert "<svg" in one and "event 3" in one
    landing = get(events, f"{ROOT}?f=html").body.decode()
    assert "/collections" in landing


def test_head_answers_without_a_body(events: Server) -> None:
    result = call(events, f"{ITEMS}?limit=2", method="HEAD")
    assert result.status == 200 and result.body == b""
    assert header(result, "content-type") == "application/geo+json"


def test_write_methods_on_metadata_answer_405(events: Server) -> None:
    for method, url in (("POST", "/ogcapi/events/collections"), ("PUT", "/ogcapi/events")):
        result = call(events, url, method=method, body=b"{}")
        assert result.status == 405, method
        assert header(result, "allow") == "GET, HEAD"

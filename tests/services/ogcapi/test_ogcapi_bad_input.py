"""Bad requests: each answered as a JSON exception with the right status, naming what is wrong."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from ogcapi_support import get, header

from ogcserve.server import Server

ROOT = "/ogcapi/ev"
ITEMS = f"{ROOT}/collections/events/items"
BROKEN_JSON = '{"op": "=", "args": ['
UNKNOWN_OP = '{"op": "nope", "args": []}'

CASES = [
    # (url, status, code, a word the description must hold)
    (f"{ROOT}/collections/nope", 404, "NotFound", "'nope'"),
    (f"{ROOT}/collections/nope/items", 404, "NotFound", "'nope'"),
    (f"{ROOT}/collections/nope/queryables", 404, "NotFound", "'nope'"),
    (f"{ITEMS}/123456", 404, "NotFound", "'123456'"),
    (f"{ITEMS}/abc", 404, "NotFound", "'abc'"),
    ("/ogcapi/nope/collections", 404, "InvalidParameterValue", "project"),
    (f"{ROOT}/nothing/here", 404, "NotFound", "nothing"),
    (f"{ITEMS}?foo=1", 400, "InvalidParameterValue", "'foo'"),
    (f"{ITEMS}?Limitt=1", 400, "InvalidParameterValue", "'Limitt'"),
    (f"{ROOT}/collections?bbox=1,2,3,4", 400, "InvalidParameterValue", "'bbox'"),
    (f"{ITEMS}/1?limit=3", 400, "InvalidParameterValue", "'limit'"),
    (f"{ITEMS}?f=xml", 400, "InvalidParameterValue", "f='xml'"),
    (f"{ROOT}?f=geojsonx", 400, "InvalidParameterValue", "f="),
    (f"{ITEMS}?filter={quote('kind = ')}", 400, "InvalidParameterValue", "syntax"),
    (f"{ITEMS}?filter={quote('kind = (')}", 400, "InvalidParameterValue", ""),
    (f"{ITEMS}?filter-lang=cql2-json&filter={quote(BROKEN_JSON)}", 400, "InvalidParameterValue", ""),
    (f"{ITEMS}?filter-lang=cql2-json&filter={quote(UNKNOWN_OP)}", 400, "InvalidParameterValue", ""),
    (f"{ITEMS}?filter-lang=ecql&filter=a=1", 400, "InvalidParameterValue", "filter-lang"),
    (f"{ITEMS}?filter={quote('nope = 1')}", 400, "InvalidParameterValue", "'nope'"),
    (f"{ITEMS}?filter={quote('S_INTERSECTS(geom, POINT(1))')}", 400, "InvalidParameterValue", ""),
    (f"{ITEMS}?filter-crs=EPSG:2263&filter=kind='a'", 400, "InvalidParameterValue", "filter-crs"),
    (f"{ITEMS}?bbox=1,2,3", 400, "InvalidParameterValue", "bbox"),
    (f"{ITEMS}?bbox=1,2,3,4,5", 400, "InvalidParameterValue", "bbox"),
    (f"{ITEMS}?bbox=1,2,a,4", 400, "InvalidParameterValue", "bbox"),
    (f"{ITEMS}?bbox=10,2,3,4", 400, "InvalidParameterValue", "lower corner"),
    (f"{ITEMS}?bbox=1,20,3,4", 400, "InvalidParameterValue", "lower corner"),
    (f"{ITEMS}?bbox=1,2,3,nan", 400, "InvalidParameterValue", "bbox"),
    (f"{ITEMS}?bbox-crs=EPSG:3857", 400, "InvalidParameterValue", "bbox-crs needs a bbox"),
    (f"{ITEMS}?limit=0", 400, "InvalidParameterValue", "limit"),
    (f"{ITEMS}?limit=-5", 400, "InvalidParameterValue", "limit"),
    (f"{ITEMS}?limit=ten", 400, "InvalidParameterValue", "limit"),
    (f"{ITEMS}?limit=1e3", 400, "InvalidParameterValue", "limit"),
    (f"{ITEMS}?offset=-1", 400, "InvalidParameterValue", "offset"),
    (f"{ITEMS}?crs=EPSG:99999", 400, "InvalidParameterValue", "crs="),
    (f"{ITEMS}?crs=http://www.opengis.net/def/crs/EPSG/0/2263", 400, "InvalidParameterValue", "crs="),
    (f"{ITEMS}/1?crs=nonsense", 400, "InvalidParameterValue", "crs="),
    (f"{ITEMS}?sortby=nope", 400, "InvalidParameterValue", "'nope'"),
    (f"{ITEMS}?properties=nope", 400, "InvalidParameterValue", "'nope'"),
    (f"{ITEMS}?value=ten", 400, "InvalidParameterValue", "value="),
    (f"{ITEMS}?datetime=yesterday", 400, "InvalidParameterValue", "datetime"),
    (f"{ITEMS}?datetime=2020-01-02T00:00:00Z/2020-01-01T00:00:00Z", 400, "InvalidParameterValue", "start"),
    (f"{ITEMS}?datetime=../..", 400, "InvalidParameterValue", "datetime"),
    (f"{ROOT}/collections/zones/items?datetime=2020-01-01", 400, "InvalidParameterValue", "time"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "status", "code", "word"), CASES)
def test_bad_input_is_a_json_exception(
    events: Server, url: str, status: int, code: str, word: str
) -> None:
    result = get(events, url)
    assert result.status == status, result.body
    assert header(result, "content-type") == "application/json"
    body = json.loads(result.body)
    assert body["code"] == code
    assert word in body["description"]

"""The leak property's OGC API - Features reads: every endpoint, as one role.

A collection the role may not read is answered as one that never existed (404, not 403:
OGC API has no Security report, and QGIS answers its /wfs3 the same way), so its probes are
twins of a phantom; so are hidden rows (`/items/{id}`) and hidden attributes named in
`filter`, `sortby`, `properties` or as `name=value`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

from leak_probes import HOLE, HOLE_ID, Answer, Probe, twin
from leak_world import CENTRE, Condition, LayerSpec, Visible, World, phantom

ROOT = "/ogcapi/leak"


def _features(answer: Answer) -> int:
    document = json.loads(answer.body)
    if "numberMatched" in document:
        assert document["numberMatched"] == len(document["features"]), document
    return len(document["features"])


def _matched(answer: Answer) -> int | None:
    document = json.loads(answer.body)
    return int(document["numberMatched"]) if "numberMatched" in document else None


def _next(answer: Answer) -> int:
    return sum(1 for link in json.loads(answer.body)["links"] if link["rel"] == "next")


def _first_id(answer: Answer) -> int:
    features = json.loads(answer.body)["features"]
    return int(features[0]["id"]) if features else 0


def ogcapi_probes(world: World, seen: Visible) -> Iterator[Probe]:
    """Every OGC API read the property makes as one role."""
    for path in ("", "/conformance", "/api", "/collections", "/api?f=html", "/collections?f=html"):
        yield Probe(f"OGC API {path or '/'}", f"{ROOT}{path}", ok=True)
    for spec in world.layers:
        if spec.name in seen.layers:
            yield from _collection(spec, seen)
            yield from _rows(spec, seen)
            yield from _hidden_attributes(spec, seen)
        else:
            yield from _hidden_collection(spec.name)
    others = [world.group, world.raster]
    for name in (n[0] for n in others if n is not None and n[0] not in seen.tokens):
        yield from _hidden_collection(name)


def _collection(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    base, count = f"{ROOT}/collections/{spec.name}", seen.count(spec.name)
    for path in ("", "/queryables", "/sortables", "/schema", "?f=html", "/queryables?f=html"):
        yield Probe(f"OGC API collection{path} {spec.name}", f"{base}{path}", ok=True)
    items = f"{base}/items"
    yield Probe(
        f"OGC API items {spec.name}", f"{items}?limit=50", ok=True, count=(_features, count)
    )
    yield Probe(f"OGC API items HTML {spec.name}", f"{items}?limit=50&f=html", ok=True)
    yield Probe(
        f"OGC API items page 2 {spec.name}",
        f"{items}?limit=1&offset=1",
        ok=True,
        count=(_matched, count),
    )
    if spec.number_matched == "exact" or count != 2:
        yield Probe(
            f"OGC API next link {spec.name}",
            f"{items}?limit=1&offset=1",
            ok=True,
            count=(_next, int(count > 2)),
        )
    box = f"{CENTRE[0] - 10},{CENTRE[1] - 10},{CENTRE[0] + 10},{CENTRE[1] + 10}"
    yield Probe(
        f"OGC API bbox {spec.name}",
        f"{items}?limit=50&bbox={box}",
        ok=True,
        count=(_features, count),
    )
    yield from _filters(spec, seen)


def _filters(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    """Filters with the values of every row: only visible rows are counted."""
    items, attributes = f"{ROOT}/collections/{spec.name}/items?limit=50", seen.attributes[spec.name]
    for attr in (a for a in spec.texts if a in attributes):
        for row in spec.rows:
            value = row[attr]
            expected = seen.count(spec.name, Condition(attr, "IN", (value,)))
            text = quote(f"\"{attr}\" = '{value}'")
            as_json = quote(json.dumps({"op": "=", "args": [{"property": attr}, value]}))
            for label, query in (
                ("CQL2 text", f"filter={text}"),
                ("CQL2 JSON", f"filter-lang=cql2-json&filter={as_json}"),
                ("equality", f"{attr}={value}"),
            ):
                yield Probe(
                    f"OGC API {label} {attr}={value}",
                    f"{items}&{query}",
                    ok=True,
                    count=(_features, expected),
                )
    if spec.number in attributes:
        for k in (1, 5):
            expected = seen.count(spec.name, Condition(spec.number, ">=", k))
            yield Probe(
                f"OGC API filter {spec.number}>={k}",
                f"{items}&filter={quote(f'{spec.number} >= {k}')}",
                ok=True,
                count=(_features, expected),
            )


def _rows(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    items = f"{ROOT}/collections/{spec.name}/items"
    visible_ids = sorted(row["fid"] for row in seen.rows[spec.name])
    for row in spec.rows:
        if row["fid"] in visible_ids:
            yield Probe(f"OGC API item {spec.name}/{row['fid']}", f"{items}/{row['fid']}", ok=True)
            yield Probe(
                f"OGC API item HTML {spec.name}/{row['fid']}",
                f"{items}/{row['fid']}?f=html",
                ok=True,
            )
        else:
            rid = f"{spec.name}.{row['fid']}"
            yield twin(f"OGC API item {rid}", f"{items}/{HOLE_ID}", rid, "row")
    # Page k (one row a page, in key order) is the k-th visible row.
    for k in range(len(visible_ids) + 1):
        yield Probe(
            f"OGC API page {k} {spec.name}",
            f"{items}?limit=1&offset={k}",
            ok=True,
            count=(_first_id, visible_ids[k] if k < len(visible_ids) else 0),
        )


def _hidden_attributes(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    items = f"{ROOT}/collections/{spec.name}/items"
    shown = seen.attributes[spec.name]
    for attr in (a for a in spec.attributes if a not in shown):
        as_json = quote(json.dumps({"op": "isNull", "args": [{"property": HOLE}]}))
        for label, query in (
            ("filter", f"filter={quote(f'{HOLE} IS NULL')}"),
            ("CQL2 JSON filter", f"filter-lang=cql2-json&filter={as_json}"),
            ("sortby", f"sortby=-{HOLE}"),
            ("properties", f"properties={HOLE}"),
            ("equality", f"{HOLE}=1"),
        ):
            yield twin(f"OGC API {label} on hidden {attr}", f"{items}?{query}", attr, "a")


def _hidden_collection(name: str) -> Iterator[Probe]:
    """A collection the role may not read reads as one that never existed (404)."""
    other = phantom("l")
    for path in ("", "/items", "/items/1", "/queryables", "/sortables", "/schema", "?f=html"):
        label = f"OGC API hidden collection {name}{path}"
        query = f"{ROOT}/collections/{HOLE}{path}"
        yield Probe(
            label,
            query.replace(HOLE, name),
            twin=Probe(label + " (phantom)", query.replace(HOLE, other)),
            swap=(name, other),
        )

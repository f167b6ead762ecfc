"""Every request of the leak property, and what each must show.

A `Probe` is one request made as one role. Three kinds of checks apply:

- every answer (status line, headers, body — errors included) may hold only the sentinels
  the role may see (`Visible.tokens`) and those the request itself names;
- a probe naming something hidden (a layer, a group, an attribute, a row) has a `twin` naming
  something that never existed: both must get the same answer, so a caller cannot tell hidden
  from absent;
- a probe with a `count` must report exactly that many features (numberMatched,
  numberOfFeatures, the features of a GeoJSON, CSV or GetFeatureInfo answer).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from leak_world import CENTRE, Condition, LayerSpec, Visible, World, leaked, phantom
from lxml import etree

WFS2 = "http://www.opengis.net/wfs/2.0"
FES = "http://www.opengis.net/fes/2.0"
GML32 = "http://www.opengis.net/gml/3.2"
WFS1 = "http://www.opengis.net/wfs"
OGC = "http://www.opengis.net/ogc"
GML = "http://www.opengis.net/gml"
NAMESPACE = "https://ogcserve.org/leak"
INFO_FORMATS = (
    "text/plain",
    "text/html",
    "text/xml",
    "application/vnd.ogc.gml",
    "application/vnd.ogc.gml/3.1.1",
    "application/json",
)
GETFEATURE_FORMATS = (
    "application/gml+xml; version=3.2",
    "text/xml; subtype=gml/3.1.1",
    "text/xml; subtype=gml/2.1.2",
    "application/geo+json",
    "text/csv",
)
BBOX_13 = f"{CENTRE[1] - 5},{CENTRE[0] - 5},{CENTRE[1] + 5},{CENTRE[0] + 5}"  # lat/lon
MAP = f"CRS=EPSG:4326&BBOX={BBOX_13}&WIDTH=64&HEIGHT=64"
PHANTOM_ROW = 99


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """Everything a client receives, as one searchable text."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.status}\n{head}\n{self.body.decode('latin-1')}"


@dataclass(frozen=True)
class Probe:
    label: str
    query: str  # the query string (or the path's query for a POST)
    body: bytes | None = None  # a POST body
    ok: bool = False  # must succeed (200): a probe of something the role may read
    count: tuple[Callable[[Answer], int | None], int] | None = None
    twin: Probe | None = None  # same request, naming something that never existed
    swap: tuple[str, str] = ("", "")  # (hidden, phantom) names the twins differ by
    # A data layer the role may not read, named explicitly: refused as forbidden (403 Security,
    # QGIS's answer; DESIGN §4) rather than answered as unknown.
    forbidden: bool = False


Send = Callable[[Probe, str], Answer]


def wms(request: str, rest: str = "", version: str = "1.3.0") -> str:
    return f"SERVICE=WMS&VERSION={version}&REQUEST={request}&{rest}"


def wfs(request: str, rest: str = "", version: str = "2.0.0") -> str:
    return f"SERVICE=WFS&VERSION={version}&REQUEST={request}&{rest}"


def equal_to(attr: str, value: str) -> str:
    return (
        f"<fes:PropertyIsEqualTo><fes:ValueReference>{attr}</fes:ValueReference>"
        f"<fes:Literal>{value}</fes:Literal></fes:PropertyIsEqualTo>"
    )


def fes_equal(attr: str, value: str, prefix: bool = False) -> str:
    """A KVP FILTER: `attr` = `value`, URL-encoded (`prefix`: declaring o: for the names)."""
    namespaces = f'xmlns:fes="{FES}"' + (f' xmlns:o="{NAMESPACE}"' if prefix else "")
    return quote(f"<fes:Filter {namespaces}>{equal_to(attr, value)}</fes:Filter>")


def expression(attr: str, op: str, value: object) -> str:
    """`"attr" op value`, URL-encoded."""
    return quote(f'"{attr}" {op} {value}')


def transaction(*actions: str) -> str:
    return (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" '
        f'xmlns:fes="{FES}" xmlns:gml="{GML32}" xmlns:o="{NAMESPACE}">{"".join(actions)}'
        "</wfs:Transaction>"
    )


def transaction_1x(version: str, actions: str) -> str:
    return (
        f'<wfs:Transaction service="WFS" version="{version}" xmlns:wfs="{WFS1}" '
        f'xmlns:ogc="{OGC}" xmlns:gml="{GML}" xmlns:o="{NAMESPACE}">{actions}</wfs:Transaction>'
    )


def by_rid(rid: str) -> str:
    return f'<fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter>'


def set_value(attr: str | None) -> str:
    """An Update's property: `attr` becomes 'changed' (a value no world holds)."""
    return (
        f"<wfs:Property><wfs:ValueReference>{attr}</wfs:ValueReference>"
        "<wfs:Value>changed</wfs:Value></wfs:Property>"
    )


def insert(layer: str, attr: str, value: str, more: str = "") -> str:
    """An Insert of a square like the world's (rows are polygons) with `attr` = `value`."""
    ring = " ".join(f"{CENTRE[1] + dy} {CENTRE[0] + dx}" for dx, dy in SQUARE)
    return (
        f"<wfs:Insert><o:{layer}><o:geom><gml:Polygon gml:id='p' srsName='EPSG:4326'>"
        f"<gml:exterior><gml:LinearRing><gml:posList>{ring}</gml:posList></gml:LinearRing>"
        f"</gml:exterior></gml:Polygon></o:geom>"
        f"<o:{attr}>{value}</o:{attr}>{more}</o:{layer}></wfs:Insert>"
    )


SQUARE = ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))


def delete_all(layer: str) -> bytes:
    """A Delete of whatever lies in a box around every row of the worlds."""
    return transaction(
        f'<wfs:Delete typeName="o:{layer}"><fes:Filter><fes:BBOX>'
        "<fes:ValueReference>geom</fes:ValueReference><gml:Envelope srsName='EPSG:4326'>"
        "<gml:lowerCorner>0 0</gml:lowerCorner><gml:upperCorner>20 20</gml:upperCorner>"
        "</gml:Envelope></fes:BBOX></fes:Filter></wfs:Delete>"
    ).encode()


# --- counts --------------------------------------------------------------------------------


def matched(answer: Answer) -> int | None:
    """numberMatched; None when the server says it is unknown (`wfs.number_matched`)."""
    value = etree.fromstring(answer.body).get("numberMatched", "-1")
    return None if value == "unknown" else int(value)


def number_of_features(answer: Answer) -> int | None:
    value = etree.fromstring(answer.body).get("numberOfFeatures")  # optional in WFS 1.1
    return None if value is None else int(value)


def geojson_features(answer: Answer) -> int:
    document = json.loads(answer.body)
    if "numberMatched" in document:
        assert document["numberMatched"] == len(document["features"]), document
    return len(document["features"])


def first_id(answer: Answer) -> int:
    """The key of the one feature of a GeoJSON page (0: none)."""
    features = json.loads(answer.body)["features"]
    return int(features[0]["id"].rsplit(".", 1)[1]) if features else 0


def geojson_matched(answer: Answer) -> int | None:
    document = json.loads(answer.body)
    return int(document["numberMatched"]) if "numberMatched" in document else None


def geojson_next(answer: Answer) -> int:
    links = json.loads(answer.body).get("links", [])
    return sum(1 for link in links if link.get("rel") == "next")


def gml_next(answer: Answer) -> int:
    return int(etree.fromstring(answer.body).get("next") is not None)


def csv_rows(answer: Answer) -> int:
    return len(list(csv.reader(io.StringIO(answer.body.decode())))) - 1


def gml_members(answer: Answer) -> int:
    root = etree.fromstring(answer.body)
    return len(root.xpath("//*[local-name()='member' or local-name()='featureMember']"))


COUNTERS = {
    "application/gml+xml; version=3.2": gml_members,
    "text/xml; subtype=gml/3.1.1": gml_members,
    "text/xml; subtype=gml/2.1.2": gml_members,
    "application/geo+json": geojson_features,
    "text/csv": csv_rows,
}


# --- the catalogue -----------------------------------------------------------------------------


HOLE = "HOLE0"  # where a twin's name goes in a request template (safe in URLs and XML)
HOLE_ID = "HOLEID"  # for a row: where the bare id goes


def twin(label: str, query: str, hidden: str, kind: str, body: str | None = None) -> Probe:
    """A probe naming `hidden` where `query` and `body` say HOLE, whose twin names a phantom
    of the same kind there instead."""

    def fill(name: str) -> tuple[str, bytes | None]:
        def put(template: str) -> str:
            return template.replace(HOLE, name).replace(HOLE_ID, name.rsplit(".", 1)[-1])

        return put(query), put(body).encode() if body else None

    if kind == "l":
        return Probe(label, *fill(hidden), forbidden=True)
    other = phantom(kind) if kind != "row" else hidden.rsplit(".", 1)[0] + f".{PHANTOM_ROW}"
    return Probe(
        label, *fill(hidden), twin=Probe(label + " (phantom)", *fill(other)), swap=(hidden, other)
    )


def probes(world: World, seen: Visible) -> Iterator[Probe]:
    """Every request the property makes as one role (reads only; see `edits`)."""
    yield from _documents(world, seen)
    for spec in world.layers:
        if spec.name in seen.layers:
            yield from _readable(spec, seen)
        else:
            yield from _hidden_layer(spec.name, "l")
    if world.group is not None and world.group[0] not in seen.tokens:
        yield from _hidden_layer(world.group[0], "g", wfs_too=False)


def _documents(world: World, seen: Visible) -> Iterator[Probe]:
    for version in ("1.3.0", "1.1.1"):
        yield Probe(
            f"WMS {version} GetCapabilities", wms("GetCapabilities", version=version), ok=True
        )
    for version in ("2.0.0", "1.1.0", "1.0.0"):
        yield Probe(
            f"WFS {version} GetCapabilities", wfs("GetCapabilities", version=version), ok=True
        )
        yield Probe(
            f"WFS {version} DescribeFeatureType (all)",
            wfs("DescribeFeatureType", version=version),
            ok=bool(seen.layers),
        )
    yield Probe(
        "WFS DescribeFeatureType JSON (all)",
        wfs("DescribeFeatureType", "OUTPUTFORMAT=application/json"),
        ok=bool(seen.layers),
    )
    yield Probe("WFS ListStoredQueries", wfs("ListStoredQueries"), ok=True)
    yield Probe("WFS DescribeStoredQueries", wfs("DescribeStoredQueries"), ok=True)
    # The project as one layer: drawing, querying and describing it skips what is hidden.
    yield Probe(
        "WMS GetMap (project)", wms("GetMap", f"LAYERS=leak&STYLES=&{MAP}&FORMAT=image/png")
    )
    everything = sum(seen.count(name) for name in seen.layers)
    for fmt in ("application/json", "text/xml"):
        yield Probe(
            f"WMS GetFeatureInfo {fmt} (project)",
            wms(
                "GetFeatureInfo",
                f"LAYERS=leak&QUERY_LAYERS=leak&STYLES=&{MAP}&I=32&J=32"
                f"&INFO_FORMAT={quote(fmt)}&FEATURE_COUNT=50",
            ),
            ok=bool(seen.layers),
            count=(geojson_features, everything) if fmt == "application/json" else None,
        )
    if world.group is not None and world.group[0] in seen.tokens:
        group = world.group[0]
        members = sum(seen.count(s.name) for s in world.layers[1:] if s.name in seen.layers)
        yield Probe(
            f"WMS GetFeatureInfo (group {group})",
            wms(
                "GetFeatureInfo",
                f"LAYERS={group}&QUERY_LAYERS={group}&STYLES=&{MAP}&I=32&J=32"
                "&INFO_FORMAT=application/json&FEATURE_COUNT=50",
            ),
            ok=True,
            count=(geojson_features, members),
        )
        for request in ("GetMap", "GetStyles", "DescribeLayer"):
            yield Probe(
                f"WMS {request} (group {group})",
                wms(request, f"LAYERS={group}&STYLES=&{MAP}&FORMAT=image/png", "1.1.1"),
                ok=True,
            )
    yield Probe(
        "WMS GetLegendGraphic (project)", wms("GetLegendGraphic", "LAYER=leak&FORMAT=image/png")
    )
    yield Probe("WMS GetStyles (project)", wms("GetStyles", "LAYERS=leak", "1.1.1"))
    yield Probe("WMS DescribeLayer (project)", wms("DescribeLayer", "LAYERS=leak", "1.1.1"))
    all_layers = ",".join(s.name for s in world.layers)
    yield Probe(
        "WFS GetFeature hits (every type)",
        wfs("GetFeature", f"TYPENAMES={all_layers}&RESULTTYPE=hits"),
    )


def _readable(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    name, count = spec.name, seen.count(spec.name)
    on = f"LAYERS={name}&QUERY_LAYERS={name}&STYLES=&{MAP}&I=32&J=32&FEATURE_COUNT=50"
    yield Probe(
        f"WMS GetMap {name}",
        wms("GetMap", f"LAYERS={name}&STYLES=&{MAP}&FORMAT=image/png"),
        ok=True,
    )
    for fmt in INFO_FORMATS:
        yield Probe(
            f"WMS GetFeatureInfo {fmt} {name}",
            wms("GetFeatureInfo", f"{on}&INFO_FORMAT={quote(fmt)}"),
            ok=True,
            count=(geojson_features, count) if fmt == "application/json" else None,
        )
    yield Probe(
        f"WMS 1.1.1 GetFeatureInfo {name}",
        wms(
            "GetFeatureInfo",
            on.replace("CRS=", "SRS=")
            .replace(BBOX_13, "5,5,15,15")
            .replace("I=32&J=32", "X=32&Y=32")
            + "&INFO_FORMAT=application/json",
            "1.1.1",
        ),
        ok=True,
        count=(geojson_features, count),
    )
    yield Probe(
        f"WMS GetLegendGraphic {name}",
        wms("GetLegendGraphic", f"LAYER={name}&FORMAT=image/png"),
        ok=True,
    )
    yield Probe(f"WMS GetStyles {name}", wms("GetStyles", f"LAYERS={name}", "1.1.1"), ok=True)
    yield Probe(
        f"WMS DescribeLayer {name}", wms("DescribeLayer", f"LAYERS={name}", "1.1.1"), ok=True
    )
    for version in ("2.0.0", "1.1.0", "1.0.0"):
        yield Probe(
            f"WFS {version} DescribeFeatureType {name}",
            wfs("DescribeFeatureType", f"TYPENAMES={name}&TYPENAME={name}", version),
            ok=True,
        )
    yield Probe(
        f"WFS DescribeFeatureType JSON {name}",
        wfs("DescribeFeatureType", f"TYPENAMES={name}&OUTPUTFORMAT=application/json"),
        ok=True,
    )
    for fmt in GETFEATURE_FORMATS:
        yield Probe(
            f"WFS GetFeature {fmt} {name}",
            wfs("GetFeature", f"TYPENAMES={name}&OUTPUTFORMAT={quote(fmt)}"),
            ok=True,
            count=(COUNTERS[fmt], count),
        )
    for version in ("1.1.0", "1.0.0"):
        yield Probe(
            f"WFS {version} GetFeature {name}",
            wfs("GetFeature", f"TYPENAME={name}", version),
            ok=True,
            count=(gml_members, count),
        )
    yield Probe(
        f"WFS hits {name}",
        wfs("GetFeature", f"TYPENAMES={name}&RESULTTYPE=hits"),
        ok=True,
        count=(matched, count),
    )
    yield Probe(
        f"WFS GeoJSON page 2 {name}",
        wfs(
            "GetFeature",
            f"TYPENAMES={name}&OUTPUTFORMAT=application/geo%2Bjson&COUNT=1&STARTINDEX=1",
        ),
        ok=True,
        count=(geojson_matched, count),
    )
    yield Probe(
        f"WFS GML page 2 {name}",
        wfs("GetFeature", f"TYPENAMES={name}&COUNT=1&STARTINDEX=1"),
        ok=True,
        count=(matched, count),
    )
    # A `next` link says that more rows follow page 2 (one row a page): only visible rows may
    # decide it. Without an exact count a full page may get one anyway.
    if spec.number_matched == "exact" or count != 2:
        for fmt, next_link in (("application/geo%2Bjson", geojson_next), ("", gml_next)):
            yield Probe(
                f"WFS next link {fmt or 'GML'} {name}",
                wfs("GetFeature", f"TYPENAMES={name}&OUTPUTFORMAT={fmt}&COUNT=1&STARTINDEX=1"),
                ok=True,
                count=(next_link, int(count > 2)),
            )
    yield Probe(
        f"WFS 1.1.0 hits {name}",
        wfs("GetFeature", f"TYPENAME={name}&RESULTTYPE=hits", "1.1.0"),
        ok=True,
        count=(number_of_features, count),
    )
    attributes = seen.attributes[name]
    for attr in attributes:
        yield Probe(
            f"WFS GetPropertyValue {name}/{attr}",
            wfs("GetPropertyValue", f"TYPENAMES={name}&VALUEREFERENCE={attr}"),
            ok=True,
            count=(matched, count),
        )
    # Filters on what the role sees, with values of every row: counts of visible rows only.
    for attr in (a for a in spec.texts if a in attributes):
        for row in spec.rows:
            value = row[attr]
            expected = seen.count(name, Condition(attr, "IN", (value,)))
            yield Probe(
                f"WFS hits FILTER {attr}={value}",
                wfs(
                    "GetFeature",
                    f"TYPENAMES={name}&RESULTTYPE=hits&FILTER={fes_equal(attr, value)}",
                ),
                ok=True,
                count=(matched, expected),
            )
            yield Probe(
                f"WFS GeoJSON EXP_FILTER {attr}={value}",
                wfs(
                    "GetFeature",
                    f"TYPENAMES={name}&OUTPUTFORMAT=application/geo%2Bjson"
                    f"&EXP_FILTER={expression(attr, '=', repr(value))}",
                ),
                ok=True,
                count=(geojson_features, expected),
            )
    number = spec.number
    if number in attributes:
        for k in (1, 5):
            expected = seen.count(name, Condition(number, ">=", k))
            yield Probe(
                f"WMS GetFeatureInfo FILTER {number}>={k}",
                wms(
                    "GetFeatureInfo",
                    f"{on}&INFO_FORMAT=application/json"
                    f"&FILTER={name}:{expression(number, '>=', k)}",
                ),
                ok=True,
                count=(geojson_features, expected),
            )
    # Attributes the role may not see: named anywhere, they are as unknown as a phantom.
    for attr in (a for a in spec.attributes if a not in attributes):
        yield from _hidden_attribute(name, attr)
    # Rows the role may not see: by id they are as absent as a row that never existed.
    visible_ids = {row["fid"] for row in seen.rows[name]}
    for row in spec.rows:
        if row["fid"] not in visible_ids:
            rid = f"{name}.{row['fid']}"
            yield twin(f"WFS RESOURCEID {rid}", wfs("GetFeature", f"RESOURCEID={HOLE}"), rid, "row")
            yield twin(
                f"WFS GetFeatureById {rid}",
                wfs(
                    "GetFeature",
                    f"STOREDQUERY_ID=urn:ogc:def:query:OGC-WFS::GetFeatureById&ID={HOLE}",
                ),
                rid,
                "row",
            )
            yield twin(
                f"WFS 1.1.0 FEATUREID {rid}",
                wfs("GetFeature", f"FEATUREID={HOLE}", "1.1.0"),
                rid,
                "row",
            )
    # Page k (one row a page, in key order) is the k-th visible row: hidden rows take no place,
    # even where a rule is evaluated after the database (upper() on a GeoPackage).
    ordered = sorted(visible_ids)
    for k in range(len(ordered) + 1):
        yield Probe(
            f"WFS page {k} by $id {name}",
            wfs(
                "GetFeature",
                f"TYPENAMES={name}&OUTPUTFORMAT=application/geo%2Bjson&SORTBY=%24id"
                f"&COUNT=1&STARTINDEX={k}",
            ),
            ok=True,
            count=(first_id, ordered[k] if k < len(ordered) else 0),
        )
    # Rows by key: a hidden one matches nothing.
    for row in spec.rows:
        yield Probe(
            f"WFS EXP_FILTER $id = {row['fid']} {name}",
            wfs(
                "GetFeature",
                f"TYPENAMES={name}&RESULTTYPE=hits&EXP_FILTER=%24id%20%3D%20{row['fid']}",
            ),
            ok=True,
            count=(matched, int(row["fid"] in visible_ids)),
        )
    every_id = ",".join(f"{name}.{row['fid']}" for row in spec.rows)
    yield Probe(
        f"WFS RESOURCEID of every row {name}",
        wfs("GetFeature", f"RESOURCEID={every_id}&OUTPUTFORMAT=application/geo%2Bjson"),
        ok=True,
        count=(geojson_features, count),
    )
    yield Probe(
        f"WFS BBOX hits {name}",
        wfs("GetFeature", f"TYPENAMES={name}&RESULTTYPE=hits&BBOX=0,0,20,20,EPSG:4326"),
        ok=True,
        count=(matched, count),
    )


def _hidden_attribute(name: str, attr: str) -> Iterator[Probe]:
    def probe(label: str, query: str, body: str | None = None) -> Probe:
        return twin(f"{label} {attr}", query, attr, "a", body)

    yield probe(
        "WFS FILTER on hidden", wfs("GetFeature", f"TYPENAMES={name}&FILTER={fes_equal(HOLE, 'x')}")
    )
    yield probe(
        "WFS EXP_FILTER on hidden",
        wfs("GetFeature", f"TYPENAMES={name}&EXP_FILTER={expression(HOLE, 'IS NOT', 'NULL')}"),
    )
    yield probe(
        "WFS PROPERTYNAME hidden", wfs("GetFeature", f"TYPENAMES={name}&PROPERTYNAME={HOLE}")
    )
    yield probe(
        "WFS POST GetFeature Filter on hidden",
        "SERVICE=WFS",
        (
            f'<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="{WFS2}" '
            f'xmlns:fes="{FES}" xmlns:o="{NAMESPACE}"><wfs:Query typeNames="o:{name}">'
            "<fes:Filter><fes:PropertyIsLike wildCard='*' singleChar='.' escapeChar='!'>"
            f"<fes:ValueReference>{HOLE}</fes:ValueReference><fes:Literal>zz*</fes:Literal>"
            "</fes:PropertyIsLike></fes:Filter></wfs:Query></wfs:GetFeature>"
        ),
    )
    yield probe("WFS SORTBY hidden", wfs("GetFeature", f"TYPENAMES={name}&SORTBY={HOLE}"))
    yield probe(
        "WFS FILTER on prefixed hidden",
        wfs("GetFeature", f"TYPENAMES={name}&FILTER={fes_equal(f'o:{HOLE}', 'x', prefix=True)}"),
    )
    yield probe(
        "WFS GetPropertyValue path to hidden",
        wfs("GetPropertyValue", f"TYPENAMES={name}&VALUEREFERENCE={name}/{HOLE}"),
    )
    yield probe(
        "WFS GetPropertyValue hidden",
        wfs("GetPropertyValue", f"TYPENAMES={name}&VALUEREFERENCE={HOLE}"),
    )
    yield probe(
        "WMS GetMap FILTER hidden",
        wms(
            "GetMap",
            f"LAYERS={name}&STYLES=&{MAP}&FORMAT=image/png"
            f"&FILTER={name}:{expression(HOLE, 'IS', 'NULL')}",
        ),
    )
    yield probe(
        "WMS GetFeatureInfo FILTER hidden",
        wms(
            "GetFeatureInfo",
            f"LAYERS={name}&QUERY_LAYERS={name}&STYLES=&{MAP}&I=32&J=32"
            f"&INFO_FORMAT=application/json&FILTER={name}:{expression(HOLE, 'IS', 'NULL')}",
        ),
    )


def _hidden_layer(name: str, kind: str, wfs_too: bool = True) -> Iterator[Probe]:
    def probe(label: str, query: str, body: str | None = None) -> Probe:
        return twin(f"{label} hidden {name}", query, name, kind, body)

    on = f"STYLES=&{MAP}&I=32&J=32&FEATURE_COUNT=50"
    yield probe("WMS GetMap", wms("GetMap", f"LAYERS={HOLE}&STYLES=&{MAP}&FORMAT=image/png"))
    for fmt in INFO_FORMATS:
        yield probe(
            f"WMS GetFeatureInfo {fmt}",
            wms(
                "GetFeatureInfo", f"LAYERS={HOLE}&QUERY_LAYERS={HOLE}&{on}&INFO_FORMAT={quote(fmt)}"
            ),
        )
    yield probe("WMS GetLegendGraphic", wms("GetLegendGraphic", f"LAYER={HOLE}&FORMAT=image/png"))
    yield probe("WMS GetStyles", wms("GetStyles", f"LAYERS={HOLE}", "1.1.1"))
    yield probe("WMS DescribeLayer", wms("DescribeLayer", f"LAYERS={HOLE}", "1.1.1"))
    if not wfs_too:
        return
    for version in ("2.0.0", "1.1.0", "1.0.0"):
        yield probe(
            f"WFS {version} DescribeFeatureType",
            wfs("DescribeFeatureType", f"TYPENAMES={HOLE}&TYPENAME={HOLE}", version),
        )
        yield probe(
            f"WFS {version} GetFeature",
            wfs("GetFeature", f"TYPENAMES={HOLE}&TYPENAME={HOLE}", version),
        )
    yield probe("WFS hits", wfs("GetFeature", f"TYPENAMES={HOLE}&RESULTTYPE=hits"))
    yield probe(
        "WFS GetPropertyValue", wfs("GetPropertyValue", f"TYPENAMES={HOLE}&VALUEREFERENCE=fid")
    )
    yield probe("WFS RESOURCEID", wfs("GetFeature", f"RESOURCEID={HOLE}.1"))
    yield probe(
        "WFS Transaction Delete",
        "SERVICE=WFS",
        transaction(f'<wfs:Delete typeName="o:{HOLE}">{by_rid(f"{HOLE}.1")}</wfs:Delete>'),
    )


def edits(world: World, seen: Visible) -> Iterator[Probe]:
    """Transactions that reach only what the role may not see: each must change nothing and
    answer as if it named something that never existed."""
    for spec in world.layers:
        if spec.name in seen.layers:
            yield from _layer_edits(spec, seen)


def _layer_edits(spec: LayerSpec, seen: Visible) -> Iterator[Probe]:
    name = spec.name
    attributes = seen.attributes[name]
    visible_ids = {row["fid"] for row in seen.rows[name]}
    hidden_rows = [row for row in spec.rows if row["fid"] not in visible_ids]
    target = next((a for a in spec.texts if a in attributes), None)
    for row in hidden_rows if target is not None else ():
        where = f"<fes:Filter>{equal_to(target, HOLE)}</fes:Filter>"
        yield twin(
            f"WFS Update where {target}={row[target]}",
            "SERVICE=WFS",
            row[target],
            "v",
            transaction(f'<wfs:Update typeName="o:{name}">{set_value(target)}{where}</wfs:Update>'),
        )
        yield twin(
            f"WFS Delete where {target}={row[target]}",
            "SERVICE=WFS",
            row[target],
            "v",
            transaction(f'<wfs:Delete typeName="o:{name}">{where}</wfs:Delete>'),
        )
    for row in hidden_rows if target is not None else ():
        rid = f"{name}.{row['fid']}"
        yield twin(
            f"WFS Update hidden row {rid}",
            "SERVICE=WFS",
            rid,
            "row",
            transaction(
                f'<wfs:Update typeName="o:{name}">{set_value(target)}{by_rid(HOLE)}</wfs:Update>'
            ),
        )
        yield twin(
            f"WFS Delete hidden row {rid}",
            "SERVICE=WFS",
            rid,
            "row",
            transaction(f'<wfs:Delete typeName="o:{name}">{by_rid(HOLE)}</wfs:Delete>'),
        )
        yield twin(
            f"WFS Replace hidden row {rid}",
            "SERVICE=WFS",
            rid,
            "row",
            transaction(
                insert(name, target, "changed")
                .replace("wfs:Insert", "wfs:Replace")
                .replace("</o:" + name + ">", f"</o:{name}>{by_rid(HOLE)}")
            ),
        )
        for version in ("1.1.0", "1.0.0"):
            yield twin(
                f"WFS {version} Update and Delete hidden row {rid}",
                "SERVICE=WFS",
                rid,
                "row",
                transaction_1x(
                    version,
                    f'<wfs:Update typeName="o:{name}"><wfs:Property><wfs:Name>{target}'
                    "</wfs:Name><wfs:Value>changed</wfs:Value></wfs:Property>"
                    f'<ogc:Filter><ogc:FeatureId fid="{HOLE}"/></ogc:Filter></wfs:Update>'
                    f'<wfs:Delete typeName="o:{name}"><ogc:Filter><ogc:FeatureId fid="{HOLE}"/>'
                    "</ogc:Filter></wfs:Delete>",
                ),
            )
    # A new feature like a visible one (so the role's rules let it in) but with the key of a
    # hidden row: it must fare as with a key no row has, or keys can be tried one by one.
    for row in hidden_rows if seen.rows[name] else ():
        model = seen.rows[name][0]
        values = "".join(
            f"<o:{a}>{model[a]}</o:{a}>"
            for a in spec.attributes
            if a in attributes and a != "fid" and model[a] is not None
        )
        yield twin(
            f"WFS Insert with the key of hidden row {name}.{row['fid']}",
            "SERVICE=WFS",
            f"{name}.{row['fid']}",
            "row",
            transaction(insert(name, "fid", HOLE_ID, values)),
        )
    first = seen.rows[name][0]["fid"] if seen.rows[name] else None
    for attr in (a for a in spec.attributes if a not in attributes and a != "fid"):
        if first is not None:
            yield twin(
                f"WFS Update hidden attribute {attr}",
                "SERVICE=WFS",
                attr,
                "a",
                transaction(
                    f'<wfs:Update typeName="o:{name}">{set_value(HOLE)}'
                    f"{by_rid(f'{name}.{first}')}</wfs:Update>"
                ),
            )
        yield twin(
            f"WFS Insert hidden attribute {attr}",
            "SERVICE=WFS",
            attr,
            "a",
            transaction(insert(name, HOLE, "changed")),
        )


# --- checking ------------------------------------------------------------------------------

_VOLATILE = re.compile(rb'timeStamp="[^"]*"|"timeStamp": *"[^"]*"')


def check(probe: Probe, role: str, seen: Visible, send: Send) -> list[str]:
    """What is wrong with `probe`'s answer (and its twin's): [] when nothing leaks."""
    answer = send(probe, role)
    problems = []
    named = leaked(probe.query + (probe.body or b"").decode(), set())
    allowed = seen.tokens | named | {token.split(".")[0] for token in named}
    found = leaked(answer.text(), allowed)
    if found:
        problems.append(f"{probe.label} as {role}: {answer.status} shows {sorted(found)}")
    if probe.forbidden and (answer.status != 403 or b'"Security"' not in answer.body):
        problems.append(f"{probe.label} as {role}: {answer.status} {answer.body[:300]!r}")
    if probe.ok and answer.status != 200:
        problems.append(f"{probe.label} as {role}: {answer.status} {answer.body[:300]!r}")
    elif probe.count is not None and answer.status == 200:
        counter, expected = probe.count
        got = counter(answer)
        if got is not None and got != expected:
            problems.append(f"{probe.label} as {role}: {got} features, {expected} visible")
    if probe.twin is not None:
        other = send(probe.twin, role)
        hidden, fake = probe.swap
        mine = _normal(answer, hidden.encode())
        theirs = _normal(other, fake.encode())
        if mine != theirs:
            problems.append(
                f"{probe.label} as {role}: hidden and absent differ:\n  {mine}\n  {theirs}"
            )
    return problems


def _normal(answer: Answer, name: bytes) -> tuple[int, str, bytes]:
    body = answer.body.replace(name, b"@@")
    if b"." in name:  # a row: messages may also quote its bare id
        body = body.replace(b"'" + name.rsplit(b".", 1)[1] + b"'", b"'@@'")
    body = _VOLATILE.sub(b"", body)
    return (
        answer.status,
        answer.headers.get("Content-Type", answer.headers.get("content-type", "")),
        body,
    )

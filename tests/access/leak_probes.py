"""The leak property's probes: requests made as one role, and what each must show.

The requests are listed in leak_reads.py and leak_edits.py. A `Probe` is one request made as
one role. Three kinds of checks apply:

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
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from leak_world import CENTRE, Visible, leaked, phantom
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
    method: str = ""  # GET, or POST with a body, unless given
    content_type: str = "text/xml"  # of the body

    @property
    def verb(self) -> str:
        return self.method or ("POST" if self.body is not None else "GET")


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


# --- twins ---------------------------------------------------------------------------------


HOLE = "HOLE0"  # where a twin's name goes in a request template (safe in URLs and XML)
HOLE_ID = "HOLEID"  # for a row: where the bare id goes


def twin(
    label: str,
    query: str,
    hidden: str,
    kind: str,
    body: str | None = None,
    method: str = "",
    content_type: str = "text/xml",
) -> Probe:
    """A probe naming `hidden` where `query` and `body` say HOLE, whose twin names a phantom
    of the same kind there instead."""

    def fill(name: str) -> tuple[str, bytes | None]:
        def put(template: str) -> str:
            return template.replace(HOLE, name).replace(HOLE_ID, name.rsplit(".", 1)[-1])

        return put(query), put(body).encode() if body else None

    if kind == "l":
        return Probe(label, *fill(hidden), forbidden=True, method=method, content_type=content_type)
    other = phantom(kind) if kind != "row" else hidden.rsplit(".", 1)[0] + f".{PHANTOM_ROW}"
    return Probe(
        label,
        *fill(hidden),
        twin=Probe(label + " (phantom)", *fill(other), method=method, content_type=content_type),
        swap=(hidden, other),
        method=method,
        content_type=content_type,
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

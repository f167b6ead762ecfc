"""Hypothesis strategies for WFS XML: FES / OGC filters and GML as random trees, and request
documents (GetFeature, GetPropertyValue, Transaction, stored queries) with random insides, then
cut and re-encoded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from lxml import etree

from .strategies import hostile_text

NS = {
    "wfs": "http://www.opengis.net/wfs/2.0", "wfs1": "http://www.opengis.net/wfs", "fes":
    "http://www.opengis.net/fes/2.0", "ogc": "http://www.opengis.net/ogc", "gml":
    "http://www.opengis.net/gml/3.2", "gml3": "http://www.opengis.net/gml", "o":
    "https://ogcserve.org/demo", "x": "urn:x"
}  # fmt: skip
_FES_CONDITIONS = (
    "And", "Or", "Not", "PropertyIsEqualTo", "PropertyIsNotEqualTo", "PropertyIsLessThan",
    "PropertyIsGreaterThanOrEqualTo", "PropertyIsLike", "PropertyIsNull", "PropertyIsNil",
    "PropertyIsBetween", "BBOX", "Intersects", "Within", "DWithin", "Beyond", "ResourceId",
    "FeatureId", "GmlObjectId", "Unknown"
)  # fmt: skip
_FES_EXPRESSIONS = (
    "ValueReference", "PropertyName", "Literal", "Add", "Sub", "Mul", "Div", "Function"
)  # fmt: skip
_GML = (
    "Envelope", "Box", "Point", "LineString", "Polygon", "exterior", "LinearRing", "pos",
    "posList", "coordinates", "lowerCorner", "upperCorner", "coord", "X", "Y", "MultiPoint",
    "pointMember", "Distance", "LowerBoundary", "UpperBoundary"
)  # fmt: skip
_ATTRIBUTES = (
    "rid", "fid", "srsName", "srsDimension", "wildCard", "singleChar", "escapeChar", "escape",
    "matchCase", "uom", "units", "typeNames", "typeName", "service", "version", "count",
    "startIndex", "resultType", "outputFormat", "handle", "name", "action", "id", "valueReference",
    "maxFeatures", "inputFormat", "decimal", "cs", "ts"
)  # fmt: skip
_TEXTS = (
    "1 2", "0 0 1 1", "-180 -90 180 90", "1,2 3,4", "nan nan", "1e999 0", "0 0 1 0 1 1 0 0",
    "name", "pop_est", "@gml:id", "o:name", "countries/name", "geom", "countries.1", "*", "fr%",
    "1", "-1", "2020-01-01", "true"
)  # fmt: skip


def _qualified(names: Sequence[str], prefixes: Sequence[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda p, n: f"{{{NS[p]}}}{n}" if p else n,
        st.sampled_from((*prefixes, "")),
        st.sampled_from(names),
    )


def _attributes() -> st.SearchStrategy[dict[str, str]]:
    names = st.one_of(
        st.sampled_from(_ATTRIBUTES), st.sampled_from(("id",)).map(lambda n: f"{{{NS['gml']}}}{n}")
    )
    return st.dictionaries(names, st.one_of(st.sampled_from(_TEXTS), hostile_text(20)), max_size=3)


def _xml_text() -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(_TEXTS), hostile_text(20))


def _element(
    tags: st.SearchStrategy[str], children: st.SearchStrategy[list[Any]]
) -> st.SearchStrategy[etree._Element]:
    def make(
        tag: str, attributes: dict[str, str], text: str | None, kids: list[Any]
    ) -> etree._Element:
        element = etree.Element(tag, nsmap={k: v for k, v in NS.items() if k != "x"})
        for name, value in attributes.items():
            element.set(name, _xml_safe(value))
        element.text = _xml_safe(text) if text is not None else None
        element.extend(kids)
        return element

    return st.builds(make, tags, _attributes(), _xml_text(), children)


def _xml_safe(text: str) -> str:
    # lxml refuses to build what XML cannot carry; the raw-text strategies send those.
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"
    )


def fes_tree() -> st.SearchStrategy[etree._Element]:
    """Filter content: conditions, expressions and GML, nested at random."""
    tags = st.one_of(
        _qualified(_FES_CONDITIONS, ("fes", "ogc")),
        _qualified(_FES_EXPRESSIONS, ("fes", "ogc")),
        _qualified(_GML, ("gml", "gml3", "fes")),
    )
    return st.recursive(
        _element(tags, st.just([])),
        lambda inner: _element(tags, st.lists(inner, max_size=3)),
        max_leaves=12,
    )


def fes_filter() -> st.SearchStrategy[etree._Element]:
    return _element(_qualified(("Filter",), ("fes", "ogc", "x")), st.lists(fes_tree(), max_size=2))


@st.composite
def wfs_body(draw: st.DrawFn) -> bytes:
    """A WFS request document: GetFeature / GetPropertyValue / Transaction / stored queries /
    DescribeFeatureType, a valid frame with random insides."""
    version = draw(st.sampled_from(("2.0.0", "1.1.0", "1.0.0", "3.0", "")))
    wfs = NS["wfs"] if version.startswith("2") or not version else NS["wfs1"]
    kind = draw(
        st.sampled_from(
            (
                "GetFeature",
                "GetPropertyValue",
                "Transaction",
                "DescribeStoredQueries",
                "DescribeFeatureType",
                "GetCapabilities",
                "ListStoredQueries",
                "LockFeature",
            )
        )
    )
    root = etree.Element(f"{{{wfs}}}{kind}", nsmap={k: v for k, v in NS.items() if k != "x"})
    root.set("service", draw(st.sampled_from(("WFS", "wfs", "WMS", ""))))
    if version:
        root.set("version", version)
    for name, value in draw(_attributes()).items():
        root.set(name, _xml_safe(value))
    layer = st.sampled_from(("countries", "cities", "o:countries", "parcels", "nope", "x:y", ""))
    for _ in range(draw(st.integers(0, 3))):
        if kind in ("GetFeature", "GetPropertyValue", "LockFeature"):
            child = etree.SubElement(
                root, f"{{{wfs}}}{draw(st.sampled_from(('Query', 'StoredQuery')))}"
            )
            child.set(draw(st.sampled_from(("typeNames", "typeName", "id"))), draw(layer))
            for _ in range(draw(st.integers(0, 2))):
                inner = draw(st.sampled_from(("PropertyName", "SortBy", "Parameter", "Filter")))
                if inner == "Filter":
                    child.append(draw(fes_filter()))
                else:
                    sub = draw(
                        _element(
                            _qualified((inner,), ("wfs", "fes", "ogc")),
                            st.lists(fes_tree(), max_size=2),
                        )
                    )
                    child.append(sub)
        elif kind == "Transaction":
            action = etree.SubElement(
                root,
                f"{{{wfs}}}"
                + draw(st.sampled_from(("Insert", "Update", "Delete", "Replace", "Native"))),
            )
            action.set(draw(st.sampled_from(("typeName", "typeNames", "handle"))), draw(layer))
            feature = draw(
                _element(
                    _qualified(("parcels", "countries", "cities"), ("o", "x", "wfs")),
                    st.lists(
                        _element(
                            _qualified(
                                ("name", "role", "value", "geom", "fid", "nope"), ("o", "x")
                            ),
                            st.lists(fes_tree(), max_size=1),
                        ),
                        max_size=4,
                    ),
                )
            )
            prop = draw(
                _element(
                    _qualified(("Property",), ("wfs",)),
                    st.lists(
                        _element(
                            _qualified(("Name", "ValueReference", "Value"), ("wfs", "fes")),
                            st.lists(fes_tree(), max_size=1),
                        ),
                        max_size=3,
                    ),
                )
            )
            action.extend(
                draw(st.lists(st.sampled_from((feature, prop)), max_size=2, unique_by=id))
            )
            if draw(st.booleans()):
                action.append(draw(fes_filter()))
        else:
            root.append(draw(fes_tree()))
    return bytes(etree.tostring(root))


def mangled_bytes(data: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Documents cut short, with bytes inserted, or re-encoded."""
    return st.one_of(
        data,
        st.tuples(data, st.integers(0, 2000)).map(lambda t: t[0][: t[1]]),
        st.tuples(data, st.integers(0, 2000), st.binary(min_size=1, max_size=8)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
        ),
        data.map(lambda d: b'<?xml version="1.0" encoding="UTF-16"?>' + d),
        data.map(lambda d: d.decode("utf-8").encode("utf-16")),
    )

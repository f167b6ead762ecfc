"""Reading request XML safely, the namespaces of WFS documents, and `sub_element` for the
documents written."""

from __future__ import annotations

from lxml import etree

from ogcserve.http.xml_body import XMLLimits, parse_xml

WFS_NS = {
    "2.0.0": "http://www.opengis.net/wfs/2.0",
    "1.1.0": "http://www.opengis.net/wfs",
    "1.0.0": "http://www.opengis.net/wfs",
}
FES_NS = "http://www.opengis.net/fes/2.0"
OGC_NS = "http://www.opengis.net/ogc"
GML_NS = "http://www.opengis.net/gml"
GML32_NS = "http://www.opengis.net/gml/3.2"
GML_NAMESPACES = (GML_NS, GML32_NS)


def parse_body(body: str | bytes, limits: XMLLimits) -> etree._Element:
    """The root element of request XML (a body, a FILTER); OperationParsingFailed for anything
    unsafe, broken or over the request's XML limits (nothing is ever resolved: no DTD, no
    entity, no network)."""
    return parse_xml(body.encode("utf-8") if isinstance(body, str) else body, limits)


def local(element: etree._Element) -> str:
    """The local name of an element (comments and PIs have none)."""
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def children(element: etree._Element) -> list[etree._Element]:
    """Child elements only (no comments, no processing instructions)."""
    return [c for c in element if isinstance(c.tag, str)]


def text(element: etree._Element) -> str:
    """The element's text content, stripped."""
    return "".join(str(t) for t in element.itertext()).strip()


def sub_element(
    parent: etree._Element, tag: str, text: str | None = None, **attrs: str
) -> etree._Element:
    """A child element of `parent` with `text` and attributes (lxml's SubElement plus text)."""
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element

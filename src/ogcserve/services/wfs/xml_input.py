"""Reading request XML safely, and the namespaces WFS requests use."""

from __future__ import annotations

from lxml import etree

from ogcserve.http.request import RequestNotWellFormedError

WFS_NS = {"2.0.0": "http://www.opengis.net/wfs/2.0", "1.1.0": "http://www.opengis.net/wfs",
          "1.0.0": "http://www.opengis.net/wfs"}
FES_NS = "http://www.opengis.net/fes/2.0"
OGC_NS = "http://www.opengis.net/ogc"
GML_NS = "http://www.opengis.net/gml"
GML32_NS = "http://www.opengis.net/gml/3.2"
GML_NAMESPACES = (GML_NS, GML32_NS)

# Nothing in a request may make us resolve anything: no DTD, no entity, no network (XXE,
# billion laughs). A DOCTYPE is refused outright, whatever it declares.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, dtd_validation=False, load_dtd=False,
    huge_tree=False, remove_comments=True, remove_pis=True,
)


def parse_body(body: str | bytes) -> etree._Element:
    """The root element of a request body; OperationParsingFailed for anything unsafe or broken."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise RequestNotWellFormedError("Document type and entity declarations are not accepted")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise RequestNotWellFormedError(f"The XML body is not well formed: {error}") from None
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise RequestNotWellFormedError("Document type declarations are not accepted")
    return root


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

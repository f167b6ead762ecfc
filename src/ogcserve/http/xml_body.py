"""Reading request XML in linear time: never resolve anything, and stop at the first element
that breaks a limit, before any step whose cost grows faster than the document.

lxml parses in linear time, but reading the attributes of an element with n of them costs
n² (40,000 attributes: 4 s), and depth or element counts are unbounded. The document is read
with a pull parser, and each element is checked as it starts: how many attributes and
namespace declarations it has, how deep it is, how many came before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ogcserve.errors import ServiceError


class RequestNotWellFormedError(ServiceError):
    """The request body cannot be parsed (malformed XML, a DTD or entity)."""

    code = "OperationParsingFailed"


class XMLLimitError(RequestNotWellFormedError):
    """Request XML beyond the server's limits (settings `xml_max_*`)."""


@dataclass(frozen=True, slots=True)
class XMLLimits:
    """How large request XML may be (defaults: the settings' defaults)."""

    max_attributes: int = 100
    max_depth: int = 100
    max_elements: int = 1_000_000


_CHUNK = 64 * 1024


def parse_xml(data: bytes, limits: XMLLimits) -> etree._Element:
    """The root element of `data`; OperationParsingFailed for anything unsafe, broken or over
    the limits."""
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data.upper():
        raise RequestNotWellFormedError("Document type and entity declarations are not accepted")
    parser = etree.XMLPullParser(
        events=("start", "end", "start-ns"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = elements = declarations = 0
    try:
        for offset in range(0, max(len(data), 1), _CHUNK):
            parser.feed(data[offset : offset + _CHUNK])
            for event, item in parser.read_events():
                if event == "start-ns":
                    declarations += 1  # they come before the start of their element
                    continue
                if event == "end":
                    depth -= 1
                    continue
                depth += 1
                elements += 1
                assert isinstance(item, etree._Element)
                # len() of the attributes is linear; reading them one by one is not.
                if len(item.attrib) + declarations > limits.max_attributes:
                    raise XMLLimitError(
                        f"An element of the XML body has more than "
                        f"{limits.max_attributes} attributes"
                    )
                declarations = 0
                if depth > limits.max_depth:
                    raise XMLLimitError(
                        f"The XML body nests deeper than {limits.max_depth} elements"
                    )
                if elements > limits.max_elements:
                    raise XMLLimitError(
                        f"The XML body has more than {limits.max_elements} elements"
                    )
        root = parser.close()
    except etree.XMLSyntaxError as error:
        raise RequestNotWellFormedError(f"The XML body is not well formed: {error}") from None
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise RequestNotWellFormedError("Document type declarations are not accepted")
    return root

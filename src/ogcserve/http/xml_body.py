"""Reading request XML in linear time: never resolve anything, and refuse documents over the
limits before any step whose cost grows faster than the document.

lxml parses in linear time, but reading the attributes of an element with n of them costs n²
(40,000 attributes: 4 s), libxml2 slows down on thousands of namespace declarations in one
tag, and a 64 MB body of `<a/>` would become 16 million nodes. So, in C-speed passes:
1. the bytes: an upper bound on the elements (start tags), and the namespace declarations of
   every long tag;
2. libxml2 parses (its own depth limit, 256, holds; nothing is resolved);
3. XPath counts on the tree: attributes per element, depth.
"""

from __future__ import annotations

import re
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


# A tag shorter than this cannot hold more than `max_attributes` declarations (each takes at
# least ` xmlns:p=""`, 10 bytes): only longer ones are looked at.
_BYTES_PER_DECLARATION = 10

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    dtd_validation=False,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: bytes, limits: XMLLimits) -> etree._Element:
    """The root element of `data`; OperationParsingFailed for anything unsafe, broken or over
    the limits."""
    if b"<!DOCTYPE" in data[:4096].upper() or _ENTITY.search(data):
        raise RequestNotWellFormedError("Document type and entity declarations are not accepted")
    # Every element has one start tag: "<" not followed by "/", "!" or "?".
    tags = data.count(b"<") - data.count(b"</") - data.count(b"<!") - data.count(b"<?")
    if tags > limits.max_elements:
        raise XMLLimitError(f"The XML body has more than {limits.max_elements} elements")
    shortest = limits.max_attributes * _BYTES_PER_DECLARATION
    for tag in re.finditer(rb"<[^<>]{%d,}" % shortest, data):
        if tag.group().count(b"xmlns") > limits.max_attributes:
            raise _too_many_attributes(limits)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise RequestNotWellFormedError(f"The XML body is not well formed: {error}") from None
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise RequestNotWellFormedError("Document type declarations are not accepted")
    if root.xpath(f"boolean(//*[count(@*) > {limits.max_attributes}])"):
        raise _too_many_attributes(limits)
    # A path one step deeper than allowed: each step visits one level, linear in all.
    if root.xpath("boolean(/*" + "/*" * limits.max_depth + ")"):
        raise XMLLimitError(f"The XML body nests deeper than {limits.max_depth} elements")
    # libxml2 takes "a:b:c" for a name (a namespace warning, not an error): no namespace-aware
    # reader can name it (lxml's QName refuses it), so the document is refused here, once.
    if root.xpath("boolean(//*[contains(local-name(), ':')] | //@*[contains(local-name(), ':')])"):
        raise RequestNotWellFormedError("The XML body has a name that is not a qualified name")
    return root


_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _too_many_attributes(limits: XMLLimits) -> XMLLimitError:
    return XMLLimitError(
        f"An element of the XML body has more than {limits.max_attributes} attributes"
    )

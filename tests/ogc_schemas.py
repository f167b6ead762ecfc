"""Validation against the official OGC schemas vendored in tests/schemas/wfs_gml (laid out as
their URLs, see its README), offline: every schemas.opengis.net or www.w3.org URL a schema
imports is answered from that folder, anything else fails the test."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "wfs_gml"
_FOLDERS = {
    "http://schemas.opengis.net/": "schemas.opengis.net",
    "http://www.w3.org/": "www.w3.org",
}


class _OfflineResolver(etree.Resolver):
    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        for prefix, folder in _FOLDERS.items():
            if url.startswith(prefix):
                local = url.removeprefix(prefix).replace("2009/01/xml.xsd", "2001/xml.xsd")
                # Served under its URL, so that relative includes come back here too and each
                # file is loaded once (libxml2 tells documents apart by URL).
                data = (SCHEMAS / folder / local).read_bytes()
                return self.resolve_string(data, context, base_url=url)
        raise AssertionError(f"schema not available offline: {url}")


def ogc_schema(imports: dict[str, str]) -> etree.XMLSchema:
    """An XMLSchema importing `namespace -> schema URL` (schemas.opengis.net URLs)."""
    body = "".join(
        f'<xsd:import namespace="{ns}" schemaLocation="{url}"/>' for ns, url in imports.items()
    )
    wrapper = (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:test:wrapper">{body}</xsd:schema>'
    )
    parser = etree.XMLParser()
    parser.resolvers.add(_OfflineResolver())
    return etree.XMLSchema(
        etree.fromstring(wrapper.encode(), parser, base_url="http://test/wrapper.xsd")
    )


def assert_valid(document: etree._Element, xsd: etree.XMLSchema) -> None:
    """Valid, or an AssertionError listing the first errors."""
    if not xsd.validate(document):
        raise AssertionError("\n".join(str(e) for e in list(xsd.error_log)[:10]))

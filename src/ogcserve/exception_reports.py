"""OGC exception documents: WMS/WFS 1.0 ServiceExceptionReport and the OWS ExceptionReport.

Below the services: the OWS services render their errors with them, and so do the HTTP edge
(a request it cannot read) and the pipeline's fallback (an unknown SERVICE).
"""

from __future__ import annotations

import re

from lxml import etree

from ogcserve.errors import ServiceError

OGC_NS = "http://www.opengis.net/ogc"
OWS_NS = {
    "1.0.0": "http://www.opengis.net/ows",
    "1.1.0": "http://www.opengis.net/ows/1.1",
    "2.0.0": "http://www.opengis.net/ows/2.0",
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMAS = {
    "1.3.0": "http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd",
    "1.2.0": "http://schemas.opengis.net/wfs/1.0.0/OGC-exception.xsd",
    "ows1.0.0": "http://schemas.opengis.net/ows/1.0.0/owsExceptionReport.xsd",
    "ows1.1.0": "http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd",
    "ows2.0.0": "http://schemas.opengis.net/ows/2.0/owsExceptionReport.xsd",
}


# Characters XML 1.0 cannot carry (§2.2: control characters, surrogates, U+FFFE/U+FFFF). A
# message or locator may quote the client's text, which may hold any of them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` with each character XML cannot carry written as its escape (\\x01, \\ufffe)."""
    return _NOT_XML.sub(lambda m: repr(m.group(0))[1:-1], text)


def service_exception_report(error: ServiceError, version: str) -> tuple[bytes, str]:
    """WMS 1.1.1 / 1.3.0 (and WFS 1.0's 1.2.0) ServiceExceptionReport."""
    if version == "1.1.1":
        # WMS 1.1.1 §6.9: no namespace; the document is described by a DTD, and the MIME type
        # is application/vnd.ogc.se_xml.
        root = etree.Element("ServiceExceptionReport", version="1.1.1")
        content_type = "application/vnd.ogc.se_xml; charset=utf-8"
    else:
        root = etree.Element(
            f"{{{OGC_NS}}}ServiceExceptionReport",
            version=version,
            nsmap={None: OGC_NS, "xsi": XSI},  # type: ignore[dict-item]
        )
        root.set(f"{{{XSI}}}schemaLocation", f"{OGC_NS} {_SCHEMAS.get(version, _SCHEMAS['1.3.0'])}")
        content_type = "text/xml; charset=utf-8"
    exception = etree.SubElement(
        root,
        f"{{{OGC_NS}}}ServiceException" if version != "1.1.1" else "ServiceException",
        code=error.code,
    )
    if error.locator and version != "1.1.1":  # the WMS 1.1.1 DTD has no locator attribute
        exception.set("locator", xml_safe(error.locator))
    exception.text = xml_safe(error.message)
    return _serialize(root), content_type


def ows_exception_report(
    error: ServiceError, ows_version: str, report_version: str
) -> tuple[bytes, str]:
    """OWS Common ExceptionReport (WFS 1.1/2.0, WCS 1.1+/2.0, and unknown services)."""
    ns = OWS_NS.get(ows_version, OWS_NS["1.1.0"])
    root = etree.Element(
        f"{{{ns}}}ExceptionReport", version=report_version, nsmap={"ows": ns, "xsi": XSI}
    )
    root.set(f"{{{XSI}}}schemaLocation", f"{ns} {_SCHEMAS['ows' + ows_version]}")
    if ows_version == "1.0.0":
        root.set("language", "en")
    else:
        root.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    exception = etree.SubElement(root, f"{{{ns}}}Exception", exceptionCode=error.code)
    if error.locator:
        exception.set("locator", xml_safe(error.locator))
    etree.SubElement(exception, f"{{{ns}}}ExceptionText").text = xml_safe(error.message)
    return _serialize(root), "text/xml; charset=utf-8"


def _serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))

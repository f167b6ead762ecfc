"""Bad requests get their OGC code, the right document format and a 4xx, never a 500."""

from __future__ import annotations

import pytest
from lxml import etree

from ogcserve.server import Server
from ogcserve.testing import call, client

OGC = "{http://www.opengis.net/ogc}"
OWS11 = "{http://www.opengis.net/ows/1.1}"
OWS10 = "{http://www.opengis.net/ows}"


def _sxr(body: bytes, ns: str = OGC) -> etree._Element:
    root = etree.fromstring(body)
    assert root.tag == f"{ns}ServiceExceptionReport"
    return root.find(f"{ns}ServiceException")  # type: ignore[return-value]


def test_unknown_service(server: Server) -> None:
    result = call(server, "/ows?SERVICE=NOPE&REQUEST=GetMap")
    assert result.status == 400
    root = etree.fromstring(result.body)
    exc = root.find(f"{OWS11}Exception")
    assert exc is not None and exc.get("exceptionCode") == "InvalidParameterValue"
    assert exc.get("locator") == "SERVICE"


def test_missing_service(server: Server) -> None:
    result = call(server, "/ows?REQUEST=GetCapabilities")
    assert result.status == 400
    assert b'exceptionCode="MissingParameterValue"' in result.body


@pytest.mark.parametrize(
    ("query", "code", "locator"),
    [
        ("SERVICE=WMS&VERSION=1.3.0", "MissingParameterValue", "REQUEST"),
        ("SERVICE=WMS&VERSION=1.3.0&REQUEST=Explode", "OperationNotSupported", "REQUEST"),
        ("SERVICE=WMS&REQUEST=GetMap", "MissingParameterValue", "VERSION"),
        ("SERVICE=WMS&REQUEST=GetMap&VERSION=9.9.9", "InvalidParameterValue", "VERSION"),
    ],
)
def test_wms_1_3_0_errors(server: Server, query: str, code: str, locator: str) -> None:
    _with_get_map(server)
    result = call(server, f"/ows?{query}")
    assert 400 <= (result.status or 0) < 500
    assert result.headers["Content-Type"].startswith("text/xml")
    exc = _sxr(result.body)
    assert exc.get("code") == code and exc.get("locator") == locator
    assert exc.text


def _with_get_map(server: Server) -> None:
    """WMS with one operation, to exercise the OWS dispatcher's checks around it."""
    from ogcserve.services.ows.service import OWSService

    def get_map(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.response.write("map")

    server.services.unregister("WMS")
    for version, fmt in (("1.3.0", ("sxr", "1.3.0")), ("1.1.1", ("sxr", "1.1.1"))):
        server.services.register(
            OWSService("WMS", version, ("1.3.0", "1.1.1"), {"GetMap": get_map}, fmt)
        )


def test_ows_dispatch_runs_the_operation_case_insensitively(server: Server) -> None:
    _with_get_map(server)
    assert call(server, "/ows?service=wms&request=getmap&version=1.1.1").body == b"map"


def test_wms_1_1_1_error_format(server: Server) -> None:
    result = call(server, "/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=Explode")
    assert result.status == 400
    assert result.headers["Content-Type"].startswith("application/vnd.ogc.se_xml")
    exc = _sxr(result.body, ns="")
    assert exc.get("code") == "OperationNotSupported"
    assert etree.fromstring(result.body).get("version") == "1.1.1"


@pytest.mark.parametrize(
    ("version", "ns", "report_version"),
    [("2.0.0", OWS11, "2.0.0"), ("1.1.0", OWS10, "1.1.0")],
)
def test_wfs_ows_exception_report(
    server: Server, version: str, ns: str, report_version: str
) -> None:
    result = call(server, f"/ows?SERVICE=WFS&VERSION={version}&REQUEST=Explode")
    assert result.status == 400
    root = etree.fromstring(result.body)
    assert root.tag == f"{ns}ExceptionReport" and root.get("version") == report_version
    exc = root.find(f"{ns}Exception")
    assert exc is not None and exc.get("exceptionCode") == "OperationNotSupported"
    assert exc.findtext(f"{ns}ExceptionText")


def test_wfs_1_0_and_wcs_use_service_exception_report_1_2_0(server: Server) -> None:
    for service, version in (("WFS", "1.0.0"), ("WCS", "1.0.0")):
        result = call(server, f"/ows?SERVICE={service}&VERSION={version}&REQUEST=Explode")
        root = etree.fromstring(result.body)
        assert root.tag == f"{OGC}ServiceExceptionReport" and root.get("version") == "1.2.0"


def test_unknown_project(server: Server) -> None:
    for url in (
        "/ows?SERVICE=WMS&REQUEST=GetCapabilities&MAP=/etc/passwd",
        "/ows/nope?SERVICE=WMS",
    ):
        result = call(server, url)
        assert result.status == 404
        assert b"passwd" not in result.body


def test_malformed_xml_post(server: Server) -> None:
    response = client(server).post(
        "/ows",
        content=b"<GetFeature service='WFS'><unclosed>",
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 400
    assert "OperationParsingFailed" in response.text


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<GetFeature service="WFS">&x;</GetFeature>',
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
        b'&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<GetFeature service="WFS">&c;</GetFeature>',
    ],
)
def test_xml_with_dtd_or_entities_is_refused(server: Server, payload: bytes) -> None:
    response = client(server).post("/ows", content=payload, headers={"Content-Type": "text/xml"})
    assert response.status_code == 400
    assert "root:" not in response.text


def test_xml_post_gives_request_and_root_attributes(server: Server) -> None:
    body = b'<GetCapabilities service="WMS" version="1.3.0"/>'
    result = call(server, "/ows", method="POST", body=body, headers={"Content-Type": "text/xml"})
    params = result.ctx.request.params
    assert params["REQUEST"] == "GetCapabilities" and params["SERVICE"] == "WMS"
    assert params["REQUEST_BODY"] == body.decode()


def test_form_post_is_read_as_kvp(server: Server) -> None:
    result = call(
        server,
        "/ows",
        method="POST",
        body=b"SERVICE=WMS&REQUEST=Nope&VERSION=1.3.0",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert b'code="OperationNotSupported"' in result.body


def test_body_too_large() -> None:
    from ogcserve.testing import make_server

    response = client(make_server(max_body_bytes=10)).post("/ows", content=b"x" * 100)
    assert response.status_code == 413


def test_health_and_plugins_endpoints(server: Server) -> None:
    http = client(server)
    assert http.get("/health").json()["status"] == "ok"
    report = http.get("/-/plugins").json()
    assert {"WMS 1.3.0", "WFS 2.0.0"} <= set(report["core"]["services"])

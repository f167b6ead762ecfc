"""Bad input is refused with an OGC error, without resolving, reading or writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfs_support import NS, exception_code, get

from ogcserve.server import Server
from ogcserve.testing import client

GF = "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature"


def post_http(server: Server, body: bytes):  # type: ignore[no-untyped-def]
    return client(server).post("/ows", content=body, headers={"Content-Type": "text/xml"})


def test_malformed_xml(server: Server) -> None:
    r = post_http(
        server,
        b'<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        b'service="WFS" version="2.0.0"><wfs:Query typeNames="cities">',
    )
    assert r.status_code == 400 and "OperationParsingFailed" in r.text


def test_external_entity_is_not_resolved(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
        f'<wfs:GetFeature xmlns:wfs="{NS["wfs"]}" service="WFS" version="2.0.0">'
        '<wfs:Query typeNames="cities&e;"/></wfs:GetFeature>'
    ).encode()
    r = post_http(server, body)
    assert r.status_code == 400 and "TOP-SECRET" not in r.text
    assert "OperationParsingFailed" in r.text


def test_billion_laughs_is_refused(server: Server) -> None:
    lol = "".join(
        f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 10 if i else "lol"}">' for i in range(10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE x [{lol}]>'
        f'<wfs:GetFeature xmlns:wfs="{NS["wfs"]}" service="WFS" version="2.0.0">'
        '<wfs:Query typeNames="&l9;"/></wfs:GetFeature>'
    ).encode()
    r = post_http(server, body)
    assert r.status_code == 400 and len(r.content) < 2000


def test_dtd_in_a_kvp_filter_is_refused(server: Server) -> None:
    from urllib.parse import quote

    f = (
        '<!DOCTYPE f [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo>'
        "<fes:ValueReference>name</fes:ValueReference><fes:Literal>&e;</fes:Literal>"
        "</fes:PropertyIsEqualTo></fes:Filter>"
    )
    r = get(server, f"{GF}&TYPENAMES=countries&FILTER={quote(f)}")
    assert r.status == 400 and b"root:" not in r.body


@pytest.mark.parametrize(
    ("query", "code", "status"),
    [
        ("TYPENAMES=atlantis", "LayerNotDefined", 400),
        ("TYPENAMES=elevation", "LayerNotDefined", 400),
        ("TYPENAMES=countries&PROPERTYNAME=nope", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&SORTBY=nope", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&SORTBY=name SIDEWAYS", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&COUNT=-1", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&COUNT=ten", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&STARTINDEX=99999999999999999999", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&STARTINDEX=-5", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&OUTPUTFORMAT=image/png", "InvalidFormat", 400),
        ("TYPENAMES=countries&SRSNAME=EPSG:999999", "InvalidCRS", 400),
        ("TYPENAMES=countries&BBOX=1,2,3", "InvalidParameterValue", 400),
        ("TYPENAMES=countries&RESULTTYPE=everything", "InvalidParameterValue", 400),
        ("", "MissingParameterValue", 400),
    ],
)
def test_refused_parameters(server: Server, query: str, code: str, status: int) -> None:
    r = get(server, f"{GF}&{query}")
    assert r.status == status and exception_code(r) == code


def test_huge_but_valid_startindex_is_empty(server: Server) -> None:
    from wfs_support import xml

    root = xml(get(server, f"{GF}&TYPENAMES=cities&STARTINDEX=1000000000"))
    assert root.get("numberReturned") == "0" and root.get("numberMatched") == "243"


def test_error_formats_per_version(server: Server) -> None:
    v2 = get(server, "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=atlantis")
    v11 = get(server, "SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME=atlantis")
    v10 = get(server, "SERVICE=WFS&VERSION=1.0.0&REQUEST=GetFeature&TYPENAME=atlantis")
    assert b"http://www.opengis.net/ows/1.1" in v2.body
    assert b'"http://www.opengis.net/ows"' in v11.body
    assert b"ServiceExceptionReport" in v10.body

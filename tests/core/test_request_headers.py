"""Request headers as plugins read them (issue 11, item 3): names that differ stay apart, a
repeated header keeps every value, and the CGI-style environment leaves out names with '_'
unless `allow_underscore_headers`. And `max_parameters`, counted before parsing. In process;
over a real connection: tests/e2e/test_header_spoofing.py and test_request_head.py."""

from __future__ import annotations

from lxml import etree

from ogcserve.http.request import Headers, ServerRequest, TooManyParametersError, header_environ
from ogcserve.testing import client, make_server

OWS = "{http://www.opengis.net/ows/1.1}"


def test_repeated_headers_keep_every_value_in_order() -> None:
    headers = Headers([("X-Role", "user"), ("x-role", "admin"), ("Accept", "a/b")])
    assert headers["X-ROLE"] == "user, admin"
    assert headers["accept"] == "a/b"
    assert list(headers) == ["X-Role", "Accept"]  # the first spelling, once


def test_repeated_cookies_are_joined_as_cookies() -> None:
    assert Headers([("Cookie", "a=1"), ("cookie", "b=2")])["Cookie"] == "a=1; b=2"


def test_underscore_and_hyphen_names_are_different_headers() -> None:
    headers = Headers([("X_Role", "admin"), ("X-Role", "user")])
    assert headers["X-Role"] == "user"
    assert headers["X_Role"] == "admin"
    headers["X-Role"] = "auditor"  # setting (a plugin's setRequestHeader) replaces
    assert headers["x-role"] == "auditor" and headers["x_role"] == "admin"


def test_the_environment_leaves_underscore_headers_out() -> None:
    headers = Headers([("X_Role", "admin"), ("X-Role", "user"), ("Accept-Language", "fr")])
    assert header_environ(headers) == {"HTTP_X_ROLE": "user", "HTTP_ACCEPT_LANGUAGE": "fr"}
    assert header_environ(Headers([("X_Role", "admin")])) == {}


def test_allowed_underscore_headers_are_joined_with_their_twin_never_chosen() -> None:
    for lines, joined in (
        ([("X_Role", "admin"), ("X-Role", "user")], "admin, user"),
        ([("X-Role", "user"), ("X_Role", "admin")], "user, admin"),
    ):
        env = header_environ(Headers(lines), allow_underscores=True)
        assert env == {"HTTP_X_ROLE": joined}


def test_build_maps_headers_and_lets_the_given_environ_win() -> None:
    request = ServerRequest.build(
        "GET",
        "http://h/ows",
        headers=[("X-Role", "user"), ("X-Role", "admin"), ("A_B", "1")],
        environ={"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "proxy"},
    )
    assert request.environ["HTTP_X_ROLE"] == "user, admin"
    assert "HTTP_A_B" not in request.environ
    assert request.environ["REMOTE_ADDR"] == "10.0.0.1"
    allowed = ServerRequest.build(
        "GET", "http://h/ows", headers=[("A_B", "1")], allow_underscore_headers=True
    )
    assert allowed.environ["HTTP_A_B"] == "1"


def test_parameters_are_counted_before_they_are_parsed() -> None:
    ok = ServerRequest.build("GET", "http://h/ows?" + "&".join(["a=1"] * 5), max_parameters=5)
    assert ok.parameter("a") == "1"
    for build in (
        lambda: ServerRequest.build("GET", "http://h/ows?" + "&a=1" * 5, max_parameters=5),
        lambda: ServerRequest.build(
            "POST",
            "http://h/ows",
            body=b"&a=1" * 5,
            max_parameters=5,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ):
        try:
            build()
        except TooManyParametersError as error:
            assert "max_parameters" in error.message
        else:
            raise AssertionError("more parameters than max_parameters were accepted")


def test_too_many_parameters_get_an_ogc_exception() -> None:
    with client(make_server(max_parameters=1000)) as http:
        many = "&a=1" * 5000
        for response in (
            http.get("/ows?SERVICE=WMS&REQUEST=GetCapabilities" + many),
            http.post(
                "/ows",
                content=("SERVICE=WMS&REQUEST=GetCapabilities" + many).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
        ):
            # None of the parameters was read, SERVICE neither: the OWS ExceptionReport.
            assert response.status_code == 400
            report = etree.fromstring(response.content)
            exception = report.find(f"{OWS}Exception")
            assert exception is not None
            assert exception.get("exceptionCode") == "InvalidParameterValue"
            assert "1000 parameters" in "".join(exception.itertext())
        fine = http.get("/ows?SERVICE=WMS&REQUEST=GetCapabilities" + "&a=1" * 900)
        assert fine.status_code == 200 and b"WMS_Capabilities" in fine.content

"""Cross-origin requests from browsers: the default (any origin may read), preflights, a list
of origins, credentials, and the settings that refuse what would be unsafe."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from ogcserve.context import RequestContext
from ogcserve.plugins import RequestFilter, ServerInterface
from ogcserve.settings import Settings
from ogcserve.testing import client, make_server

CAPS = "/ows?SERVICE=WMS&REQUEST=GetCapabilities"
PAGE = "https://maps.example.org"


def _preflight(origin: str = PAGE, method: str = "GET") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type",
    }


def test_by_default_any_page_may_read_the_answers() -> None:
    http = client(make_server())
    answer = http.get(CAPS, headers={"Origin": PAGE})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    assert "vary" not in answer.headers  # the same answer for every origin
    # a request without Origin (not from a page) gets nothing added
    assert "access-control-allow-origin" not in http.get(CAPS).headers


def test_a_preflight_is_answered_without_reaching_the_services() -> None:
    answer = client(make_server()).options(CAPS, headers=_preflight())
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-methods"] == "GET, HEAD"
    assert answer.headers["access-control-allow-headers"] == "Content-Type"
    assert answer.headers["access-control-max-age"] == "3600"


def test_errors_carry_the_header_too() -> None:
    # a page must be able to read the exception report of a failed GetMap
    answer = client(make_server()).get("/ows?SERVICE=WMS&REQUEST=Nope", headers={"Origin": PAGE})
    assert answer.status_code == 400 and answer.headers["access-control-allow-origin"] == "*"


def test_listed_origins_are_echoed_and_others_get_nothing() -> None:
    http = client(
        make_server(
            cors_origins=[PAGE, "http://localhost:5173"],
            cors_methods=["GET", "POST"],
            cors_headers=["Content-Type", "X-Role"],
        )
    )
    listed = http.get(CAPS, headers={"Origin": "http://localhost:5173"})
    assert listed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert listed.headers["vary"] == "Origin"
    other = http.get(CAPS, headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"
    # caches must not reuse an answer without Origin for a page either
    assert http.get(CAPS).headers["vary"] == "Origin"
    preflight = http.options(CAPS, headers=_preflight(method="POST"))
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, POST"
    assert preflight.headers["access-control-allow-headers"] == "Content-Type, X-Role"
    refused = http.options(CAPS, headers=_preflight(origin="https://evil.example"))
    assert refused.status_code == 204
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-methods" not in refused.headers


def test_credentials_only_with_listed_origins() -> None:
    http = client(make_server(cors_origins=[PAGE], cors_allow_credentials=True))
    answer = http.get(CAPS, headers={"Origin": PAGE})
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert answer.headers["access-control-allow-credentials"] == "true"
    with pytest.raises(ValidationError, match="explicit cors_origins"):
        Settings(cors_allow_credentials=True)  # with the default "*"


@pytest.mark.parametrize("origins", [["*", PAGE], ["maps.example.org"], [PAGE + "/"]])
def test_settings_refuse_origins_that_mean_nothing(origins: list[str]) -> None:
    with pytest.raises(ValidationError, match="cors_origins"):
        Settings(cors_origins=origins)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OGCSERVE_CORS_ORIGINS", f'["{PAGE}"]')
    monkeypatch.setenv("OGCSERVE_CORS_ALLOW_CREDENTIALS", "true")
    settings = Settings()
    assert settings.cors_origins == [PAGE] and settings.cors_allow_credentials


def test_cors_off_leaves_options_to_the_pipeline() -> None:
    http = client(make_server(cors_origins=[]))
    answer = http.options(CAPS, headers=_preflight())
    assert "access-control-allow-origin" not in answer.headers
    assert answer.status_code != 204  # the WMS answered (no operation for OPTIONS)
    assert "access-control-allow-origin" not in http.get(CAPS, headers={"Origin": PAGE}).headers


def test_a_plugin_answering_cors_itself_is_left_alone() -> None:
    class OwnCors(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> None:
            ctx.response.set_header("Access-Control-Allow-Origin", "https://only.example")
            ctx.response.set_header("Vary", "Accept-Language")

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(OwnCors())

    answer = client(make_server(plugins=[setup])).get(CAPS, headers={"Origin": PAGE})
    assert answer.headers["access-control-allow-origin"] == "https://only.example"
    assert answer.headers["vary"] == "Accept-Language"


def test_vary_of_an_answer_gains_origin() -> None:
    class Varies(RequestFilter):
        def on_response_complete(self, ctx: RequestContext) -> None:
            ctx.response.set_header("Vary", "Accept-Language")

    def setup(iface: ServerInterface) -> None:
        iface.register_filter(Varies())

    http = client(make_server(plugins=[setup], cors_origins=[PAGE]))
    assert http.get(CAPS, headers={"Origin": PAGE}).headers["vary"] == "Accept-Language, Origin"


@pytest.mark.parametrize("field", ["cors_methods", "cors_headers"])
def test_settings_refuse_what_cannot_be_a_header(field: str) -> None:
    with pytest.raises(ValidationError, match="not an HTTP method or header name"):
        Settings(**{field: ["GET\r\nX-Injected: 1"]})


def test_serve_refuses_credentials_with_any_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    from ogcserve.cli import main

    for name in (
        "OGCSERVE_PROJECTS",
        "OGCSERVE_PLUGIN_PATHS",
        "OGCSERVE_LOG_LEVEL",
        "OGCSERVE_ACCESS_LOG",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
    ):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # serve sets them: restored after
    monkeypatch.setenv("OGCSERVE_CORS_ALLOW_CREDENTIALS", "true")
    with pytest.raises(SystemExit, match=r"(?s)invalid settings .*explicit cors_origins"):
        main(["serve"])
